"""A power cut at every step of an update: the kiosk boots a working version every time, the
update then finishes by itself, and the journal is untouched.

Each step is a crash point (kiosk.update.guard.CrashPoints, like the journal's crash_after): the
process that reaches it SIGKILLs itself, every other process dies with it (the power goes),
and the machine boots again with the instrumentation off. The full matrix is `slow`; a sample
runs every time."""

from __future__ import annotations

import pytest

from tests.update.machine import Machine
from tests.update.service_manager import ServiceManager
from tests.update.test_rollout import UP_S, request

# (step, who reaches it). Steps of the updater and the kiosk are set in kiosk.toml's [debug]
# update_crash_after; the guard's with its --crash-after.
APP_ONLY_STEPS = [
    ("downloaded", "updater"),
    ("verified", "updater"),
    ("installing_file:20", "updater"),
    ("files_written", "updater"),
    ("extracted", "updater"),
    ("slot_published", "updater"),
    ("staged", "updater"),
    ("activation_written", "kiosk"),
    ("guard_trial_recorded", "guard"),
    ("guard_switched", "guard"),
    ("guard_committed", "guard"),
]
# A release with a new runtime (one more dependency): 140 MB to download and 400 MB to unpack.
NEW_RUNTIME_STEPS = [
    ("download_chunk_synced:3", "updater"),
    ("installing_file:2000", "updater"),
    ("extracted", "updater"),
    ("runtime_published", "updater"),
    ("slot_published", "updater"),
]
SAMPLE = {"installing_file:20", "slot_published", "activation_written", "guard_switched"}


def boot(manager_for, machine: Machine, guard_crash: str = "") -> ServiceManager:
    return manager_for(machine, guard_timer_s=1.0, guard_crash_after=guard_crash)


def power_cut_at(step: str, who: str, machine: Machine, manager_for, served, release) -> None:
    """Runs the update until `step`, where the power goes; then boots with no crash point."""
    if who != "guard":
        machine.write_config(crash_after=step)
    manager = boot(manager_for, machine, step if who == "guard" else "")
    manager.wait_until(lambda: manager.running_version() == "1.0.0", UP_S, "1.0.0 up")
    request(machine, served, release)
    manager.wait_until(lambda: manager.killed, UP_S + 240, f"the power cut at {step}")
    manager.power_cut()
    assert manager.killed[0] == who, manager.describe()
    machine.write_config(crash_after="")


def boots_then_finishes(machine: Machine, manager_for, version: str, journal: list) -> None:
    manager = boot(manager_for, machine)
    manager.wait_until(lambda: manager.running(), UP_S, "a working version up after the cut")
    assert manager.running_version() in ("1.0.0", version)
    manager.wait_until(lambda: manager.running_version() == version
                       and machine.release(machine.boot_state().get("good")).get("version")
                       == version, UP_S + 240, f"{version} installed and kept")
    assert not manager.failed
    manager.shutdown()
    assert machine.journal_rows() == journal


def params(steps, sample=None):
    return [pytest.param(step, who, id=step.split(":")[0],
                         marks=() if sample is not None and step in sample else pytest.mark.slow)
            for step, who in steps]


@pytest.mark.parametrize("step,who", params(APP_ONLY_STEPS, SAMPLE))
def test_a_power_cut_during_an_update_boots_a_working_version(machine, manager_for, served,
                                                              releases, step, who):
    journal = machine.journal_rows()
    power_cut_at(step, who, machine, manager_for, served, releases.get("1.1.0"))
    boots_then_finishes(machine, manager_for, "1.1.0", journal)


@pytest.mark.parametrize("step,who", params(NEW_RUNTIME_STEPS))
def test_a_power_cut_while_installing_a_new_runtime_boots_a_working_version(
        machine, manager_for, served, releases, step, who):
    journal = machine.journal_rows()
    release = releases.get("1.1.0", include_runtime=True, extra_dependency="pytest>=8,<10")
    power_cut_at(step, who, machine, manager_for, served, release)
    boots_then_finishes(machine, manager_for, "1.1.0", journal)
    runtimes = list((machine.root / "opt/kiosk/runtimes").iterdir())
    assert len(runtimes) == 2  # the old release's and the new one's; no half-made third


@pytest.mark.parametrize("step", ["guard_rollback_recorded"])
def test_a_power_cut_during_a_rollback_boots_the_good_version(machine, manager_for, served,
                                                              releases, step):
    journal = machine.journal_rows()
    power_cut_at(step, "guard", machine, manager_for, served,
                 releases.get("1.1.0", broken="crash_at_import"))
    manager = boot(manager_for, machine)
    manager.wait_until(lambda: manager.running_version() == "1.0.0", UP_S, "1.0.0 back")
    state = machine.boot_state()
    assert state["trial"] is None and state["good"] == "a"
    assert state["last_result"]["outcome"] == "rolled_back"
    assert [s.version for s in manager.starts] == ["1.0.0"]  # the bad release is not retried
    manager.shutdown()
    assert machine.journal_rows() == journal
