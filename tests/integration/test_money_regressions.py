"""The three everyday sequences of issue 10 that took 86.50 yuan from a citizen, recorded the
transaction as cancelled, refunded nothing and left it out of the day's reconciliation file.

Each runs the kiosk in-process (session, flow engine, real steps, real journal, real HTTP
clients) against the real simulator (serial scanner on a pty, backends over HTTP), acts as the
citizen through the session's intents and the simulator, and checks the gateway's and the
backends' own ledgers: the money ends refunded or the service delivered, the order is in the
reconciliation file, and the citizen was never told "not charged" when money was taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.journal_cli import reconciliation_rows
from kiosk.viewmodel import ScreenId
from simulator.backend_faults import FaultKind, FaultRule
from simulator.payment_gateway import GatewayError, OrderStatus
from simulator.reference import BILL_PAYMENT, WATER_ACCOUNT
from simulator.runtime import Simulator, SimulatorOptions

PAYMENT_CODE = "134567890123456789"  # the 18-digit code the citizen's payment app shows
NOT_CHARGED = "本次未扣费"


@pytest.fixture
async def rig(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"payment_poll_s": 0.05, "payment_timeout_s": 20.0}
    overrides["backends"]["deadline_s"] = 2.0
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    yield sim, ctx, session
    await close_context(ctx, session)
    await sim.stop()


async def until(condition, timeout=20.0, step=0.02):
    async def wait():
        while not condition():
            await asyncio.sleep(step)
    await asyncio.wait_for(wait(), timeout)


async def bill_to_the_pay_screen(ctx, session):
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(lambda: ctx.view.screen is ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(lambda: ctx.view.screen is ScreenId.CONFIRM)
    session.choose_option("confirm")
    await until(lambda: ctx.view.screen is ScreenId.PAY)


def told(ctx) -> str:
    return " ".join(line["zh"] for line in ctx.view.result_lines)


async def settled_ledgers(sim, ctx, session):
    """The gateway's and backends' ledgers once the kiosk has settled what it could."""
    await until(lambda: session._flow_task is None, timeout=30)
    await session.stop()                           # no reconciler in the background any more
    await session.reconcile()
    return sim.backends.ledgers()


def check_every_fen(sim, ctx, ledgers, citizen_told: str) -> None:
    """Every fen taken was delivered or refunded, once, and is in the reconciliation file."""
    paid = [o for o in ledgers["orders"] if o["payments"]]
    assert paid, "the scenario must take the citizen's money"
    delivered = {p["out_trade_no"] for p in ledgers["bill_payments"].values()}
    for order in paid:
        assert order["payments"] == 1
        kept = order["amount_fen"] - order["refunded_fen"]
        if order["out_trade_no"] in delivered:
            assert kept == order["amount_fen"], order          # delivered: kept, not refunded
        else:
            assert kept == 0, f"{order} was neither delivered nor refunded"
    rows = reconciliation_rows(ctx.journal, dt.date.today(), ctx.config.kiosk_id)
    in_file = {r["paid_trade_no"] for r in rows}
    assert {o["out_trade_no"] for o in paid} <= in_file, rows
    assert NOT_CHARGED not in citizen_told, citizen_told
    [tx] = ctx.journal.recent(1)
    assert tx.state.value in ("closed", "refunded"), tx


async def test_sequence_1_micropay_taken_but_every_reply_lost(rig):
    """The citizen shows a payment code; the gateway takes the money but its answer to micropay
    is lost on every retry. Before: "You have not been charged", cancelled, nothing refunded."""
    sim, ctx, session = rig
    await bill_to_the_pay_screen(ctx, session)
    sim.backends.faults["payment"].rules = [
        FaultRule(FaultKind.LOST_AFTER, "POST /pay/v1/micropay", times=20)]
    sim.scanner.scan(PAYMENT_CODE)
    await until(lambda: ctx.view.screen is ScreenId.RESULT, timeout=30)
    said = told(ctx)
    check_every_fen(sim, ctx, await settled_ledgers(sim, ctx, session), said)


@pytest.mark.parametrize("ending", ["cancel", "step_timeout"])
async def test_sequence_2_micropay_confirmed_after_the_kiosk_gave_up(rig, ending):
    """Cancel (or the step's time-out) while the micropay waits for the citizen's confirmation
    on the phone. Before: only the QR order was closed; the citizen confirmed; money taken."""
    sim, ctx, session = rig
    if ending == "step_timeout":
        ctx.config = dataclasses.replace(
            ctx.config, flow=dataclasses.replace(ctx.config.flow, step_timeout_s=2.0))
    sim.gateway.micropay_confirm_s = 3600          # the phone asks the citizen to confirm
    await bill_to_the_pay_screen(ctx, session)
    sim.scanner.scan(PAYMENT_CODE)
    await until(lambda: any(o.kind == "micropay" and o.status is OrderStatus.USERPAYING
                            for o in sim.gateway.orders.values()))
    if ending == "cancel":
        session.cancel()
    await until(lambda: ctx.view.screen in (ScreenId.RESULT, ScreenId.ATTRACT)
                and session._flow_task is None, timeout=30)
    said = told(ctx) if ctx.view.screen is ScreenId.RESULT else ""
    [micropay] = [o for o in sim.gateway.orders.values() if o.kind == "micropay"]
    try:
        sim.gateway.confirm(micropay.out_trade_no)          # the citizen confirms, too late
    except GatewayError:
        pass                                                # refused: the kiosk reversed it
    ledgers = await settled_ledgers(sim, ctx, session)
    if not any(o["payments"] for o in ledgers["orders"]):
        [tx] = ctx.journal.recent(1)
        assert tx.state.value == "cancelled"                # nothing taken: and it says so
        return
    check_every_fen(sim, ctx, ledgers, said)


async def test_sequence_3_reconciler_between_citizens_never_touches_a_live_transaction(rig):
    """The reconciler takes its snapshot between citizens; a citizen starts a bill payment during
    a slow catalog fetch; the reconciler must not cancel the live transaction while its QR code
    is on screen. Before: cancelled (recovery:nothing_paid), the citizen paid, the flow died on
    an illegal transition and the kiosk went back to the attract screen without a word."""
    sim, ctx, session = rig
    ctx.transactions.retry_s = 0.0                 # the reconciler takes the orphan at once
    # An orphan from an earlier citizen: the utility was down when it was submitted.
    await bill_to_the_pay_screen(ctx, session)
    sim.backends.faults["utility"].fail_next = 50
    sim.gateway.pay(code_url=ctx.view.qr_payload)
    await until(lambda: ctx.view.screen is ScreenId.RESULT and session._flow_task is None)
    session.finish()
    sim.backends.faults["utility"].fail_next = 0
    # The reconciler is slow on the orphan (the utility answers its query late), and the
    # catalog fetch before it is slow too: the next citizen arrives in between.
    sim.backends.faults["utility"].rules = [
        FaultRule(FaultKind.SLOW, "GET /utility/v1/payments/{key}", times=5, delay_s=1.5)]
    sim.backends.faults["catalog"].delay_s = 0.8
    ctx.config = dataclasses.replace(ctx.config, backends=dataclasses.replace(
        ctx.config.backends, health_interval_s=0.1))
    def calls(route):
        return sum(c["route"] == route for c in sim.backends.calls.calls)

    fetches = calls("GET /catalog/v1/items")
    queries = calls("GET /utility/v1/payments/{key}")
    session.start()
    await until(lambda: calls("GET /catalog/v1/items") > fetches)   # the slow fetch began
    session.touch_start()
    session.choose_service(BILL_PAYMENT)                 # the next citizen starts meanwhile
    await until(lambda: ctx.view.screen is ScreenId.ENTER_ACCOUNT)
    # The reconciler takes its snapshot (this citizen's transaction in it) and works on the
    # orphan, unless it gives way to the citizen; the citizen goes on to the payment.
    with contextlib.suppress(TimeoutError):
        await until(lambda: calls("GET /utility/v1/payments/{key}") > queries, timeout=3.0)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(lambda: ctx.view.screen is ScreenId.CONFIRM)
    session.choose_option("confirm")
    await until(lambda: ctx.view.screen is ScreenId.PAY)
    await asyncio.sleep(2.0)                       # the reconciler has gone through its snapshot
    assert ctx.view.screen is ScreenId.PAY
    sim.gateway.pay(code_url=ctx.view.qr_payload)
    await until(lambda: ctx.view.screen is ScreenId.RESULT, timeout=30)
    assert ctx.view.result_ok, told(ctx)
    ledgers = await settled_ledgers(sim, ctx, session)
    live = ctx.journal.recent(1)[0]
    assert live.state.value == "closed", ctx.journal.history(live.tx_id)
    assert not any("recovery" in (reason or "") for _, _, reason in
                   ctx.journal.history(live.tx_id))
    paid = [o for o in ledgers["orders"] if o["payments"]]
    assert len(paid) == 2                          # the orphan's and the live one
    rows = reconciliation_rows(ctx.journal, dt.date.today(), ctx.config.kiosk_id)
    assert {o["out_trade_no"] for o in paid} <= {r["paid_trade_no"] for r in rows}
