"""The run object: one citizen's transaction as the flow's steps move it, and the payment.

Every move goes through the core's journal writer from the state this run last saw
(compare-and-set); every order number is journaled before the call that creates it; the run is
owned by its flow until `finish`, which settles it and hands it to the reconciler if it is not
settled yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kiosk.backends import BackendError, PaymentOrder, ServiceClient
from kiosk.journal import OrderKind, Transaction, TxState
from kiosk.json_object import JsonObject
from kiosk.outbox import Outbox, Submission
from kiosk.transaction.journal_writer import submission_refs
from kiosk.transaction.orders import OrderFacts, Standing
from kiosk.transaction.ownership import Owner
from kiosk.transaction.settlement import Settlement

if TYPE_CHECKING:
    from kiosk.transaction.core import TransactionCore

log = logging.getLogger(__name__)

PAYMENT_CODE = re.compile(r"^1[0-5]\d{16}$")  # the 18-digit code a payment app shows
SETTLE_WAIT_S = 45.0  # the citizen waits this long at most for the ending to be settled


class PaymentProblem(StrEnum):
    """Why the payment step stopped (values are kiosk.flow.Reason values)."""

    TIMEOUT = "payment_timeout"
    DECLINED = "payment_declined"
    GATEWAY_UNAVAILABLE = "backend_unavailable"
    GATEWAY_REFUSED = "backend_rejected"


class PaymentFailed(Exception):
    def __init__(self, problem: PaymentProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class SubmissionFailed(Exception):
    """The backend refused the submission (`refused`), or its outcome is unknown."""

    def __init__(self, error: BackendError, refused: bool) -> None:
        super().__init__(str(error))
        self.error, self.refused = error, refused


class TxRun:
    """One flow's transaction. `tx` is the journal's row as this run last wrote or read it."""

    def __init__(self, core: TransactionCore, tx: Transaction) -> None:
        self.core = core
        self.tx = tx
        self._writer = core.writer

    @property
    def tx_id(self) -> str:
        return self.tx.tx_id

    @property
    def charged(self) -> bool:
        return bool(self.tx.amount_fen) and self.tx.state in (
            TxState.PAID, TxState.SUBMITTED, TxState.FULFILLED, TxState.RECEIPTED)

    # Any: JournalWriter.transition's keywords, each of its own type (order=, the columns).
    def _move(self, to: TxState, reason: str | None = None, **fields: Any) -> None:
        self.tx = self._writer.transition(self.tx, to, reason, **fields)

    def identify(self, subject: str) -> None:
        if self.tx.state is TxState.CREATED:
            self._move(TxState.IDENTIFIED, subject=subject)

    def quote(self, amount_fen: int, detail: JsonObject | None = None) -> None:
        if self.tx.state in (TxState.CREATED, TxState.IDENTIFIED):
            self._move(TxState.QUOTED, amount_fen=amount_fen, detail=detail or {})

    def annotate(self, detail: JsonObject) -> None:
        self.tx = self._writer.annotate(self.tx, detail)

    def needs_attention(self, reason: str) -> None:
        self._move(TxState.NEEDS_ATTENTION, reason)

    # -- the payment --------------------------------------------------------------------------

    def _order_no(self, kind: OrderKind) -> str:
        qr = f"{self.core.kiosk_id[-4:]}{self.tx.tx_id}"
        if kind is OrderKind.NATIVE:
            return qr
        earlier = sum(o.kind is kind for o in self.tx.orders)
        return f"{qr}M{earlier + 1 if earlier else ''}"

    async def collect(self, *, description: str, timeout_s: float, poll_s: float,
                      scans: asyncio.Queue[str],
                      on_order: Callable[[PaymentOrder], None]) -> None:
        """Takes the quoted amount by QR order, or by a scanned payment code; PAID on return.

        Raises PaymentFailed when no money could be taken in time: every order has then been
        made unpayable, or is left for settling (which does it) if the gateway did not answer.
        """
        amount = self.tx.amount_fen
        assert amount, "only a priced transaction is paid"
        qr = self._order_no(OrderKind.NATIVE)
        self._move(TxState.PAYMENT_PENDING, out_trade_no=qr, order=(qr, OrderKind.NATIVE, amount))
        desk = self.core.orders
        try:
            order = await self.core.payment.create_order(qr, amount, description)
        except BackendError as exc:
            raise PaymentFailed(PaymentProblem.GATEWAY_REFUSED if exc.refused
                                else PaymentProblem.GATEWAY_UNAVAILABLE) from exc
        on_order(order)
        facts = OrderFacts(qr, OrderKind.NATIVE, amount).seen(order.status, order.refunded_fen,
                                                               confirmed=True)
        deadline = time.monotonic() + timeout_s
        # The gateway's notification (through the relay) says at once that the QR order
        # changed; the query every `poll_s` is the fallback for a notification that never comes.
        noticed = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(desk.watch(qr, noticed))
        try:
            while not facts.paid and time.monotonic() < deadline:
                code = await _code_or_notice(scans, noticed, poll_s)
                if code is not None and PAYMENT_CODE.match(code):
                    watcher.cancel()   # the QR order is closed next
                    facts = await self._micropay(code, description, deadline, poll_s)
                elif facts.out_trade_no == qr:
                    noticed.clear()
                    facts = await desk.look(facts)
        finally:
            watcher.cancel()
        if not facts.paid:
            # Time is up: every order is made unpayable (a micropay still waiting for the
            # citizen's confirmation too); one paid at the last moment still counts.
            finals = [await desk.make_unpayable(OrderFacts.unknown(o)) for o in self.tx.orders]
            facts = next((f for f in finals if f.paid), facts)
            if not facts.paid:
                unsure = any(not f.confirmed or f.standing is Standing.OPEN for f in finals)
                raise PaymentFailed(PaymentProblem.GATEWAY_UNAVAILABLE if unsure
                                    else PaymentProblem.TIMEOUT)
        self._move(TxState.PAID, paid_trade_no=facts.out_trade_no)

    async def _micropay(self, code: str, description: str, deadline: float,
                        poll_s: float) -> OrderFacts:
        """The citizen showed a payment code: the QR order is closed first, so only one of the
        two can take the money; then the micropay, asked about until its outcome is known."""
        amount = self.tx.amount_fen or 0
        desk = self.core.orders
        qr = next(o for o in self.tx.orders if o.kind is OrderKind.NATIVE)
        closed = await desk.make_unpayable(OrderFacts.unknown(qr))
        if closed.paid:
            return closed
        if not closed.confirmed or closed.standing is Standing.OPEN:
            raise PaymentFailed(PaymentProblem.GATEWAY_UNAVAILABLE)
        number = self._order_no(OrderKind.MICROPAY)
        self.tx = self._writer.record_order(self.tx, number, OrderKind.MICROPAY, amount)
        facts = OrderFacts(number, OrderKind.MICROPAY, amount)
        try:
            order = await self.core.payment.micropay(number, amount, code, description)
            facts = facts.seen(order.status, order.refunded_fen, confirmed=True)
        except BackendError as exc:
            if exc.refused:  # not enough money, a wrong code: the gateway took nothing
                raise PaymentFailed(PaymentProblem.DECLINED) from exc
            log.warning("micropay answer lost; asking the gateway",
                        extra={"transaction": self.tx_id, "reason": exc.reason.value})
        # It may wait for the citizen to confirm on the phone, or its answer was lost: asked
        # again as its notification arrives, or after `poll_s` without one.
        noticed = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(desk.watch(number, noticed))
        try:
            while facts.standing in (Standing.UNKNOWN, Standing.OPEN) \
                    and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(noticed.wait(), poll_s)
                noticed.clear()
                facts = await desk.look(facts)
        finally:
            watcher.cancel()
        if facts.standing is Standing.ABSENT:  # it never reached the gateway, retries and all
            raise PaymentFailed(PaymentProblem.GATEWAY_UNAVAILABLE)
        return facts

    # -- the submission -----------------------------------------------------------------------

    async def submit(self, client: ServiceClient, backend: str, path: str, body: JsonObject, *,
                     record: list[str], delivery: str = "", outbox: Outbox | None = None,
                     link_down: bool = False) -> JsonObject | None:
        """The side effect the citizen came for: SUBMITTED is journaled first, the call carries
        the transaction's key, and an unknown outcome is asked about before anything is decided.
        `delivery="print"`: what the citizen gets is the printout, worth what is printed.
        With `outbox` (an item that may wait, kiosk.offline_submission: it takes no money), a
        submission the backend cannot be reached for (`link_down`: known before trying) is
        accepted into it under the same key instead of failing: None then."""
        key = self.tx.idempotency_key("submit")
        self._move(TxState.SUBMITTED, detail={"submit_backend": backend, "submit_path": path,
                                              "submit_record": record, "delivery": delivery})
        if outbox is not None and link_down:
            self._into_outbox(outbox, Submission(key, backend, path, body, self.tx_id))
            return None
        try:
            result = await client.submit(path, body, key)
        except BackendError as exc:
            if exc.refused:
                self.annotate({"submit_refused": exc.code or str(exc.status)})
                raise SubmissionFailed(exc, refused=True) from exc
            try:  # unknown outcome: what became of this key?
                found = await client.find_submission(path, key)
            except BackendError:
                if outbox is not None:  # the courier sends it again with this key: never twice
                    self._into_outbox(outbox, Submission(key, backend, path, body, self.tx_id))
                    return None
                raise SubmissionFailed(exc, refused=False) from exc
            if found is None:
                raise SubmissionFailed(exc, refused=False) from exc
            result = found
        worth = 0 if delivery == "print" else (self.tx.amount_fen or 0)
        self._move(TxState.FULFILLED, detail={"result": submission_refs(result, record),
                                              "delivered_fen": worth})
        return result

    def _into_outbox(self, outbox: Outbox, submission: Submission) -> None:
        """Durably in the outbox first, then FULFILLED by the kiosk. A crash between the two
        leaves it SUBMITTED: settling finds the key in the outbox (core._delivery) and does
        not cancel it."""
        outbox.put(submission)  # False: this key is there already (or delivered): never twice
        log.info("submission of %s waits in the outbox", self.tx.service,
                 extra={"transaction": self.tx_id})
        self._move(TxState.FULFILLED, detail={"result": {}, "queued": "outbox",
                                              "delivered_fen": self.tx.amount_fen or 0})

    def printing_copy(self, number: int) -> None:
        self.annotate({"copies_printing": number})

    def printed_copies(self, printed: int, of: int, in_doubt: bool = False) -> None:
        """`printed` of `of` copies came out: that share of the price is what was delivered.
        `in_doubt`: the copy being printed may have come out too (only a person can tell)."""
        amount = self.tx.amount_fen or 0
        detail = {"copies_printed": printed, "delivered_fen": amount * printed // of}
        self.annotate(detail if in_doubt else {**detail, "copies_printing": printed})

    def receipted(self, detail: JsonObject | None = None) -> None:
        if self.tx.state is TxState.FULFILLED:
            self._move(TxState.RECEIPTED, detail=detail or {})

    # -- a document the kiosk holds, handed over (the dispenser) ----------------------------------

    def handing_over(self, detail: JsonObject) -> None:
        """A document leaves the kiosk's keeping: SUBMITTED with which one and from where,
        journaled before the device moves (`handover` is "dispensing" until it is known)."""
        self._move(TxState.SUBMITTED, detail={**detail, "handover": "dispensing"})

    def handed_over(self, handover: str, reason: str | None = None) -> None:
        """It reached the citizen, or the retain bin (safe, and the fleet told): delivered."""
        self._move(TxState.FULFILLED, reason, detail={"handover": handover,
                                                      "delivered_fen": self.tx.amount_fen or 0})

    def not_handed_over(self, why: str) -> None:
        """It never left the unit: nothing delivered; settling ends the transaction."""
        self.annotate({"handover": "not_dispensed", "not_dispensed": why})

    # -- the end ------------------------------------------------------------------------------

    async def finish(self) -> Settlement:
        """Settles the transaction and gives it up: to nobody if it is settled, else to the
        reconciler, which goes on with it. Never raises for the gateway's or backends' sake."""
        try:
            settlement = await asyncio.wait_for(
                self.core.settle(self.tx_id, Owner.FLOW), SETTLE_WAIT_S)
        except Exception as exc:  # a time-out, a bug: the reconciler goes on with it either way
            log.warning("settling %s did not finish: %r", self.tx_id, exc,
                        extra={"transaction": self.tx_id}, exc_info=not isinstance(
                            exc, TimeoutError))
            settlement = self.core.interrupted(self.tx_id)
        finally:
            self.core.release(self.tx_id)
        self.tx = self.core.writer.get(self.tx_id)
        return settlement


async def _code_or_notice(scans: asyncio.Queue[str], noticed: asyncio.Event,
                          wait_s: float) -> str | None:
    """A scanned code, or None when the order was noticed to change or `wait_s` is over."""
    scan = asyncio.ensure_future(scans.get())
    notice = asyncio.ensure_future(noticed.wait())
    try:
        await asyncio.wait((scan, notice), timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        notice.cancel()
        if not scan.done():
            scan.cancel()
    return scan.result() if scan.done() and not scan.cancelled() else None
