"""The flow engine on catalog items, against the simulated backends over real HTTP: a kiosk
with no devices fitted runs the bill payment (scanner and printer are optional for it)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from kiosk.app import build_session, build_transactions
from kiosk.backends import PaymentClient, ServiceClient
from kiosk.config import load_config, simulator_overrides
from kiosk.flow import Devices, FlowContext
from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId, SessionView
from simulator.backends import Backends, reference_catalog
from simulator.reference import BILL_PAYMENT, QUEUE_TICKET, WATER_ACCOUNT
from tests.reports_kit import listen


@pytest.fixture
async def kiosk(tmp_path):
    backends = Backends()
    runner = web.AppRunner(backends.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    backends.serving_at(base)
    endpoints = {"card_reader": "none", "face_camera_url": "", "printer": {"host": "", "port": 0},
                 **{f"{name}_url": f"{base}{prefix}" for name, prefix in (
                     ("payment", "/pay/v1"), ("catalog", "/catalog/v1"),
                     ("exit_entry", "/exit-entry/v1"), ("utility", "/utility/v1"),
                     ("certificates", "/certificates/v1"), ("queue", "/queue/v1"),
                     ("notify", "/notify/v1"))}}
    overrides = simulator_overrides(endpoints)
    overrides["state_dir"] = str(tmp_path)
    overrides["flow"] = {"payment_poll_s": 0.02, "payment_timeout_s": 3.0, "settle_retry_s": 0.0}
    overrides["backends"]["deadline_s"] = 2.0
    config = load_config(None, overrides)
    b = config.backends
    payment = PaymentClient(b.payment_url, 2.0, backoff_s=0.01)
    services = {n: ServiceClient(u, 2.0, backoff_s=0.01) for n, u in b.services().items()}
    ctx = FlowContext(config=config, view=SessionView(),
                      transactions=build_transactions(config, payment, services),
                      devices=Devices(), payment=payment, services=services,
                      subject_key=b"k" * 32)
    session = build_session(ctx)
    await session.refresh_catalog()
    yield backends, ctx, session
    await session.stop()
    await session.catalog_client.close()
    await ctx.payment.close()
    for client in ctx.services.values():
        await client.close()
    await ctx.transactions.orders.relay.close()
    ctx.transactions.close()
    await runner.cleanup()


async def until(view, screen, timeout=10.0):
    async def wait():
        while view.screen is not screen:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), timeout)


async def start_bill(ctx, session):
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(ctx.view, ScreenId.CONFIRM)
    session.choose_option("confirm")
    await until(ctx.view, ScreenId.PAY)


def texts(view):
    return " ".join(line["zh"] for line in view.result_lines)


async def test_bill_without_a_printer_is_paid_and_says_no_receipt(kiosk):
    backends, ctx, session = kiosk
    tiles = {t.code: t for t in ctx.view.services}
    assert QUEUE_TICKET not in tiles                    # needs a printer this kiosk lacks
    assert tiles[BILL_PAYMENT].warning_key == "warning.no_receipt"
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    assert ctx.view.result_ok and "缴费成功：86.50 元" in texts(ctx.view)
    assert "凭条打印失败" in texts(ctx.view)
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.CLOSED and tx.amount_fen == 8650
    assert len(backends.services.bill_payments) == 1


async def test_an_unknown_account_is_a_clear_message_and_no_charge(kiosk):
    backends, ctx, session = kiosk
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in "12":                                   # too short: asked again
        session.key_press(digit)
    session.key_press("ok")
    await asyncio.sleep(0.05)
    assert ctx.view.screen is ScreenId.ENTER_ACCOUNT and ctx.view.entry_error_key
    for digit in "9999999999":
        session.key_press(digit)
    session.key_press("ok")
    await until(ctx.view, ScreenId.RESULT)
    assert not ctx.view.result_ok and "未查询到相关信息" in texts(ctx.view)
    assert backends.gateway.orders == {}
    assert ctx.journal.recent()[0].state is TxState.CANCELLED


async def test_a_submission_that_fails_is_refunded_and_the_citizen_told(kiosk):
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.faults["utility"].fail_next = 3            # every try of the submission fails
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    assert "已付款项已原路退回" in texts(ctx.view)
    [order] = backends.gateway.orders.values()
    assert order.refunded_fen == order.amount_fen == 8650
    assert ctx.journal.recent()[0].state is TxState.REFUNDED


async def test_an_unknown_submission_outcome_is_settled_by_the_reconciler(kiosk):
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.faults["utility"].fail_next = 50           # the utility stays down for now
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    assert "正在核对" in texts(ctx.view) and "查询编号" in texts(ctx.view)
    assert "未扣费" not in texts(ctx.view)
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.SUBMITTED and tx.attention == "checking:backend_unreachable"
    backends.faults["utility"].fail_next = 0
    await session.reconcile()
    assert ctx.journal.get(tx.tx_id).state is TxState.REFUNDED
    assert backends.services.bill_payments == {}


async def test_a_lost_submission_reply_is_not_submitted_twice(kiosk):
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.faults["utility"].lose_next = 1            # done, but the answer is lost
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    assert ctx.view.result_ok
    assert len(backends.services.bill_payments) == 1
    assert ctx.journal.recent()[0].state is TxState.CLOSED


async def test_gateway_down_at_payment_charges_nothing_and_settles_later(kiosk):
    backends, ctx, session = kiosk
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(ctx.view, ScreenId.CONFIRM)
    backends.faults["payment"].down = True
    session.choose_option("confirm")
    await until(ctx.view, ScreenId.RESULT)
    assert "业务系统暂时无法连接" in texts(ctx.view)
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.PAYMENT_PENDING          # unknown to the gateway: not final yet
    backends.faults["payment"].down = False
    await session.reconcile()
    assert ctx.journal.get(tx.tx_id).state is TxState.CANCELLED


async def test_cancel_on_the_pay_screen_closes_the_order_and_says_so(kiosk):
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    session.cancel()
    # Once an order exists, the way out is a screen that says what became of the money.
    await until(ctx.view, ScreenId.RESULT)
    [order] = backends.gateway.orders.values()
    assert order.status.value == "CLOSED"
    assert ctx.journal.recent()[0].state is TxState.CANCELLED
    assert "本次未扣费" in texts(ctx.view) and order.out_trade_no in texts(ctx.view)


async def test_network_loss_pauses_online_items_and_they_come_back(kiosk):
    backends, ctx, session = kiosk
    assert any(t.available for t in ctx.view.services)
    backends.faults["catalog"].down = True
    await session.refresh_catalog()
    assert not ctx.view.network_ok
    # Items that take money or need a live answer pause, each with its plain reason; the
    # offline-capable ones stay on (their submissions wait in the outbox).
    items = {item.code: item for item in session.catalog.items}
    for tile in ctx.view.services:
        item = items[tile.code]
        if item.works_offline:
            assert tile.available, tile.code
        else:
            assert not tile.available and tile.reason_key == (
                "unavailable.network_payment" if item.takes_payment else "unavailable.network")
    # (this kiosk has no ID card reader, so the pre-review is not even on its menu)
    assert {t.code for t in ctx.view.services if t.available} == {"442000-PD-0005"}
    assert ctx.view.screen is ScreenId.ATTRACT   # something can still be offered
    backends.faults["catalog"].down = False
    await session.refresh_catalog()
    assert ctx.view.network_ok and any(t.available for t in ctx.view.services)
    assert ctx.view.screen is ScreenId.ATTRACT


async def test_a_broken_published_catalog_never_replaces_the_good_one(kiosk):
    backends, ctx, session = kiosk
    problems = listen(ctx).problems
    good_version = session.catalog.version
    broken = json.loads(reference_catalog())
    broken["items"][0]["steps"] = [{"step": "submit", "timeout_s": -1}]
    backends.catalog.published = json.dumps(broken).encode()
    await session.refresh_catalog()
    assert session.catalog.version == good_version
    assert problems == [("catalog_refused", "catalog_malformed")]
    assert json.loads(ctx.config.catalog_path.read_text())["items"][0].get("steps") is None


async def test_inactivity_asks_still_there_then_returns_home_and_cancels(kiosk):
    import dataclasses

    backends, ctx, session = kiosk
    ctx.config = dataclasses.replace(ctx.config, ui=dataclasses.replace(
        ctx.config.ui, idle_prompt_s=0.4, idle_timeout_s=1.0))
    catalog = json.loads(reference_catalog())          # the step's own time: 1.4 s
    [bill] = [i for i in catalog["items"] if i["code"] == BILL_PAYMENT]
    bill["steps"][0]["timeout_s"] = 1.4
    backends.catalog.published = json.dumps(catalog).encode()
    await session.refresh_catalog()
    session.start()
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    session.key_press("3")

    async def prompt_shown():
        while not ctx.view.idle_prompt:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(prompt_shown(), 5)
    assert ctx.view.screen is ScreenId.ENTER_ACCOUNT and ctx.view.idle_seconds_left >= 1
    session.dismiss_idle_prompt()                       # "continue": the citizen is back
    assert not ctx.view.idle_prompt and ctx.view.entry == "3"
    await until(ctx.view, ScreenId.ATTRACT, timeout=10)   # then walks away for good
    assert ctx.view.entry == "" and not ctx.view.idle_prompt
    assert ctx.journal.recent()[0].state is TxState.CANCELLED


async def test_the_journal_never_holds_the_utility_account_number(kiosk):
    """The utility backend's answer carries a `bill_id` made of the account number: only the
    reference numbers the catalog names reach the journal (issue 17)."""
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    [payment] = backends.services.bill_payments.values()
    assert WATER_ACCOUNT in payment["bill_id"]               # the backend does return it
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.CLOSED and tx.detail["result"] == {
        "payment_id": payment["payment_id"]}
    path = ctx.config.journal_path
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")
                      if p.is_file() and not p.name.endswith(".lock"))
    assert stored and WATER_ACCOUNT.encode() not in stored


async def test_an_unsettled_transaction_is_shown_to_operators_until_it_is_settled(kiosk,
                                                                                  tmp_path):
    import dataclasses

    from kiosk.fleet_link import FleetLink

    backends, ctx, session = kiosk
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "device.key"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx.config = dataclasses.replace(ctx.config, fleet=dataclasses.replace(
        ctx.config.fleet, server_url="http://127.0.0.1:9", device_key_path=str(key)))
    from kiosk.run_state import RunRecord

    link = FleetLink(ctx.config, session, ctx.journal, lambda: [], restart_app=lambda: None,
                     run=RunRecord(ctx.config.state_dir).begin())
    await start_bill(ctx, session)
    backends.faults["utility"].fail_next = 50           # the submission's outcome is unknown
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    [tx] = ctx.journal.recent()
    [item] = link._take_snapshot()["attention"]
    assert (item.ref, item.state, item.reason) == (tx.tx_id, "submitted",
                                                      "checking:backend_unreachable")
    backends.faults["utility"].fail_next = 0
    await session.reconcile()
    assert ctx.journal.get(tx.tx_id).state is TxState.REFUNDED
    assert link._take_snapshot()["attention"] == []
async def test_a_citizen_who_leaves_at_the_keypad_leaves_no_reader_of_the_next_ones_scan(kiosk):
    backends, ctx, session = kiosk
    for _ in range(2):
        session.touch_start()
        session.choose_service(BILL_PAYMENT)
        await until(ctx.view, ScreenId.ENTER_ACCOUNT)
        session.cancel()
        await until(ctx.view, ScreenId.ATTRACT)
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    await asyncio.sleep(0.05)
    ctx.scans.put_nowait(WATER_ACCOUNT)  # the bill's barcode, as the scanner hands it on
    await until(ctx.view, ScreenId.CONFIRM)
    session.cancel()
