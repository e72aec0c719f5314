"""What the kiosk keeps across restarts: how the last run ended, and the operators' service order."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kiosk.run_state import (
    PreviousRun,
    RunRecord,
    ServiceOrderFile,
    boot_id,
    systemd_restarts,
    systemd_unit,
)
from wire.fleet import ServiceOrder, ServiceState


def test_a_run_that_never_recorded_its_end_is_reported_unclean(tmp_path):
    record = RunRecord(tmp_path)
    first = record.begin(now=100.0)
    assert first.previous is PreviousRun.FIRST
    # Killed (SIGKILL, power cut, watchdog): the marker still says "running".
    second = record.begin(now=200.0)
    assert (second.previous, second.previous_started_at) == (PreviousRun.UNCLEAN, 100.0)
    record.end(started_at=second.started_at)
    assert record.begin(now=300.0).previous is PreviousRun.CLEAN
    record.end("KeyError", started_at=300.0)
    crashed = record.begin(now=400.0)
    assert (crashed.previous, crashed.previous_reason) == (PreviousRun.CRASHED, "KeyError")


def test_a_marker_cut_short_counts_as_an_unclean_end(tmp_path):
    (tmp_path / "run-marker.json").write_text('{"state": "cle')
    assert RunRecord(tmp_path).begin().previous is PreviousRun.UNCLEAN
    assert json.loads((tmp_path / "run-marker.json").read_text())["state"] == "running"


def test_the_service_order_survives_in_the_state_dir_and_a_bad_file_is_not_trusted(tmp_path):
    saved = ServiceOrderFile(tmp_path)
    assert saved.load() is None
    order = ServiceOrder(ServiceState.OUT_OF_SERVICE, 7)
    saved.save(order)
    assert ServiceOrderFile(tmp_path).load() == order
    (tmp_path / "service-order.json").write_text('{"state": "sideways", "revision": 1}')
    assert ServiceOrderFile(tmp_path).load() is None


def test_systemd_unit_is_read_from_the_cgroup_and_outside_systemd_there_is_no_count(tmp_path):
    v2 = tmp_path / "v2"
    v2.write_text("0::/system.slice/kiosk.service\n")
    assert systemd_unit(v2) == "kiosk.service"
    v1 = tmp_path / "v1"
    v1.write_text("4:memory:/x\n1:name=systemd:/system.slice/kiosk.service\n0::/\n")
    assert systemd_unit(v1) == "kiosk.service"
    shell = tmp_path / "shell"
    shell.write_text("0::/user.slice/user-1000.slice/session-3.scope\n")
    assert systemd_unit(shell) is None
    if Path("/proc/1/comm").read_text().strip() != "systemd":
        # This machine has no systemd: the count is unknown, not 0.
        assert systemd_restarts() is None
        assert systemd_restarts("kiosk.service") is None


def test_boot_id_is_the_kernels():
    if os.path.exists("/proc/sys/kernel/random/boot_id"):
        assert len(boot_id()) == 36 and boot_id() == boot_id()
    assert boot_id(Path("/nonexistent")) == ""
