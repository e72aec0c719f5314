"""The slot guard, run as kiosk.service and its timer run it, on a kiosk's real folders: a
release staged by the real updater, health reported by the kiosk's own agent."""

from __future__ import annotations

import ast
import shlex
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import UpdateConfig, load_config
from kiosk.journal import Journal
from kiosk.update.agent import UpdateAgent, write_kiosk_file
from kiosk.update.guard import Outcome, RollbackReason, SlotLock
from kiosk.update.layout import layout_for
from tests.systemd.unitfiles import last, load, values, words
from tests.update.machine import GUARD_SOURCE as GUARD
from tests.update.machine import Machine


def layout(machine: Machine):
    return layout_for(load_config(machine.config,
                                  {"state_dir": str(machine.root / "var/lib/kiosk")}))


def stage(machine: Machine, served, release, request_id: str = "r1") -> dict:
    machine.request(served.url(release.bundle.name), release.digest, request_id)
    state = machine.run_updater()
    assert state["phase"] == "staged", state
    return state["staged"]


def ask(machine: Machine, staged: dict) -> None:
    """What the kiosk writes between citizens, before it exits to restart into the release."""
    write_kiosk_file(layout(machine), layout(machine).activation_file,
                     {"staged_id": staged["staged_id"], "at": time.time()})


def report(machine: Machine, slot: str, *reached: str) -> None:
    """The kiosk's agent, running from `slot`, reporting what it reached."""
    config = load_config(machine.config, {"state_dir": str(machine.root / "var/lib/kiosk")})
    journal = Journal(config.journal_path, config.kiosk_id)
    try:
        agent = UpdateAgent(config, lambda: False, journal, lambda: None, fleet_expected=False,
                            prefix=str(machine.root / f"opt/kiosk/slots/{slot}/venv"))
        for check in reached:
            getattr(agent, check)()
    finally:
        journal.close()


def ended(machine: Machine, result: str, code: str, status: str) -> None:
    """ExecStopPost= after a run, with systemd's variables."""
    machine.guard("stopped", env={"SERVICE_RESULT": result, "EXIT_CODE": code,
                                  "EXIT_STATUS": status})


@pytest.fixture
def staged(machine, served, releases) -> dict:
    return stage(machine, served, releases.get("1.1.0"))


def test_the_first_release_on_an_empty_machine_is_good_at_once(machine):
    state = machine.boot_state()
    assert state["good"] == "a" and state["trial"] is None
    assert state["last_result"]["outcome"] == Outcome.INSTALLED.value
    assert machine.current_slot() == "a"


def test_a_staged_release_waits_until_the_kiosk_asks_for_it(machine, staged):
    machine.guard("boot")  # e.g. a crash or reboot of the old version: no switch
    assert machine.current_slot() == "a" and machine.boot_state()["trial"] is None
    ask(machine, staged)
    machine.guard("boot")
    assert machine.current_slot() == "b"
    trial = machine.boot_state()["trial"]
    assert trial["version"] == "1.1.0" and trial["from_version"] == "1.0.0"
    assert trial["tries_left"] == machine.start_tries - 1  # this start was the first


def test_a_version_that_keeps_failing_is_rolled_back_when_its_starts_are_used(machine, staged):
    ask(machine, staged)
    for _ in range(machine.start_tries):
        machine.guard("boot")
        assert machine.current_slot() == "b"
        ended(machine, "exit-code", "exited", "1")
    said = machine.guard("boot")
    assert "rolled back 1.1.0 (start_failed)" in said
    assert machine.current_slot() == "a"
    state = machine.boot_state()
    assert state["trial"] is None and state["good"] == "a"
    result = state["last_result"]
    assert result["outcome"] == Outcome.ROLLED_BACK.value
    assert result["reason"] == RollbackReason.START_FAILED.value
    assert result["back_to"] == "1.0.0"
    assert "2 run(s) ended: exit-code (exited 1)" in result["detail"]
    assert "never reported any health" in result["detail"]
    # The kiosk's old request stays on disk; the same release is never tried again.
    machine.guard("boot")
    assert machine.current_slot() == "a" and machine.boot_state()["trial"] is None


def test_a_version_not_healthy_by_its_deadline_is_rolled_back(machine, served, releases):
    machine.write_config(deadline_s=1.0)
    staged = stage(machine, served, releases.get("1.1.0"))
    ask(machine, staged)
    machine.guard("boot")
    report(machine, "b", "devices_probed")  # up, but the attract screen never came
    time.sleep(1.2)
    machine.guard("boot")
    result = machine.boot_state()["last_result"]
    assert result["reason"] == RollbackReason.NOT_HEALTHY_IN_TIME.value
    assert "not reached: attract_screen" in result["detail"]
    assert machine.current_slot() == "a"


def test_a_healthy_version_is_kept_by_the_timer(machine, staged):
    ask(machine, staged)
    machine.guard("boot")
    report(machine, "a", "devices_probed", "attract_reached")  # the old version's health: not it
    machine.guard("check")
    assert machine.boot_state()["trial"] is not None
    report(machine, "b", "devices_probed", "attract_reached")
    said = machine.guard("check")
    assert "1.1.0 is healthy" in said
    state = machine.boot_state()
    assert state["good"] == "b" and state["trial"] is None
    assert state["last_result"]["outcome"] == Outcome.UPDATED.value
    assert state["last_result"]["from_version"] == "1.0.0"
    machine.guard("boot")
    assert machine.current_slot() == "b"


