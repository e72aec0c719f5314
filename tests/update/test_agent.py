"""The kiosk's update agent, in process, on a kiosk's real files: the gate (citizen present,
transaction unsettled, maintenance window), the restart into a staged release, giving up a
trial past its deadline, and the status the fleet link reads."""

from __future__ import annotations

import time

import pytest

from kiosk.config import load_config
from kiosk.journal import Journal, TxState
from kiosk.transaction import JournalWriter
from kiosk.update.agent import Gate, UpdateAgent
from kiosk.update.window import MaintenanceWindow
from tests.update.machine import Machine
from tests.update.test_guard import ask, stage


class Kiosk:
    """The agent as the composition root makes it, with a journal and a citizen we control."""

    def __init__(self, machine: Machine, slot: str = "a", at_hour: int = 3) -> None:
        self.config = load_config(machine.config,
                                  {"state_dir": str(machine.root / "var/lib/kiosk")})
        self.journal = Journal(self.config.journal_path, self.config.kiosk_id)
        self.busy = False
        self.restarts = 0
        self.agent = UpdateAgent(
            self.config, lambda: self.busy, self.journal, self.restart, fleet_expected=False,
            prefix=str(machine.root / f"opt/kiosk/slots/{slot}/venv"),
            local_time=lambda: time.struct_time((2030, 1, 1, at_hour, 30, 0, 1, 1, 0)))
        self.machine = machine

    def restart(self) -> None:
        self.restarts += 1

    def look(self) -> None:
        """One turn of the agent's watch loop."""
        files = self.agent.read_files()
        self.agent._snapshot = self.agent._take_snapshot(files)
        self.agent.consider(files)

    def close(self) -> None:
        self.journal.close()


@pytest.fixture
def kiosk(machine):
    made = Kiosk(machine)
    yield made
    made.close()


@pytest.fixture
def staged(machine, served, releases):
    return stage(machine, served, releases.get("1.1.0"))


def test_restarts_into_a_staged_release_once_nothing_holds_it(kiosk, staged):
    kiosk.busy = True
    kiosk.look()
    assert kiosk.agent.blocked_by() is Gate.CITIZEN_PRESENT
    assert kiosk.restarts == 0 and not kiosk.machine.json("var/lib/kiosk/update/activate.json")
    assert kiosk.agent.status()["waiting_for"] == Gate.CITIZEN_PRESENT.value
    assert kiosk.agent.status()["staged_version"] == "1.1.0"
    kiosk.busy = False
    kiosk.look()
    assert kiosk.restarts == 1
    asked = kiosk.machine.json("var/lib/kiosk/update/activate.json")
    assert asked["staged_id"] == staged["staged_id"]
    kiosk.look()
    assert kiosk.restarts == 1  # once


def test_an_unsettled_transaction_holds_the_update_and_one_parked_for_an_operator_does_not(
        kiosk, staged):
    writer = JournalWriter(kiosk.config.journal_path, kiosk.config.kiosk_id)  # the core's
    tx = writer.create("utility_bill")
    tx = writer.transition(tx, TxState.QUOTED, amount_fen=5000)
    tx = writer.transition(tx, TxState.PAYMENT_PENDING, out_trade_no="T-1")
    kiosk.look()
    assert kiosk.agent.blocked_by() is Gate.TRANSACTION_UNSETTLED and kiosk.restarts == 0
    writer.transition(tx, TxState.NEEDS_ATTENTION, "gateway_unreachable")
    writer.close()
    kiosk.look()
    assert kiosk.restarts == 1


def test_outside_the_maintenance_window_it_waits(machine, staged):
    machine.write_config(window="02:00-05:00")
    early, night = Kiosk(machine, at_hour=14), Kiosk(machine, at_hour=3)
    try:
        early.look()
        assert early.agent.blocked_by() is Gate.OUTSIDE_WINDOW and early.restarts == 0
        night.look()
        assert night.restarts == 1
    finally:
        early.close()
        night.close()


