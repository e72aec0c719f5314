"""Recovery and settling against the simulated gateway and backends, over real HTTP: the
transaction core's reconciler at start-up, and the payment it collects."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from kiosk.backends import BackendError, NotificationClient, PaymentClient, ServiceClient
from kiosk.journal import OrderKind, TxState
from kiosk.offline_submission import note_delivery
from kiosk.outbox import Courier, Outbox, Submission
from kiosk.transaction import Owner, PaymentFailed, TransactionCore
from kiosk.transaction.orders import OrderFacts
from simulator.backends import Backends
from simulator.payment_gateway import GatewayError, OrderStatus

CODE = "134567890123456789"


@pytest.fixture
async def world(tmp_path):
    backends = Backends()
    runner = web.AppRunner(backends.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    backends.serving_at(base)
    payment = PaymentClient(f"{base}/pay/v1", 5.0, backoff_s=0.01)
    services = {
        "exit_entry": ServiceClient(f"{base}/exit-entry/v1", 5.0, backoff_s=0.01),
        "utility": ServiceClient(f"{base}/utility/v1", 5.0, backoff_s=0.01),
        "certificates": ServiceClient(f"{base}/certificates/v1", 5.0, backoff_s=0.01),
    }
    relay = NotificationClient(f"{base}/notify/v1", 5.0, backoff_s=0.01)
    core = TransactionCore.open(tmp_path / "journal.sqlite3", "KIOSK-0001", payment, services,
                                relay=relay, retry_s=0.0)
    yield backends, core
    await payment.close()
    await relay.close()
    for client in services.values():
        await client.close()
    core.close()
    await runner.cleanup()


async def pending_tx(core, amount=8650):
    """A transaction whose QR order was created at the gateway (as a flow that died does)."""
    writer = core.writer
    tx = writer.transition(writer.create("442000-BM-0001"), TxState.QUOTED, amount_fen=amount)
    number = f"0001{tx.tx_id}"
    tx = writer.transition(tx, TxState.PAYMENT_PENDING, out_trade_no=number,
                           order=(number, OrderKind.NATIVE, amount))
    await core.payment.create_order(number, amount, "water")
    return tx


async def test_paid_before_the_crash_is_refunded_not_lost(world):
    backends, core = world
    tx = await pending_tx(core)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)  # the phone paid; the kiosk died
    report = await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.REFUNDED
    order = backends.gateway.orders[tx.out_trade_no]
    assert order.status is OrderStatus.REFUND and order.refunded_fen == 8650
    assert report.outcomes == {"refunded": 1}


async def test_unpaid_order_is_closed_so_it_can_never_be_paid_later(world):
    backends, core = world
    tx = await pending_tx(core)
    await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.CANCELLED
    assert backends.gateway.orders[tx.out_trade_no].status is OrderStatus.CLOSED
    with pytest.raises(GatewayError, match="ORDER_CLOSED"):
        backends.gateway.pay(out_trade_no=tx.out_trade_no)


async def test_order_never_created_is_cancelled(world):
    backends, core = world
    writer = core.writer
    tx = writer.transition(writer.create("x"), TxState.QUOTED, amount_fen=100)
    writer.transition(tx, TxState.PAYMENT_PENDING, out_trade_no="NEVER-SENT",
                      order=("NEVER-SENT", OrderKind.NATIVE, 100))
    await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.CANCELLED


async def test_a_micropay_the_gateway_never_saw_is_barred_before_it_can_arrive(world):
    backends, core = world
    tx = await pending_tx(core, amount=500)
    tx = core.writer.record_order(tx, tx.out_trade_no + "M", OrderKind.MICROPAY, 500)
    await core.reconcile(everything=True)                 # the micropay request is still late
    assert core.journal.get(tx.tx_id).state is TxState.CANCELLED
    with pytest.raises(BackendError, match="ORDER_REVERSED"):
        await core.payment.micropay(tx.out_trade_no + "M", 500, CODE, "late")
    assert sum(o.payments for o in backends.gateway.orders.values()) == 0


async def test_a_submission_the_backend_has_is_closed_one_it_lacks_is_refunded(world):
    backends, core = world
    writer = core.writer
    done = await pending_tx(core)
    lost = await pending_tx(core, amount=23417)
    for tx in (done, lost):
        backends.gateway.pay(out_trade_no=tx.out_trade_no)
        tx = writer.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
        writer.transition(tx, TxState.SUBMITTED, detail={
            "submit_backend": "utility", "submit_path": "/payments",
            "submit_record": ["payment_id"]})
    # Only the first submission reached the backend before the crash.
    backends.services.pay_bill({"idempotency_key": done.idempotency_key("submit"),
                                "bill_id": "3100123456789-2026-10",
                                "out_trade_no": done.out_trade_no})
    await core.reconcile(everything=True)
    closed = core.journal.get(done.tx_id)
    assert closed.state is TxState.CLOSED
    assert list(closed.detail["result"]) == ["payment_id"]          # never the bill_id
    assert core.journal.get(lost.tx_id).state is TxState.REFUNDED
    assert backends.gateway.orders[done.out_trade_no].refunded_fen == 0
    assert backends.gateway.orders[lost.out_trade_no].refunded_fen == 23417


async def test_recovery_with_the_gateway_down_waits_with_a_reason_then_finishes(world):
    backends, core = world
    tx = await pending_tx(core)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    core.writer.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
    backends.faults["payment"].down = True
    report = await core.reconcile(everything=True)
    assert report.deferred == [tx.tx_id]
    waiting = core.journal.get(tx.tx_id)
    assert waiting.state is TxState.PAID and waiting.attention == "checking:gateway_unreachable"
    assert [t.tx_id for t in core.journal.for_operators()] == [tx.tx_id]
    assert technician_sees(core.journal.path.parent)[tx.tx_id] == "checking:gateway_unreachable"
    backends.faults["payment"].down = False
    await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.REFUNDED
    assert core.journal.get(tx.tx_id).attention is None
    assert len(backends.gateway.refunds) == 1


def technician_sees(state_dir) -> dict[str, str]:
    """`kiosk-journal list --unfinished --json`: transaction -> the reason it is not settled."""
    import contextlib
    import io
    import json

    from kiosk.journal_cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--state-dir", str(state_dir), "--json", "list", "--unfinished"]) == 0
    return {row["tx_id"]: row["attention"] for row in json.loads(out.getvalue())}


async def test_a_lost_refund_reply_does_not_refund_twice(world):
    backends, core = world
    tx = await pending_tx(core)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    core.writer.transition(tx, TxState.PAID, paid_trade_no=tx.out_trade_no)
    backends.faults["payment"].update({"rules": [
        {"kind": "lost_after", "route": "POST /pay/v1/refunds", "times": 3}]})
    await core.reconcile(everything=True)                   # done, but every answer is lost
    assert core.journal.get(tx.tx_id).state is TxState.REFUND_PENDING
    await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.REFUNDED
    assert backends.gateway.orders[tx.out_trade_no].refunded_fen == 8650
    assert len(backends.gateway.refunds) == 1


async def test_a_paid_notification_counts_when_the_query_is_not_answered(world):
    backends, core = world
    tx = await pending_tx(core)
    backends.notifier.update({"duplicate": True})
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    while backends.in_flight:
        await asyncio.sleep(0.01)
    assert len(backends.relay.by_order[tx.out_trade_no]) == 2     # delivered twice
    backends.faults["payment"].update({"rules": [
        {"kind": "error", "route": "GET /pay/v1/orders/{out_trade_no}", "times": 50}]})
    facts = await core.orders.look(OrderFacts.unknown(core.journal.get(tx.tx_id).orders[0]))
    assert facts.paid and not facts.confirmed                     # aware, not sure
    backends.faults["payment"].clear()
    await core.reconcile(everything=True)
    assert core.journal.get(tx.tx_id).state is TxState.REFUNDED


async def test_a_live_flows_transaction_is_never_touched_by_the_reconciler(world):
    backends, core = world
    run = await core.begin("442000-BM-0001")
    run.quote(8650)
    report = await core.reconcile(everything=True)
    assert report.skipped == 1 and core.journal.get(run.tx_id).state is TxState.QUOTED
    with pytest.raises(RuntimeError, match="does not own"):
        await core.settle(run.tx_id, Owner.RECONCILER)
    settlement = await run.finish()
    assert settlement.outcome.value == "not_charged" and core.owner(run.tx_id) is None


async def test_collect_takes_a_scanned_payment_code_and_only_once(world):
    backends, core = world
    run = await core.begin("442000-BM-0001")
    run.quote(500)
    scans: asyncio.Queue[str] = asyncio.Queue()
    await scans.put(CODE)
    shown = []
    await run.collect(description="t", timeout_s=5, poll_s=0.05, scans=scans,
                      on_order=shown.append)
    paid = run.tx
    assert paid.state is TxState.PAID and paid.paid_trade_no == paid.out_trade_no + "M"
    orders = backends.gateway.orders
    assert orders[paid.out_trade_no].status is OrderStatus.CLOSED  # the QR can no longer pay
    assert orders[paid.paid_trade_no].status is OrderStatus.SUCCESS
    assert sum(o.payments for o in orders.values()) == 1


async def test_collect_gives_up_after_the_timeout_and_closes_the_order(world):
    backends, core = world
    run = await core.begin("442000-BM-0001")
    run.quote(500)
    with pytest.raises(PaymentFailed):
        await run.collect(description="t", timeout_s=0.3, poll_s=0.05, scans=asyncio.Queue(),
                          on_order=lambda o: None)
    assert backends.gateway.orders[run.tx.out_trade_no].status is OrderStatus.CLOSED


async def test_reads_are_retried_writes_without_key_are_not(world):
    backends, core = world
    backends.faults["utility"].fail_next = 1
    bill = await core.services["utility"].get("/bills/3100123456789")
    assert bill["amount_due_fen"] == 8650
    backends.faults["exit_entry"].fail_next = 1
    with pytest.raises(BackendError):
        await core.services["exit_entry"]._call("POST", "/applications", {"x": 1})


async def test_a_micropay_never_confirmed_is_reversed_when_time_is_up(world):
    backends, core = world
    backends.gateway.micropay_confirm_s = 60            # the citizen never confirms on the phone
    run = await core.begin("442000-BM-0001")
    run.quote(500)
    scans: asyncio.Queue[str] = asyncio.Queue()
    await scans.put(CODE)
    with pytest.raises(PaymentFailed):
        await run.collect(description="t", timeout_s=0.6, poll_s=0.05, scans=scans,
                          on_order=lambda o: None)
    micropay = backends.gateway.orders[run.tx.out_trade_no + "M"]
    assert micropay.status is OrderStatus.REVOKED and micropay.payments == 0
    with pytest.raises(GatewayError, match="ORDER_CLOSED"):
        backends.gateway.confirm(micropay.out_trade_no)


async def test_a_stale_decision_is_logged_and_settled_again(world, caplog):
    """Settling decides from what it read; if the transaction moved meanwhile the write fails
    (compare-and-set), the reason is logged, and it settles again from the journal as it is."""
    backends, core = world
    tx = await pending_tx(core)
    backends.gateway.pay(out_trade_no=tx.out_trade_no)
    backends.faults["payment"].update({"rules": [
        {"kind": "slow", "route": "GET /pay/v1/orders/{out_trade_no}", "times": 1,
         "delay_s": 0.5}]})
    core._owners[tx.tx_id] = Owner.RECONCILER
    settling = asyncio.ensure_future(core.settle(tx.tx_id, Owner.RECONCILER))
    await asyncio.sleep(0.2)                    # it has read PAYMENT_PENDING and asks the gateway
    moved = core.writer.transition(tx, TxState.PAID, "elsewhere", paid_trade_no=tx.out_trade_no)
    settlement = await settling
    assert any("stale" in r.getMessage() and getattr(r, "reason", "").startswith(
        "stale:payment_pending->paid:now_paid") for r in caplog.records)
    assert settlement.outcome.value == "refunded"
    assert [h[1] for h in core.journal.history(moved.tx_id)][-3:] == [
        "paid", "refund_pending", "refunded"]


def prereview_submitted(core):
    """A materials pre-review (no money) journaled SUBMITTED as TxRun.submit does, before it
    is put in the outbox."""
    writer = core.writer
    tx = writer.transition(writer.create("HZ-0012"), TxState.QUOTED, amount_fen=0)
    return writer.transition(tx, TxState.SUBMITTED, detail={
        "submit_backend": "certificates", "submit_path": "/prereview",
        "submit_record": ["prereview_id"], "delivery": ""})


async def test_a_submission_in_the_outbox_before_the_crash_is_not_cancelled(world, tmp_path):
    """The kiosk died after the outbox took the submission and before the journal said so: the
    reconciler must not cancel it as never submitted while the outbox holds its key, and the
    courier's delivery later reaches the journal through the core."""
    backends, core = world
    core.outbox_dir = tmp_path / "state"
    held, lost = prereview_submitted(core), prereview_submitted(core)
    outbox = Outbox(core.outbox_dir)
    body = {"subject": "s", "materials_pdf_b64": "JVBERi0xLjQK", "phone": "13800000000"}
    outbox.put(Submission(held.idempotency_key("submit"), "certificates", "/prereview", body,
                          held.tx_id))
    await core.reconcile(everything=True)
    kept = core.journal.get(held.tx_id)
    assert kept.state is TxState.CLOSED and kept.detail["queued"] == "outbox"
    assert outbox.holds(held.idempotency_key("submit"))
    assert core.journal.get(lost.tx_id).state is TxState.CANCELLED   # never reached anyone

    courier = Courier(outbox, core.services, lambda kind, reason: None,
                      on_delivered=note_delivery(core))
    assert await courier.deliver() == 1
    [review] = backends.services.prereviews.values()
    delivered = core.journal.get(held.tx_id).detail
    assert delivered["queued"] == "delivered"
    assert delivered["result"] == {"prereview_id": review["prereview_id"]}
    outbox.close()
