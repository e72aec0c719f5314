"""The fault explorer's worker: runs whole transactions through the real kiosk core against the
real simulator (a child process of its own), one run per spec read on stdin, one result per line
on stdout.

Each run forks twice from this process, which holds no thread, no event loop and no device:
- the kiosk: the real context (devices over their real transports, journal, HTTP clients), the
  session and flow engine, and the explorer's citizen acting through the session's intents and
  the simulator's control API. A spec's power cut is the journal's own instrumentation: the
  process SIGKILLs itself right after that journal write.
- the restart: the transaction core on the same journal runs the start-up recovery with the
  run's faults still on (what is left unsettled must say why), then, faults cleared and late
  calls landed, the reconciler's later passes; then the invariants are checked against the
  gateway's and backends' ledgers and the printer's output (explorer.checks).

    python -m tests.integration.explorer.worker --work-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from kiosk.app import build_context, build_session, build_transactions, close_context
from kiosk.backends import PaymentClient, ServiceClient
from kiosk.config import KioskConfig, load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.journal_cli import reconciliation_rows
from simulator.backends import BACKEND_PREFIXES, reference_catalog
from simulator.control_client import SimulatorClient
from tests.integration.crash_harness import SimulatorProcess
from tests.integration.explorer.checks import check
from tests.integration.explorer.citizen import run_citizen
from tests.integration.explorer.plan import RunSpec, backend_of

KIOSK_ID = "EXPL-0001"
RUN_DEADLINE_S = 90.0


def explorer_config(endpoints: dict, run_dir: Path, crash_after: str = "",
                    service: str = "") -> KioskConfig:
    """The kiosk's configuration for a run: short time-outs so a walk-away or a time-out fault
    costs seconds, a client deadline a time-out fault exceeds, and only the devices the
    service uses fitted (each one the device manager watches costs a probe)."""
    overrides = simulator_overrides(endpoints)
    devices = overrides["devices"]
    devices.update(dispenser_port="", document_camera_url="")
    if service == "bill":
        devices.update(idcard_reader_port="", card_reader="none")
    overrides["state_dir"] = str(run_dir / "kiosk")
    overrides["kiosk_id"] = KIOSK_ID
    overrides["flow"] = {"payment_poll_s": 0.05, "payment_timeout_s": 3.0,
                         "place_card_timeout_s": 3.0, "face_timeout_s": 5.0,
                         "face_stable_frames": 1, "step_timeout_s": 25.0, "settle_retry_s": 0.0}
    overrides["ui"] = {"idle_prompt_s": 2.5, "idle_timeout_s": 0.5, "result_timeout_s": 600.0}
    overrides["backends"].update(deadline_s=0.6, health_interval_s=3600.0)
    overrides["debug"] = {"crash_after": crash_after}
    return load_config(None, overrides)


def explorer_catalog() -> bytes:
    """The reference catalog without the citizen's per-step times: a walk-away then ends on the
    kiosk's short idle limits (explorer_config) in seconds, not the minutes the catalog gives a
    citizen at each step (kiosk.citizen_time reads them from the catalog)."""
    data = json.loads(reference_catalog())
    for item in data["items"]:
        for step in item.get("steps", ()):
            step.pop("timeout_s", None)
    return json.dumps(data, ensure_ascii=False).encode()


async def _publish_catalog(endpoints: dict) -> None:
    async with SimulatorClient(endpoints["control_url"]) as sim:
        await sim.publish_catalog(explorer_catalog())


def _summary(tx) -> dict:
    return {"tx_id": tx.tx_id, "service": tx.service, "state": tx.state.value,
            "attention": tx.attention or "", "orders": [o.out_trade_no for o in tx.orders]}


async def _prepare_simulator(sim: SimulatorClient, spec: RunSpec) -> None:
    await sim.reset_backends()
    await sim.remove_card()
    await sim.remove_idcard()
    await sim.hide_face()
    await sim.device("/printer/paper", {"mm": 1.0} if spec.short_paper else {})
    rules: dict[str, list[dict]] = {}
    for fault in spec.faults:
        rules.setdefault(backend_of(fault.route), []).append(fault.rule())
    for backend, backend_rules in rules.items():
        await sim.backend_faults(backend, rules=backend_rules)
    if spec.method == "code_confirm":
        await sim.payment_settings(micropay_confirm_s=3600)  # the phone asks to confirm
    if spec.notify:
        await sim._call("POST", "/notify/settings", {"duplicate": spec.notify == "duplicate",
                                                     "delay_s": 0.5 if spec.notify == "late"
                                                     else 0.0})


async def kiosk_run(spec: RunSpec, endpoints: dict, run_dir: Path) -> None:
    async with SimulatorClient(endpoints["control_url"]) as sim:
        await _prepare_simulator(sim, spec)
        ctx = build_context(explorer_config(endpoints, run_dir, spec.kill, spec.service))
        manager = build_manager(ctx.devices)
        await manager.start()
        session = build_session(ctx, manager)
        try:
            await session.refresh_catalog()
            session.start()
            observed = await run_citizen(spec, ctx.view, session, sim)
            if spec.name == ROGUE:
                await _take_money_behind_the_kiosks_back(ctx, sim)
        finally:
            await close_context(ctx, session)
    (run_dir / "citizen.json").write_text(json.dumps(observed))


ROGUE = "rogue_payment_the_journal_never_saw"


async def _take_money_behind_the_kiosks_back(ctx, sim: SimulatorClient) -> None:
    """The checks' own test: an order paid at the gateway that no journal knows of (as a kiosk
    that calls the gateway before journaling would leave). The checks must see it."""
    order = await ctx.payment.create_order("ROGUE0001", 8650, "rogue")
    await sim.pay(code_url=order.code_url)


async def _quiet(sim: SimulatorClient, timeout: float = 10.0) -> None:
    """Until no call the kiosk made is still being handled (a timed-out one lands late)."""
    deadline = time.monotonic() + timeout
    while (await sim.backend_calls())["in_flight"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _printer_settled(sim: SimulatorClient, timeout: float = 5.0) -> None:
    """Until every receipt the kiosk sent has come out of the printer: the printer renders a
    cut page after the kiosk has hung up, and the checks count what came out."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        state = await sim._call("GET", "/printer/state")
        seen = (state["cuts"], state["receipts"] + state["receipts_lost"])
        if seen == last and seen[0] == seen[1]:
            return
        last = seen
        await asyncio.sleep(0.1)