def test_the_backstop_rolls_back_and_restarts_a_version_too_broken_to_give_up(machine, served,
                                                                                releases):
    machine.write_config(deadline_s=0.5)
    ask(machine, stage(machine, served, releases.get("1.1.0")))
    machine.guard("boot")
    flag = machine.root / "restarted"
    machine.guard("check", "--grace", "30", "--restart", f"touch {flag}")
    assert not flag.exists() and machine.current_slot() == "b"  # still within its grace
    time.sleep(0.6)
    machine.guard("check", "--grace", "0", "--restart", f"touch {flag}")
    assert flag.exists() and machine.current_slot() == "a"
    assert machine.boot_state()["last_result"]["reason"] == "not_healthy_in_time"


def test_a_slot_the_updater_is_writing_is_never_switched_to(machine, staged):
    ask(machine, staged)
    lock = SlotLock(layout(machine), "b")
    assert lock.acquire(wait=False)
    try:
        assert "being written" in machine.guard("boot")
        assert machine.current_slot() == "a"
    finally:
        lock.release()
    machine.guard("boot")
    assert machine.current_slot() == "b"


def test_a_lost_or_wrong_current_link_is_repaired(machine):
    (machine.root / "opt/kiosk/current").unlink()
    machine.guard("boot")
    assert machine.current_slot() == "a"
    (machine.root / "opt/kiosk/current").unlink()
    (machine.root / "opt/kiosk/current").symlink_to("slots/b")  # an empty slot
    machine.guard("boot")
    assert machine.current_slot() == "a"


@pytest.mark.parametrize("step", ["guard_trial_recorded", "guard_switched"])
def test_killed_while_switching_the_next_start_finishes_the_switch(machine, staged, step):
    ask(machine, staged)
    machine.guard("boot", "--crash-after", step, killed=True)
    assert machine.current_slot() in ("a", "b")  # whole either way: one rename
    machine.guard("boot")  # systemd restarts the failed start
    assert machine.current_slot() == "b"
    assert machine.boot_state()["trial"]["slot"] == "b"


def test_killed_while_counting_a_start_the_trial_goes_on(machine, staged):
    ask(machine, staged)
    machine.guard("boot")
    machine.guard("boot", "--crash-after", "guard_try_counted", killed=True)
    machine.guard("boot")
    assert machine.current_slot() == "a"  # both starts used (a kill is not a success)
    assert machine.boot_state()["last_result"]["reason"] == "start_failed"


def test_killed_while_rolling_back_the_next_start_is_the_good_version(machine, staged):
    ask(machine, staged)
    for _ in range(machine.start_tries):
        machine.guard("boot")
    machine.guard("boot", "--crash-after", "guard_rollback_recorded", killed=True)
    machine.guard("boot")
    assert machine.current_slot() == "a"
    assert machine.boot_state()["trial"] is None


def test_killed_while_keeping_a_healthy_version_it_stays(machine, staged):
    ask(machine, staged)
    machine.guard("boot")
    report(machine, "b", "devices_probed", "attract_reached")
    machine.guard("check", "--crash-after", "guard_committed", killed=True)
    machine.guard("boot")
    assert machine.current_slot() == "b"
    assert machine.boot_state()["good"] == "b"


def test_a_guard_failure_never_keeps_the_kiosk_from_starting(machine):
    # A state the guard cannot make sense of (here a corrupted updater.json): it says so in
    # the journal and the kiosk starts on `current` as it is.
    (machine.root / "var/lib/kiosk-update/updater.json").write_text('{"staged": "garbage"}')
    ask(machine, {"staged_id": "x"})
    said = machine.guard("boot")
    assert "Traceback" in said
    assert machine.current_slot() == "a"


def test_the_guard_needs_nothing_but_the_standard_library():
    """It runs under the system's python3 -I, outside any slot (kiosk.service)."""
    tree = ast.parse(GUARD.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_the_units_and_the_configuration_name_the_same_folders():
    defaults = UpdateConfig()
    kiosk = load("kiosk.service")
    for line in values(kiosk, "Service", "ExecStartPre") + values(kiosk, "Service", "ExecStopPost"):
        argv = shlex.split(line.lstrip("+"))
        assert argv[:3] == ["/usr/bin/python3", "-I", "/opt/kiosk/bin/kiosk-update-guard"]
        assert argv[argv.index("--root") + 1] == defaults.slots_root
        assert argv[argv.index("--state-dir") + 1] == defaults.state_dir
        # The kiosk's update folder is inside the state folder its ExecStart= names.
        (start,) = values(kiosk, "Service", "ExecStart")
        state = shlex.split(start)[shlex.split(start).index("--state-dir") + 1]
        assert argv[argv.index("--kiosk-dir") + 1] == f"{state}/update"
    (check,) = values(load("kiosk-update-guard.service"), "Service", "ExecStart")
    assert shlex.split(check)[:-1] == shlex.split(values(kiosk, "Service", "ExecStartPre")[0]
                                                  .lstrip("+"))[:-1]
    updater = load("kiosk-update.service")
    assert last(updater, "Service", "StateDirectory") == Path(defaults.state_dir).name
    writable = words(updater, "Service", "ReadWritePaths")
    assert writable == {f"{defaults.slots_root}/slots", f"{defaults.slots_root}/runtimes"}
    (watched,) = values(load("kiosk-update.path"), "Path", "PathChanged")
    assert watched == f"{state}/update/request.json"


def test_the_standalone_guard_s_outcomes_are_the_ones_the_fleet_reads():
    from wire.update.errors import Outcome as WireOutcome

    assert {o.name: o.value for o in Outcome} == {o.name: o.value for o in WireOutcome}
