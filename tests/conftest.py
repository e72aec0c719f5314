"""The suite on two workers (`scripts/test.sh`: pytest-xdist, `--dist loadfile`).

What the workers share on one machine, and how they keep out of each other's way:
- the card: vpcd has two card slots, so worker gw0 uses slot 0 and gw1 slot 1 (KIOSK_VPCD_SLOT,
  which the simulator and the kiosk both read); a chip test never meets the other worker's card;
- a module's fixtures: every test of a file runs on the same worker (--dist loadfile), so a
  module fixture that starts a kiosk or renders a gallery runs once. (Not loadgroup: with
  pytest 9.2 xdist 3.8 can no longer rename node ids, so its groups are silently ignored.)
  A session fixture runs once per worker that needs it;
- pcscd itself: a test that restarts it is marked `serial` and runs after the parallel part;
- displays: simulator.xvfb lets Xvfb choose a free display itself (-displayfd);
- the cores: a kiosk's embedded simulator runs at its own priority, not nice 10 as for one
  kiosk on its machine (kiosk.embedded_simulator): beside the other worker's kiosk it would
  get a tenth of a core, slower than any device (bench.frames measures the nice one).
"""

from __future__ import annotations

import os

import pytest

from simulator.pcscd import VPCD_SLOTS

# The longest files first, so neither worker is left with a long one at the end (the workers
# take files in collection order). From the suite's --durations on this machine.
_LONG_FIRST = ("tests/update/", "tests/screens/test_hall_screens_e2e.py",
               "tests/e2e/test_citizen_experience_e2e.py", "tests/integration/test_crash_recovery.py",
               "tests/e2e/test_endorsement_e2e.py", "tests/videocall/test_call_chromium.py",
               "tests/integration/test_soak.py", "tests/videocall/test_call_overlay_layout.py")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("KIOSK_SIMULATOR_NICENESS", "0")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        index = int(worker[2:])
        if index >= VPCD_SLOTS:
            raise pytest.UsageError(f"at most {VPCD_SLOTS} workers: one vpcd card slot each")
        os.environ["KIOSK_VPCD_SLOT"] = str(index)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((n for n, prefix in enumerate(_LONG_FIRST) if path.startswith(prefix)),
                len(_LONG_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_rank)  # stable: a file's tests keep their order