async def recover_and_check(spec: RunSpec, endpoints: dict, run_dir: Path, killed: bool,
                            crashed: str) -> dict:
    config = explorer_config(endpoints, run_dir)
    b = config.backends
    payment = PaymentClient(b.payment_url, b.deadline_s)
    services = {n: ServiceClient(u, b.deadline_s) for n, u in b.services().items()}
    core = build_transactions(config, payment, services)
    try:
        async with SimulatorClient(endpoints["control_url"]) as sim:
            await core.reconcile(everything=True)           # the restart: faults still on
            after_restart = [_summary(tx) for tx in core.journal.unfinished()]
            for backend in BACKEND_PREFIXES:
                await sim.backend_faults(backend, down=False, delay_s=0, fail_next=0,
                                         lose_next=0, rules=[])
            await sim._call("POST", "/notify/settings", {"duplicate": False, "delay_s": 0.0})
            for _ in range(3):                              # the reconciler, later
                await _quiet(sim)
                await core.reconcile(everything=True)
                if all(tx.state.value == "needs_attention" for tx in core.journal.unfinished()):
                    break
            await _quiet(sim)
            await _printer_settled(sim)
            ledgers = await sim._call("GET", "/backends/ledgers")
            receipts = await sim.receipts()
            calls = (await sim.backend_calls())["calls"]
        recent = core.journal.recent(50)
        transactions = [_summary(tx) for tx in recent]
        # Each transaction is in the file of the day it was created (kiosk-journal export): a run
        # across midnight reads both days' files, not only today's (5 false "missing" verdicts
        # in the first minute of a day).
        days = sorted({dt.date.fromtimestamp(tx.created_at) for tx in recent} | {dt.date.today()})
        rows = [row for day in days for row in reconciliation_rows(core.journal, day, KIOSK_ID)]
    finally:
        await payment.close()
        for client in services.values():
            await client.close()
        if core.orders.relay is not None:
            await core.orders.relay.close()
        core.close()
    citizen_file = run_dir / "citizen.json"
    citizen = json.loads(citizen_file.read_text()) if citizen_file.exists() else {}
    verdict = check(transactions, ledgers, receipts, rows, citizen, killed, after_restart)
    if crashed:
        verdict.add(f"the kiosk process failed: {crashed}")
    return {"spec": spec.as_json(), "label": spec.label(), "killed": killed,
            "faults_hit": sum(1 for c in calls if c["fault"]),
            "routes": sorted({c["route"] for c in calls}),
            "violations": verdict.violations, "lost_fen": verdict.lost_fen,
            "double_fen": verdict.double_fen, "unreconciled": verdict.unreconciled,
            "attention": verdict.attention, "citizen": citizen,
            "states": [tx["state"] for tx in transactions]}


