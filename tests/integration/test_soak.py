"""The soak's short form (bench.soak has the long one): 200 headless transactions of mixed
card-less items with faults on the kiosk's core against the simulator, measured after a
warm-up of 50. Nothing may be left unsettled and nothing may grow: descriptors and threads not
at all, memory by less than bench.soak's goal for 2,000 (5 MB), the disk by what the journal
keeps (about 1 MB per 1,000 transactions, retention folding it after journal_days)."""

from __future__ import annotations

import os

import pytest

from bench.soak import MIX, soak
from kiosk.pin import hash_pin, verify_pin


# Alone, after the parallel part: it measures this process's own growth, which the other
# worker's load skews.
@pytest.mark.serial
def test_two_hundred_mixed_transactions_with_faults_leave_nothing_growing(tmp_path):
    # A technician signed in before (their PIN's scrypt check frees a 16 MiB block): without
    # kiosk.allocator's fixed threshold glibc then keeps every freed block under 16 MiB, and
    # the process grew 13-28 MB over the 150 measured transactions.
    assert verify_pin("246810", hash_pin("246810"))
    result = soak(200, 50, tmp_path)
    assert result["errors"] == 0, result["error_samples"]
    assert result["unfinished"] == 0
    assert sum(result["outcomes"].values()) == 200
    assert {name.split(":")[0] for name in result["outcomes"]} == {c.__name__ for c in MIX}
    assert result["fd_growth"] <= 0 and result["threads_growth"] <= 0, result
    assert result["pool_threads"] <= min(32, (os.cpu_count() or 1) + 4)  # the executor's bound
    assert result["rss_growth_mb"] < 5.0
    assert result["disk_growth_mb_per_1000"] < 5.0
