"""A service that delivers part of what was paid: a credit report paid for two copies, of which
the printer (out of paper after the first) prints one. The citizen keeps one copy's price and
gets the other back; the transaction closes with the refund, in the reconciliation file with
its net. In-process kiosk against the real simulator (ID card on a pty, camera over HTTP, the
ESC/POS printer over TCP, backends over HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.journal_cli import reconciliation_rows
from kiosk.viewmodel import ScreenId
from simulator.gov_services import CREDIT_REPORT_FEE_FEN
from simulator.reference import CREDIT_REPORT
from simulator.runtime import Simulator, SimulatorOptions


@pytest.fixture
async def rig(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"payment_poll_s": 0.05, "face_stable_frames": 1}
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    yield sim, ctx, session
    await close_context(ctx, session)
    await sim.stop()


async def until(view, screen, timeout=30.0):
    async def wait():
        while view.screen is not screen:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


async def credit_report(sim, ctx, session, copies: str) -> None:
    session.touch_start()
    session.choose_service(CREDIT_REPORT)
    await until(ctx.view, ScreenId.READ_IDCARD)
    sim.idcard_reader.insert()
    await until(ctx.view, ScreenId.FACE)
    sim.face_composer.face_visible = True
    await until(ctx.view, ScreenId.CHOOSE)
    session.choose_option(copies)
    await until(ctx.view, ScreenId.PAY)
    sim.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    sim.idcard_reader.remove()
    sim.face_composer.face_visible = False


def told(ctx) -> str:
    return " ".join(line["zh"] for line in ctx.view.result_lines)


async def test_two_copies_paid_one_printed_refunds_one(rig):
    sim, ctx, session = rig
    sim.printer.load_paper(1.0)                  # enough for the first copy, then out
    await credit_report(sim, ctx, session, "2")
    [order] = sim.gateway.orders.values()
    assert order.amount_fen == 2 * CREDIT_REPORT_FEE_FEN
    assert order.refunded_fen == CREDIT_REPORT_FEE_FEN            # one copy's price back
    assert len([r for r in sim.printer.receipts if "个人信用报告" in r.text]) == 1
    assert "10.00 元 已原路退回" in told(ctx) and "未扣费" not in told(ctx)
    [tx] = ctx.journal.recent(1)
    assert tx.state.value == "closed" and tx.detail["copies_printed"] == 1
    [row] = reconciliation_rows(ctx.journal, dt.date.today(), ctx.config.kiosk_id)
    assert (row["amount_fen"], row["refunded_fen"], row["net_fen"]) == (2000, 1000, 1000)


async def test_no_copy_printed_refunds_everything(rig):
    sim, ctx, session = rig
    sim.printer.set_fault("cover_open", True)    # opened after the menu was drawn
    await credit_report(sim, ctx, session, "1")
    [order] = sim.gateway.orders.values()
    assert order.refunded_fen == order.amount_fen == CREDIT_REPORT_FEE_FEN
    assert "已原路退回" in told(ctx)
    assert ctx.journal.recent(1)[0].state.value == "refunded"


async def test_every_copy_printed_keeps_the_whole_fee(rig):
    sim, ctx, session = rig
    await credit_report(sim, ctx, session, "2")
    assert ctx.view.result_ok
    [order] = sim.gateway.orders.values()
    assert order.refunded_fen == 0 and order.amount_fen == 2000
    receipts = await sim.printer.wait_for_receipts(2)
    assert len([r for r in receipts if "个人信用报告" in r.text]) == 2
    assert ctx.journal.recent(1)[0].state.value == "closed"