def _fork(run_dir: Path, name: str, body) -> int:
    """Runs `body` in a child process; its stdout goes nowhere, its stderr and logs to files."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        err = os.open(run_dir / f"{name}.stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(err, 2)
        logging.basicConfig(filename=run_dir / f"{name}.log", level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        body()
        code = 0
    except BaseException:  # noqa: BLE001 - reported through the exit code and stderr
        traceback.print_exc()
    finally:
        os._exit(code)


def _wait(pid: int, timeout: float) -> tuple[int | None, bool]:
    """(exit status, timed out): a child past its deadline is killed."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, False
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1], True
        time.sleep(0.02)


def run_one(spec: RunSpec, endpoints: dict, run_dir: Path) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    started = time.monotonic()
    pid = _fork(run_dir, "kiosk", lambda: asyncio.run(kiosk_run(spec, endpoints, run_dir)))
    status, timed_out = _wait(pid, RUN_DEADLINE_S)
    killed = not timed_out and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    crashed = "did not end in time" if timed_out else ""
    if not killed and not timed_out and os.waitstatus_to_exitcode(status) != 0:
        tail = (run_dir / "kiosk.stderr").read_text(errors="replace")[-1500:]
        crashed = f"exit {os.waitstatus_to_exitcode(status)}: {tail}"

    def restart() -> None:
        result = asyncio.run(recover_and_check(spec, endpoints, run_dir, killed, crashed))
        (run_dir / "result.json").write_text(json.dumps(result))

    status, timed_out = _wait(_fork(run_dir, "restart", restart), RUN_DEADLINE_S)
    result_file = run_dir / "result.json"
    if result_file.exists():
        result = json.loads(result_file.read_text())
    else:
        tail = (run_dir / "restart.stderr").read_text(errors="replace")[-1500:]
        result = {"spec": spec.as_json(), "label": spec.label(), "killed": killed,
                  "faults_hit": 0, "violations": [f"the restart failed: {tail}"], "lost_fen": 0,
                  "double_fen": 0, "unreconciled": 0, "attention": 0, "citizen": {},
                  "states": []}
    result["seconds"] = round(time.monotonic() - started, 2)
    if not result["violations"] and not os.environ.get("EXPLORER_KEEP_RUNS"):
        shutil.rmtree(run_dir, ignore_errors=True)  # kept only when something is wrong
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w", buffering=1)
    simulator = SimulatorProcess(args.work_dir / "sim")
    endpoints = simulator.start()
    try:
        asyncio.run(_publish_catalog(endpoints))
        out.write(json.dumps({"ready": True}) + "\n")
        for number, line in enumerate(sys.stdin):
            spec = RunSpec.from_json(json.loads(line))
            out.write(json.dumps(run_one(spec, endpoints, args.work_dir / f"run-{number}"))
                      + "\n")
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
