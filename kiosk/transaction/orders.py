"""What the kiosk knows of each order at the gateway, and the calls that learn it.

The gateway's answer to a call (create, micropay, close, reverse), its answer to a query and a
relayed payment notification are three views of one truth. Each becomes `OrderFacts`, and facts
are merged by a join: a view can only add knowledge (money taken is never un-taken by a later
"closed", a refund never shrinks), so duplicates and views arriving out of order change nothing.
The gateway's own answer in this settling (`confirmed`) is what decisions rest on; a
notification alone can make the kiosk aware of a payment, never sure that none happened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from enum import IntEnum

from kiosk.backends import (
    BackendError,
    NotificationClient,
    OrderStatus,
    PaymentClient,
    PaymentOrder,
)
from kiosk.journal import OrderKind, OrderRecord

log = logging.getLogger(__name__)


# How long the relay is asked to hold a request for a notification (it answers at once when one
# arrives); a new request follows straight away.
NOTIFY_WAIT_S = 20.0


class Standing(IntEnum):
    """An order's standing, in the order knowledge of it grows."""

    UNKNOWN = 0  # the gateway could not be asked
    ABSENT = 1  # the gateway never saw it
    OPEN = 2  # NOTPAY / USERPAYING: it could still take money
    UNPAID = 3  # closed or reversed with nothing taken: it never can
    PAID = 4  # money was taken (some or all of it may have been given back since)

    @property
    def label(self) -> str:
        return self.name.lower()


_FROM_STATUS = {OrderStatus.NOTPAY: Standing.OPEN, OrderStatus.USERPAYING: Standing.OPEN,
                OrderStatus.SUCCESS: Standing.PAID, OrderStatus.REFUND: Standing.PAID,
                OrderStatus.CLOSED: Standing.UNPAID}


@dataclass(frozen=True)
class OrderFacts:
    out_trade_no: str
    kind: OrderKind
    amount_fen: int
    standing: Standing = Standing.UNKNOWN
    refunded_fen: int = 0
    confirmed: bool = False  # the gateway itself answered, in this settling

    @classmethod
    def unknown(cls, record: OrderRecord) -> OrderFacts:
        return cls(record.out_trade_no, record.kind, record.amount_fen)

    def seen(self, status: OrderStatus, refunded_fen: int, *, confirmed: bool) -> OrderFacts:
        """These facts joined with one view of the order (an answer, a query, a notification)."""
        standing = _FROM_STATUS.get(status)
        if status is OrderStatus.REVOKED:  # a reversed micropay: taken and given back, or not
            standing = Standing.PAID if refunded_fen > 0 else Standing.UNPAID
        view = OrderFacts(self.out_trade_no, self.kind, self.amount_fen,
                          standing or Standing.UNKNOWN, refunded_fen, confirmed)
        return self.join(view)

    def join(self, other: OrderFacts) -> OrderFacts:
        return replace(self, standing=max(self.standing, other.standing),
                       refunded_fen=max(self.refunded_fen, other.refunded_fen),
                       confirmed=self.confirmed or other.confirmed)

    @property
    def paid(self) -> bool:
        return self.standing is Standing.PAID

    @property
    def kept_fen(self) -> int:
        return self.amount_fen - self.refunded_fen if self.paid else 0

    def record(self) -> OrderRecord:
        return OrderRecord(self.out_trade_no, self.kind, self.amount_fen, self.standing.label,
                           self.amount_fen if self.paid else 0, self.refunded_fen)


class OrderDesk:
    """The gateway calls that learn an order's facts or make it unpayable, plus the relay."""

    def __init__(self, payment: PaymentClient, relay: NotificationClient | None) -> None:
        self.payment = payment
        self.relay = relay

    def _answer(self, facts: OrderFacts, order: PaymentOrder) -> OrderFacts:
        return facts.seen(order.status, order.refunded_fen, confirmed=True)

    async def look(self, facts: OrderFacts) -> OrderFacts:
        """Asks the gateway (and reads the relay) about one order."""
        try:
            facts = self._answer(facts, await self.payment.query_order(facts.out_trade_no))
        except BackendError as exc:
            if exc.refused and exc.code == "ORDER_NOT_EXIST":
                facts = facts.join(replace(facts, standing=Standing.ABSENT, confirmed=True))
            else:
                log.info("order %s not known now: %s", facts.out_trade_no, exc.reason.value)
        return await self.notified(facts)

    async def notified(self, facts: OrderFacts) -> OrderFacts:
        """The facts joined with every relayed notification of the order."""
        if self.relay is None:
            return facts
        try:
            notes = await self.relay.notifications(facts.out_trade_no)
        except BackendError:
            return facts
        for note in notes:
            try:
                status = OrderStatus(note["status"])
                refunded = int(note.get("refunded_fen", 0))
            except (KeyError, ValueError, TypeError):
                continue
            if note.get("out_trade_no") == facts.out_trade_no:
                facts = facts.seen(status, refunded, confirmed=False)
        return facts

    async def watch(self, out_trade_no: str, noticed: asyncio.Event,
                    wait_s: float = NOTIFY_WAIT_S) -> None:
        """Sets `noticed` each time the relay has a new notification of the order, as it
        arrives (the relay holds each request up to `wait_s`); runs until cancelled. Without a
        relay it does nothing: the gateway is asked on a timer then."""
        if self.relay is None:
            return
        loop = asyncio.get_running_loop()
        held = 0
        while True:
            asked = loop.time()
            try:
                notes = await self.relay.notifications(out_trade_no, after=held, wait_s=wait_s)
            except BackendError as exc:
                log.info("notification relay not reached: %s", exc.reason.value)
                notes = []
            if len(notes) > held:
                held = len(notes)
                noticed.set()
            elif loop.time() - asked < wait_s / 2:
                # A relay that answered at once (unreachable, or not holding requests) is not
                # asked again in a loop: the gateway's query is the fallback meanwhile.
                await asyncio.sleep(wait_s / 2)

    async def make_unpayable(self, facts: OrderFacts) -> OrderFacts:
        """Learns the order and, if it could still take money, closes it (a QR order) or
        reverses it (a micropay, even one the gateway never saw: that bars a late request)."""
        facts = await self.look(facts)
        if not facts.confirmed or facts.standing in (Standing.PAID, Standing.UNPAID):
            return facts
        if facts.standing is Standing.ABSENT and facts.kind is OrderKind.NATIVE:
            return facts  # nobody holds the code of an order that was never created
        try:
            if facts.kind is OrderKind.MICROPAY:
                order = await self.payment.reverse_order(facts.out_trade_no, facts.amount_fen)
            else:
                order = await self.payment.close_order(facts.out_trade_no)
        except BackendError as exc:
            log.info("order %s not closed now: %s", facts.out_trade_no, exc.reason.value)
            if exc.refused:  # e.g. paid in the meantime: learn what it is now
                return await self.look(replace(facts, confirmed=False))
            # Closed or not, it may still take money: not confirmed any more.
            return replace(facts, confirmed=False)
        return self._answer(facts, order)
