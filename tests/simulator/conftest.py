"""A real `kiosk-sim run` process shared by the simulator tests that drive it from outside."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.crash_harness import SimulatorProcess
from tests.simulator.running import RunningSimulator


@pytest.fixture(scope="session")
def running_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    process = SimulatorProcess(tmp_path_factory.mktemp("kiosk-sim"))
    endpoints = process.start()
    try:
        yield RunningSimulator(process.state_dir, endpoints)
    finally:
        process.stop()
