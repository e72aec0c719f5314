"""Taking and giving back money: the QR order, micropay by payment code, close, refund.

The journal is written before each call that can move money, and every call is keyed by the
transaction (`out_trade_no`, `out_refund_no`), so a retry or a crash can never charge twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from kiosk.backends import BackendError, BackendReason, OrderStatus, PaymentClient, PaymentOrder
from kiosk.journal import Journal, Transaction, TxState

log = logging.getLogger(__name__)

PAYMENT_CODE = re.compile(r"^1[0-5]\d{16}$")  # the 18-digit code a payment app shows


def out_trade_no_for(kiosk_id: str, tx: Transaction) -> str:
    return f"{kiosk_id[-4:]}{tx.tx_id}"


def out_refund_no_for(tx: Transaction) -> str:
    return f"{tx.tx_id}R1"


class PaymentOutcome(Exception):
    """The payment did not happen: `reason` is payment_timeout or payment_declined."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def settle_unpaid(payment: PaymentClient, out_trade_no: str) -> PaymentOrder | None:
    """Makes an order unpayable; returns it (it may turn out to be paid), None if unknown."""
    try:
        order = await payment.close_order(out_trade_no)
    except BackendError as exc:
        if exc.code == "ORDER_NOT_EXIST":
            return None
        raise
    if order.status is OrderStatus.USERPAYING:
        order = await payment.reverse_order(out_trade_no)
    return order


async def collect(
    payment: PaymentClient,
    journal: Journal,
    tx: Transaction,
    *,
    description: str,
    timeout_s: float,
    poll_s: float,
    scans: asyncio.Queue[str],
    on_order: Callable[[PaymentOrder], None],
) -> Transaction:
    """Takes `tx.amount_fen` by QR order, or by a scanned payment code; returns the PAID tx."""
    assert tx.amount_fen and tx.out_trade_no
    order = await payment.create_order(tx.out_trade_no, tx.amount_fen, description)
    on_order(order)
    deadline = time.monotonic() + timeout_s
    while True:
        if order.status is OrderStatus.SUCCESS:
            return journal.transition(tx, TxState.PAID, paid_trade_no=order.out_trade_no)
        if time.monotonic() > deadline:
            break
        code = None
        try:
            code = await asyncio.wait_for(scans.get(), poll_s)
        except TimeoutError:
            pass
        if code is not None and PAYMENT_CODE.match(code):
            order = await _micropay_instead(payment, journal, tx, code, description, deadline)
            continue
        try:
            order = await payment.query_order(tx.out_trade_no)
        except BackendError:
            log.warning("order query failed; retrying", extra={"transaction": tx.tx_id})
    # Time is up: every order of this transaction is made unpayable (a micropay still waiting
    # for the citizen's confirmation too); if one was paid at the last moment, it counts.
    micropay_no = journal.get(tx.tx_id).detail.get("micropay_out_trade_no")
    for trade_no in filter(None, (tx.out_trade_no, micropay_no)):
        final = await settle_unpaid(payment, trade_no)
        if final is not None and final.status is OrderStatus.SUCCESS:
            return journal.transition(tx, TxState.PAID, "paid_at_close",
                                      paid_trade_no=final.out_trade_no)
    raise PaymentOutcome("payment_timeout")


async def _micropay_instead(
    payment: PaymentClient,
    journal: Journal,
    tx: Transaction,
    code: str,
    description: str,
    deadline: float,
) -> PaymentOrder:
    """The citizen showed a payment code: the QR order is closed first so only one can pay."""
    assert tx.out_trade_no and tx.amount_fen
    closed = await settle_unpaid(payment, tx.out_trade_no)
    if closed is not None and closed.status is OrderStatus.SUCCESS:
        return closed
    # A new trade number for the micropay, journaled before the call.
    micropay_no = tx.out_trade_no + "M"
    journal.annotate(tx, {"micropay_out_trade_no": micropay_no})
    try:
        order = await payment.micropay(micropay_no, tx.amount_fen, code, description)
    except BackendError as exc:
        if exc.code in ("NOTENOUGH", "AUTH_CODE_INVALID"):
            raise PaymentOutcome("payment_declined") from exc
        raise
    while order.status is OrderStatus.USERPAYING and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        order = await payment.query_order(micropay_no)
    return order


async def refund(
    payment: PaymentClient, journal: Journal, tx: Transaction, reason: str
) -> Transaction:
    """Gives the whole amount back; REFUND_PENDING is journaled before the gateway is asked.

    A transient failure leaves the transaction REFUND_PENDING for recovery to finish; a refusal
    marks it needs_attention with the gateway's reason.
    """
    trade_no, amount = tx.paid_trade_no or tx.out_trade_no, tx.amount_fen
    assert trade_no and amount, "only a paid transaction can be refunded"
    if tx.state is not TxState.REFUND_PENDING:
        tx = journal.transition(tx, TxState.REFUND_PENDING, reason)
    try:
        await payment.refund(out_refund_no_for(tx), trade_no, amount)
    except BackendError as exc:
        if exc.reason is BackendReason.REJECTED and exc.status < 500:
            return journal.transition(tx, TxState.NEEDS_ATTENTION, f"refund_refused:{exc.code}")
        raise
    return journal.transition(tx, TxState.REFUNDED, reason)
