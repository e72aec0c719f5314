"""Power cuts at every journal transition: after a restart, recovery leaves no payment lost,
no one charged twice, and nothing unreconciled (ledgers of gateway and backends vs journal)."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from simulator.control_client import SimulatorClient
from tests.integration.crash_harness import KIOSK_ID, SimulatorProcess, audit, run_kiosk

BILL_STATES = [
    "created",
    "quoted",
    "payment_pending",
    "paid",
    "submitted",
    "fulfilled",
    "receipted",
    "closed",
]
ENDORSEMENT_STATES = ["created", "identified", "quoted", "payment_pending", "paid", "submitted",
                      "fulfilled", "receipted", "closed"]
FAULTS = [
    {},
    {"payment": {"lose_next": 1}},  # the gateway does it, but its answer is lost
    {"utility": {"fail_next": 1}},  # the backend fails once
    {"payment": {"delay_s": 0.2}},  # a slow gateway
]


@pytest.fixture
def simulator(tmp_path_factory):
    # One simulator per test, so its ledgers hold exactly this test's transactions.
    sim = SimulatorProcess(tmp_path_factory.mktemp("sim"))
    endpoints = sim.start()
    yield sim, endpoints
    sim.stop()


def control(endpoints, coro_name, *args, **kwargs):
    async def call():
        async with SimulatorClient(endpoints["control_url"]) as client:
            return await getattr(client, coro_name)(*args, **kwargs)

    return asyncio.run(call())


def crash_and_recover(sim, endpoints, kiosk_dir, scenario, state, faults) -> int:
    # The citizen of the cut-off run took their cards away.
    control(endpoints, "remove_card")
    control(endpoints, "remove_idcard")
    for backend, switches in faults.items():
        control(endpoints, "backend_faults", backend, **switches)
    code, _ = run_kiosk(sim.state_dir, kiosk_dir, scenario, crash_after=state)
    for backend in faults:
        control(
            endpoints, "backend_faults", backend, down=False, delay_s=0, fail_next=0, lose_next=0
        )
    code_after, summary = run_kiosk(sim.state_dir, kiosk_dir, None)
    assert code_after == 0 and summary is not None, "the kiosk did not restart cleanly"
    assert summary["unfinished"].keys() <= {"needs_attention"}, summary
    return code


# The lost reply with a power cut at every transition (30 s) runs with -m slow: the default run's
# explorer slice covers every fault kind and power cuts, bench.money their combinations.
@pytest.mark.parametrize("faults", [
    pytest.param(FAULTS[0], id="no-faults"),
    pytest.param(FAULTS[1], id="lost-gateway-reply", marks=pytest.mark.slow),
])
def test_bill_payment_survives_a_power_cut_at_every_transition(simulator, tmp_path, faults):
    sim, endpoints = simulator
    killed = 0
    for state in BILL_STATES:
        code = crash_and_recover(sim, endpoints, tmp_path / "kiosk", "bill", state, faults)
        killed += code == -signal.SIGKILL
    # Every transition of the flow was reached and cut (the fault may end a run early).
    assert killed >= len(BILL_STATES) - (2 if faults else 0)
    result = audit(tmp_path / "kiosk" / "state" / "journal.sqlite3", control(endpoints, "ledgers"))
    assert result.problems == []
    assert (result.double_charges, result.lost_payments, result.unreconciled) == (0, 0, 0)
    check_reconciliation_file(tmp_path / "kiosk" / "state", control(endpoints, "ledgers"))


def check_reconciliation_file(state_dir, ledgers):
    """kiosk-journal's day file lists exactly the orders that took money, with what was kept."""
    import csv
    import datetime as dt
    import io
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "kiosk.journal_cli", "--state-dir", str(state_dir),
                          "--config", str(state_dir.parent / "kiosk.toml"),
                          "export", "--date", dt.date.today().isoformat()],
                         capture_output=True, text=True, check=True).stdout
    rows = {r["paid_trade_no"]: r for r in csv.DictReader(io.StringIO(out))}
    assert {r["kiosk_id"] for r in rows.values()} == {KIOSK_ID}
    paid = {o["out_trade_no"]: o for o in ledgers["orders"]
            if o["status"] in ("SUCCESS", "REFUND")}
    assert set(rows) == set(paid)
    for trade_no, order in paid.items():
        assert int(rows[trade_no]["amount_fen"]) == order["amount_fen"]
        assert int(rows[trade_no]["net_fen"]) == order["amount_fen"] - order["refunded_fen"]


def test_endorsement_survives_a_power_cut_at_every_transition(simulator, tmp_path):
    sim, endpoints = simulator
    killed = sum(crash_and_recover(sim, endpoints, tmp_path / "kiosk", "endorsement", state, {})
                 == -signal.SIGKILL for state in ENDORSEMENT_STATES)
    assert killed == len(ENDORSEMENT_STATES)
    ledgers = control(endpoints, "ledgers")
    result = audit(tmp_path / "kiosk" / "state" / "journal.sqlite3", ledgers)
    assert result.problems == []
    assert (result.double_charges, result.lost_payments, result.unreconciled) == (0, 0, 0)
    # "submitted" is journaled before the call, so a cut there never reached the backend (it is
    # refunded); cuts after it keep their endorsement, each exactly once.
    assert len(ledgers["applications"]) == 3      # fulfilled, receipted, closed


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_crash_matrix_with_every_fault(simulator, tmp_path, round_):
    """Both services, every transition, every injected fault; prints the audit's counts."""
    sim, endpoints = simulator
    cuts = 0
    for faults in FAULTS:
        for state in BILL_STATES:
            code = crash_and_recover(sim, endpoints, tmp_path / "kiosk", "bill", state, faults)
            cuts += code == -signal.SIGKILL
        endorsement_faults = {("exit_entry" if k == "utility" else k): v
                              for k, v in faults.items()}
        for state in ENDORSEMENT_STATES:
            code = crash_and_recover(sim, endpoints, tmp_path / "kiosk", "endorsement", state,
                                     endorsement_faults)
            cuts += code == -signal.SIGKILL
    result = audit(tmp_path / "kiosk" / "state" / "journal.sqlite3", control(endpoints, "ledgers"))
    runs = len(FAULTS) * (len(BILL_STATES) + len(ENDORSEMENT_STATES))
    print(json.dumps({"round": round_, "runs": runs, "power_cuts": cuts, **result.as_json()}))
    assert result.problems == []
    assert (result.double_charges, result.lost_payments, result.unreconciled) == (0, 0, 0)