def test_a_release_that_was_rolled_back_is_not_asked_for_again(machine, staged):
    ask(machine, staged)
    for _ in range(machine.start_tries + 1):  # its starts all fail: rolled back
        machine.guard("boot")
    assert machine.boot_state()["last_result"]["outcome"] == "rolled_back"
    kiosk = Kiosk(machine)
    try:
        kiosk.look()
        assert kiosk.restarts == 0
        status = kiosk.agent.status()
        assert status["last_result"]["outcome"] == "rolled_back"
        assert status["last_result"]["reason"] == "start_failed"
        assert status["staged_version"] == "" and status["running_version"] == "1.0.0"
    finally:
        kiosk.close()


def test_a_trial_not_healthy_by_its_deadline_gives_up_between_citizens(machine, served, releases):
    machine.write_config(deadline_s=0.5)
    ask(machine, stage(machine, served, releases.get("1.1.0")))
    machine.guard("boot")
    trial = Kiosk(machine, slot="b")
    try:
        trial.agent.devices_probed()  # the attract screen never comes
        trial.busy = True
        time.sleep(0.6)
        trial.look()
        health = machine.json("var/lib/kiosk/update/health.json")
        assert health["healthy"] is False and health["missing"] == ["attract_screen"]
        assert health["staged_id"] == machine.boot_state()["trial"]["staged_id"]
        assert trial.restarts == 0  # a citizen is at the screen
        trial.agent.attract_reached()  # late: given up is given up
        trial.busy = False
        trial.look()
        assert trial.restarts == 1
        assert machine.json("var/lib/kiosk/update/health.json")["healthy"] is False
    finally:
        trial.close()
    machine.guard("boot")
    assert machine.boot_state()["last_result"]["reason"] == "not_healthy_in_time"
    assert machine.current_slot() == "a"


def test_status_says_which_version_runs_and_where_the_updater_is(kiosk, staged):
    kiosk.look()
    status = kiosk.agent.status()
    assert status["running_version"] == "1.0.0" and status["slot"] == "a"
    assert status["updater_phase"] == "staged" and status["target_version"] == "1.1.0"
    assert status["on_trial"] is False
    assert status["last_result"]["outcome"] == "staged"


@pytest.mark.parametrize("text,hour,minute,inside", [
    ("02:00-05:00", 2, 0, True), ("02:00-05:00", 4, 59, True), ("02:00-05:00", 5, 0, False),
    ("02:00-05:00", 1, 59, False), ("23:30-04:00", 23, 45, True), ("23:30-04:00", 3, 0, True),
    ("23:30-04:00", 12, 0, False), ("", 12, 0, True),
])
def test_maintenance_windows_may_cross_midnight(text, hour, minute, inside):
    moment = time.struct_time((2030, 1, 1, hour, minute, 0, 1, 1, 0))
    assert MaintenanceWindow.parse(text).contains(moment) is inside


@pytest.mark.parametrize("text", ["2-5", "25:00-03:00", "02:00", "02:00-05:60", "night"])
def test_a_malformed_window_is_refused(text):
    with pytest.raises(ValueError):
        MaintenanceWindow.parse(text)


def test_a_release_the_guard_did_not_switch_to_is_not_asked_for_again(kiosk, staged):
    kiosk.look()
    assert kiosk.restarts == 1
    # The guard found the slot being written and started the old version again.
    again = Kiosk(kiosk.machine)
    try:
        again.look()
        assert again.restarts == 0  # no restart loop into systemd's start limit
    finally:
        again.close()


def test_a_staged_release_missing_from_its_slot_is_not_asked_for(kiosk, staged):
    release = kiosk.machine.root / "opt/kiosk/slots/b/release.json"
    release.unlink()  # e.g. the slot lost on disk: the guard could not switch to it
    kiosk.look()
    assert kiosk.restarts == 0 and kiosk.agent.status()["staged_version"] == ""


def test_a_malformed_window_in_kiosk_toml_falls_back_to_the_default_not_to_any_time(machine,
                                                                                   staged):
    machine.write_config(window="nights")
    noon, night = Kiosk(machine, at_hour=12), Kiosk(machine, at_hour=3)
    try:
        assert noon.agent.blocked_by() is Gate.OUTSIDE_WINDOW
        assert night.agent.blocked_by() is None
    finally:
        noon.close()
        night.close()
