"""Recovery and refunds against the simulated gateway and backends, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from kiosk.backends import BackendError, PaymentClient, ServiceClient
from kiosk.journal import Journal, TxState
from kiosk.payments import PaymentOutcome, collect, out_trade_no_for
from kiosk.recovery import Recovery
from simulator.backends import Backends
from simulator.payment_gateway import GatewayError, OrderStatus


@pytest.fixture
async def world(tmp_path):
    backends = Backends()
    runner = web.AppRunner(backends.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    payment = PaymentClient(f"{base}/pay/v1", 5.0, backoff_s=0.01)
    services = {
        "exit_entry": ServiceClient(f"{base}/exit-entry/v1", 5.0, backoff_s=0.01),
        "utility": ServiceClient(f"{base}/utility/v1", 5.0, backoff_s=0.01),
    }
    journal = Journal(tmp_path / "journal.sqlite3", "KIOSK-0001")
    yield backends, journal, payment, services
    await payment.close()
    for client in services.values():
        await client.close()
    journal.close()
    await runner.cleanup()


async def pending_tx(journal, payment, amount=8650):
    tx = journal.create("442000-BM-0001")
    tx = journal.transition(tx, TxState.QUOTED, amount_fen=amount)
    tx = journal.transition(tx, TxState.PAYMENT_PENDING, out_trade_no=out_trade_no_for("K1", tx))
    await payment.create_order(tx.out_trade_no, amount, "water")
    return tx


async def test_paid_before_the_crash_is_refunded_not_lost(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)  # the phone paid; the kiosk died
    report = await Recovery(journal, payment, services).run()
    assert journal.get(tx.tx_id).state is TxState.REFUNDED
    order = backends.gateway.orders[tx.out_trade_no]
    assert order.status is OrderStatus.REFUND and order.refunded_fen == 8650
    assert report.outcomes == {"refunded": 1}


async def test_unpaid_order_is_closed_so_it_can_never_be_paid_later(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment)
    await Recovery(journal, payment, services).run()
    assert journal.get(tx.tx_id).state is TxState.CANCELLED
    assert backends.gateway.orders[tx.out_trade_no].status is OrderStatus.CLOSED
    with pytest.raises(Exception, match="ORDER_CLOSED"):
        backends.gateway.pay(out_trade_no=tx.out_trade_no)


async def test_order_never_created_is_cancelled(world):
    backends, journal, payment, services = world
    tx = journal.create("x")
    tx = journal.transition(tx, TxState.QUOTED, amount_fen=100)
    tx = journal.transition(tx, TxState.PAYMENT_PENDING, out_trade_no="NEVER-SENT")
    await Recovery(journal, payment, services).run()
    assert journal.get(tx.tx_id).state is TxState.CANCELLED


async def test_a_submission_the_backend_has_is_closed_one_it_lacks_is_refunded(world):
    backends, journal, payment, services = world
    done = await pending_tx(journal, payment)
    lost = await pending_tx(journal, payment, amount=23417)
    for tx in (done, lost):
        backends.gateway.pay(out_trade_no=tx.out_trade_no)
        journal.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
        journal.transition(
            journal.get(tx.tx_id),
            TxState.SUBMITTED,
            detail={"submit_backend": "utility", "submit_path": "/payments"},
        )
    # Only the first submission reached the backend before the crash.
    backends.services.pay_bill(
        {
            "idempotency_key": done.idempotency_key("submit"),
            "bill_id": "3100123456789-2026-10",
            "out_trade_no": done.out_trade_no,
        }
    )
    await Recovery(journal, payment, services).run()
    assert journal.get(done.tx_id).state is TxState.CLOSED
    assert journal.get(lost.tx_id).state is TxState.REFUNDED
    assert backends.gateway.orders[done.out_trade_no].refunded_fen == 0
    assert backends.gateway.orders[lost.out_trade_no].refunded_fen == 23417


async def test_recovery_with_the_gateway_down_defers_then_finishes(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    journal.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
    backends.faults["payment"].down = True
    report = await Recovery(journal, payment, services).run()
    assert report.deferred == [tx.tx_id]
    assert journal.get(tx.tx_id).state in (TxState.PAID, TxState.REFUND_PENDING)
    backends.faults["payment"].down = False
    await Recovery(journal, payment, services).run()
    assert journal.get(tx.tx_id).state is TxState.REFUNDED
    assert len(backends.gateway.refunds) == 1


async def test_a_lost_refund_reply_does_not_refund_twice(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    tx = journal.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
    backends.faults["payment"].lose_next = 3  # done, but every answer is lost (retries too)
    with pytest.raises(BackendError):
        await Recovery(journal, payment, services).reconcile(tx)
    assert journal.get(tx.tx_id).state is TxState.REFUND_PENDING
    await Recovery(journal, payment, services).run()
    assert journal.get(tx.tx_id).state is TxState.REFUNDED
    assert backends.gateway.orders[tx.out_trade_no].refunded_fen == 8650
    assert len(backends.gateway.refunds) == 1


async def test_collect_takes_a_scanned_payment_code_and_only_once(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment, amount=500)
    scans: asyncio.Queue[str] = asyncio.Queue()
    await scans.put("134567890123456789")
    shown = []
    paid = await collect(
        payment,
        journal,
        tx,
        description="t",
        timeout_s=5,
        poll_s=0.05,
        scans=scans,
        on_order=shown.append,
    )
    assert paid.state is TxState.PAID and paid.paid_trade_no == tx.out_trade_no + "M"
    orders = backends.gateway.orders
    assert orders[tx.out_trade_no].status is OrderStatus.CLOSED  # the QR can no longer pay
    assert orders[paid.paid_trade_no].status is OrderStatus.SUCCESS
    assert sum(o.payments for o in orders.values()) == 1


async def test_collect_gives_up_after_the_timeout_and_closes_the_order(world):
    backends, journal, payment, services = world
    tx = await pending_tx(journal, payment, amount=500)
    with pytest.raises(PaymentOutcome):
        await collect(
            payment,
            journal,
            tx,
            description="t",
            timeout_s=0.3,
            poll_s=0.05,
            scans=asyncio.Queue(),
            on_order=lambda o: None,
        )
    assert backends.gateway.orders[tx.out_trade_no].status is OrderStatus.CLOSED


async def test_reads_are_retried_writes_without_key_are_not(world):
    backends, journal, payment, services = world
    backends.faults["utility"].fail_next = 1
    bill = await services["utility"].get("/bills/3100123456789")
    assert bill["amount_due_fen"] == 8650
    backends.faults["exit_entry"].fail_next = 1
    with pytest.raises(BackendError):
        await services["exit_entry"]._call("POST", "/applications", {"x": 1})


async def test_a_micropay_never_confirmed_is_closed_when_time_is_up(world):
    backends, journal, payment, services = world
    backends.gateway.micropay_confirm_s = 60            # the citizen never confirms on the phone
    tx = await pending_tx(journal, payment, amount=500)
    scans: asyncio.Queue[str] = asyncio.Queue()
    await scans.put("134567890123456789")
    with pytest.raises(PaymentOutcome):
        await collect(payment, journal, tx, description="t", timeout_s=0.6, poll_s=0.05,
                      scans=scans, on_order=lambda o: None)
    micropay = backends.gateway.orders[tx.out_trade_no + "M"]
    assert micropay.status is OrderStatus.CLOSED and micropay.payments == 0
    with pytest.raises(GatewayError, match="ORDER_CLOSED"):
        backends.gateway.pay(out_trade_no=micropay.out_trade_no)
