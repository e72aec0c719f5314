"""The transaction core: owners, settling, and the reconciler (see the package docstring)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.backends import BackendError, NotificationClient, PaymentClient, ServiceClient
from kiosk.journal import AGENT_ID, Journal, Transaction, TxState
from kiosk.json_object import JsonObject
from kiosk.outbox import OUTBOX_FILE, Outbox
from kiosk.transaction.journal_writer import (
    IllegalTransition,
    JournalWriter,
    StaleTransition,
    submission_refs,
)
from kiosk.transaction.orders import OrderDesk, OrderFacts
from kiosk.transaction.ownership import Owner
from kiosk.transaction.run import TxRun
from kiosk.transaction.settlement import (
    Decision,
    Delivery,
    Facts,
    Settlement,
    Verdict,
    decide,
    settlement_of,
)

log = logging.getLogger(__name__)


def agent_detail(agent_id: str) -> JsonObject:
    return {AGENT_ID: agent_id, "agent_consent": "on_screen"} if agent_id else {}

MAX_RETRY_S = 3600.0
RECONCILER_TURN_S = 20.0  # the longest a starting citizen waits for the reconciler
_ROUNDS = 6  # a refund takes three (journal it, make it, see it); stale decisions add more


@dataclass
class ReconcileReport:
    outcomes: Counter[str] = field(default_factory=Counter)  # outcome -> count
    deferred: list[str] = field(default_factory=list)  # tx ids not settled yet
    skipped: int = 0  # owned by a live flow, or not due yet

    def as_json(self) -> JsonObject:
        return {"outcomes": dict(self.outcomes), "deferred": len(self.deferred)}


class TransactionCore:
    """Owns every transaction: creates them, writes the journal, settles them."""

    def __init__(self, writer: JournalWriter, payment: PaymentClient,
                 services: dict[str, ServiceClient], *, kiosk_id: str,
                 relay: NotificationClient | None = None, retry_s: float = 30.0,
                 outbox_dir: Path | None = None) -> None:
        self.writer = writer
        self.outbox_dir = outbox_dir  # where kiosk.outbox keeps submissions accepted offline
        self.payment = payment
        self.services = services
        self.kiosk_id = kiosk_id
        self.orders = OrderDesk(payment, relay)
        self.retry_s = retry_s
        self._owners: dict[str, Owner] = {}
        self._turn = asyncio.Lock()  # the reconciler settles one tx under it; begin() waits
        self._pass = asyncio.Lock()  # one reconciliation pass at a time

    @classmethod
    def open(cls, path: Path, kiosk_id: str, payment: PaymentClient,
             services: dict[str, ServiceClient], *, crash_after: str | None = None,
             relay: NotificationClient | None = None, retry_s: float = 30.0,
             outbox_dir: Path | None = None) -> TransactionCore:
        return cls(JournalWriter(path, kiosk_id, crash_after), payment, services,
                   kiosk_id=kiosk_id, relay=relay, retry_s=retry_s, outbox_dir=outbox_dir)

    @property
    def journal(self) -> Journal:
        """The journal, to read."""
        return self.writer

    def close(self) -> None:
        self.writer.close()

    def owner(self, tx_id: str) -> Owner | None:
        return self._owners.get(tx_id)

    @property
    def live_flows(self) -> int:
        return sum(owner is Owner.FLOW for owner in self._owners.values())

    # -- the citizen's side -------------------------------------------------------------------

    async def begin(self, service: str, agent_id: str = "") -> TxRun:
        """A new transaction, owned by the calling flow until `TxRun.finish`. Waits while the
        reconciler settles a transaction (at most one: its pass then gives way). `agent_id`: a
        village agent runs it for a citizen who consented on screen (journaled from the start,
        so the fleet's summary and the evaluation say so; never the citizen's data)."""
        async with self._turn:
            tx = self.writer.create(service, agent_detail(agent_id))
            self._owners[tx.tx_id] = Owner.FLOW
        log.info("transaction %s started for %s", tx.tx_id, service,
                 extra={"transaction": tx.tx_id})
        return TxRun(self, tx)

    def release(self, tx_id: str) -> None:
        self._owners.pop(tx_id, None)

    # -- settling -----------------------------------------------------------------------------

    async def settle(self, tx_id: str, owner: Owner) -> Settlement:
        """Drives the transaction to its end as far as the facts allow. The caller must own it."""
        if self._owners.get(tx_id) is not owner:
            raise RuntimeError(f"{owner.value} does not own transaction {tx_id}")
        reason = ""
        for _ in range(_ROUNDS):
            tx = self.writer.get(tx_id)
            if tx.state is TxState.NEEDS_ATTENTION and owner is Owner.FLOW:
                await self._gather(tx)  # what the citizen is told rests on facts, even so
                return settlement_of(self.writer.get(tx_id))
            if tx.final or tx.state is TxState.NEEDS_ATTENTION:
                return settlement_of(tx)
            facts = await self._gather(tx)
            decision = decide(tx, facts)  # from the state the facts were gathered for
            reason = decision.reason
            try:
                tx = self._carry_out(tx, facts, decision)
            except StaleTransition as exc:
                # Someone moved it since it was read: log why, read it again, decide again.
                log.warning("stale decision on %s: %s", tx_id, exc,
                            extra={"transaction": tx_id, "reason": exc.reason})
                continue
            if decision.verdict is Verdict.WAIT:
                return settlement_of(tx, f"checking:{reason}")
        tx = self.writer.get(tx_id)
        if not tx.final and tx.state is not TxState.NEEDS_ATTENTION:
            tx = self._defer(tx, f"checking:{reason or 'did_not_converge'}")
        return settlement_of(tx)

    async def _gather(self, tx: Transaction) -> Facts:
        """Everything the decision rests on, learned now: journaled refunds made (again: they
        are keyed), every order asked about and made unpayable, the delivery asked about."""
        unconfirmed, refused = 0, ""
        for refund in tx.refunds:
            if refund.done:
                continue
            try:
                await self.payment.refund(refund.out_refund_no, refund.out_trade_no,
                                          refund.amount_fen)
            except BackendError as exc:
                if exc.refused:
                    refused = refused or exc.code or str(exc.status)
                else:
                    unconfirmed += 1
                continue
            self.writer.refund_done(refund)
        orders = []
        for record in tx.orders:
            facts = await self.orders.make_unpayable(OrderFacts.unknown(record))
            if facts.confirmed:
                self.writer.learned(tx, facts.record())
            orders.append(facts)
        delivery, delivered_fen, found = await self._delivery(tx)
        return Facts(tuple(orders), delivery, delivered_fen, found, unconfirmed, refused)

    async def _delivery(self, tx: Transaction) -> tuple[Delivery, int, JsonObject | None]:
        detail = tx.detail
        if "delivered_fen" in detail:
            if detail.get("copies_printing", 0) > detail.get("copies_printed", 0):
                return Delivery.IN_DOUBT, 0, None
            delivered = int(detail["delivered_fen"])
            worth_it = delivered > 0 or not tx.amount_fen
            return (Delivery.DELIVERED if worth_it else Delivery.NONE), delivered, None
        if detail.get("handover") == "dispensing":
            return Delivery.IN_DOUBT, 0, None  # the document may be at the mouth: a person looks
        if detail.get("submit_refused") or not detail.get("submit_path"):
            return Delivery.NONE, 0, None
        if detail.get("queued") is None and tx.state is TxState.SUBMITTED:
            held = self._in_outbox(tx.idempotency_key("submit"))
            if held is not None:
                # Accepted into the outbox before a crash let the journal say so: the courier
                # sends it (or has), under this key. Never cancelled as never submitted.
                return Delivery.DELIVERED, tx.amount_fen or 0, held
        backend = self.services.get(detail.get("submit_backend", ""))
        if backend is None:
            return Delivery.UNKNOWN, 0, None
        try:
            found = await backend.find_submission(detail["submit_path"],
                                                  tx.idempotency_key("submit"))
        except BackendError as exc:
            log.info("submission of %s not known now: %s", tx.tx_id, exc.reason.value)
            return Delivery.UNKNOWN, 0, None
        if found is None:
            return Delivery.NONE, 0, None
        if detail.get("delivery") == "print" and tx.amount_fen:
            return Delivery.NONE, 0, found  # issued, but the citizen never got the paper
        return Delivery.DELIVERED, tx.amount_fen or 0, found

    def _in_outbox(self, key: str) -> JsonObject | None:
        """What the outbox knows of `key`: {"queued": "outbox"} while it waits, the backend's
        ids once delivered; None when it never held it (or there is no outbox)."""
        if self.outbox_dir is None or not (self.outbox_dir / OUTBOX_FILE).exists():
            return None
        outbox = Outbox(self.outbox_dir)
        try:
            if outbox.holds(key):
                return {"queued": "outbox"}
            delivered = outbox.delivered_result(key)
            return None if delivered is None else {**delivered, "queued": "delivered"}
        finally:
            outbox.close()

    def delivered_later(self, tx_id: str, result: JsonObject) -> None:
        """The outbox's courier delivered a submission accepted offline: the backend's reference
        numbers (those the catalog's `record` names) join the transaction's detail."""
        try:
            tx = self.writer.get(tx_id)
        except KeyError:
            return  # folded by retention long after it was accepted
        refs = submission_refs(result, tx.detail.get("submit_record", []))
        self.writer.annotate(tx, {"result": refs, "queued": "delivered",
                                  "delivered_at": time.time()})

    def _carry_out(self, tx: Transaction, facts: Facts, decision: Decision) -> Transaction:
        verdict, why = decision.verdict, f"settle:{decision.reason}"
        if verdict is Verdict.WAIT:
            return self._defer(tx, f"checking:{decision.reason}")
        if verdict is Verdict.ATTENTION:
            return self._move(tx, TxState.NEEDS_ATTENTION, why)
        if verdict is Verdict.CANCEL:
            return self._move(tx, TxState.CANCELLED, why)
        if facts.submission is not None and tx.state is TxState.SUBMITTED:
            record = tx.detail.get("submit_record", [])
            queued = facts.submission.get("queued")
            tx = self._move(tx, TxState.FULFILLED, "settle:found_submitted", detail={
                "result": submission_refs(facts.submission, record),
                "delivered_fen": facts.delivered_fen, **({"queued": queued} if queued else {})})
        if verdict is Verdict.CLOSE:
            return self._move(tx, TxState.CLOSED, why)
        if tx.state is TxState.PAYMENT_PENDING:
            tx = self._move(tx, TxState.PAID, "settle:paid_while_ending",
                            paid_trade_no=decision.paid_trade_no)
        if tx.state is not TxState.REFUND_PENDING:
            tx = self._move(tx, TxState.REFUND_PENDING, why)
        if verdict is Verdict.REFUNDED:
            return self._move(tx, TxState.REFUNDED, why)
        for trade_no, amount in decision.refunds:
            self.writer.record_refund(tx, trade_no, amount, decision.reason)
        return self.writer.get(tx.tx_id)

    def _move(self, tx: Transaction, to: TxState, reason: str, **fields: object) -> Transaction:
        try:
            # arg-type: mypy reads **fields as possibly `order`/`attention`; _move's callers pass
            # only journal columns (detail, paid_trade_no), which transition checks at run time.
            return self.writer.transition(tx, to, reason, **fields)  # type: ignore[arg-type]
        except IllegalTransition as exc:
            log.error("%s", exc, extra={"transaction": tx.tx_id})
            return self.writer.transition(tx, TxState.NEEDS_ATTENTION,
                                          f"settle:no_way_from_{tx.state.value}_to_{to.value}")

    def interrupted(self, tx_id: str) -> Settlement:
        """Settling stopped before it ended (a time limit, a bug): the transaction waits for
        the reconciler's next pass, with the reason operators see."""
        tx = self.writer.get(tx_id)
        if not tx.final and tx.state is not TxState.NEEDS_ATTENTION:
            tx = self._defer(tx, "checking:interrupted")
        return settlement_of(tx)

    def _defer(self, tx: Transaction, reason: str) -> Transaction:
        retry_in = min(self.retry_s * 2 ** min(tx.settle_attempts, 12), MAX_RETRY_S)
        log.warning("transaction %s not settled yet (%s); again in %.0f s", tx.tx_id, reason,
                    retry_in, extra={"transaction": tx.tx_id, "reason": reason})
        return self.writer.defer(tx, reason, retry_in)

    # -- retention ----------------------------------------------------------------------------

    def fold_ended(self, ended_before: float, limit: int) -> int:
        """Settled transactions that ended before `ended_before` leave the journal for its
        per-day totals (kiosk.retention, between citizens); the journal's one writer does it."""
        return self.writer.fold_ended(ended_before, limit)

    # -- the reconciler -----------------------------------------------------------------------

    async def reconcile(self, *, everything: bool = False) -> ReconcileReport:
        """Settles every unfinished transaction no live flow owns: at start-up (`everything`),
        and between citizens for those whose retry is due. Gives way to a starting citizen
        after the transaction it is on."""
        report = ReconcileReport()
        async with self._pass:
            for tx_id in [tx.tx_id for tx in self.writer.unfinished()]:
                if self.live_flows and not everything:
                    report.skipped += 1  # a citizen is being served: next pass
                    continue
                async with self._turn:
                    settlement = await self._reconcile_one(tx_id, everything, report)
                if settlement is not None:
                    report.outcomes[settlement.outcome.value] += 1
                    if settlement.outcome.value == "checking":
                        report.deferred.append(tx_id)
        return report

    async def _reconcile_one(self, tx_id: str, everything: bool,
                             report: ReconcileReport) -> Settlement | None:
        if tx_id in self._owners:
            report.skipped += 1
            return None
        tx = self.writer.get(tx_id)
        if tx.final:
            return None
        if tx.state is not TxState.NEEDS_ATTENTION and not everything \
                and tx.next_settle_at > time.time():
            report.skipped += 1
            return None
        self._owners[tx_id] = Owner.RECONCILER
        try:
            # Between citizens one settle is bounded: a citizen starting a service waits for it.
            # Stopping it half-way is safe: every write is compare-and-set, every call keyed.
            settlement = await asyncio.wait_for(self.settle(tx_id, Owner.RECONCILER),
                                                None if everything else RECONCILER_TURN_S)
        except TimeoutError:
            settlement = self.interrupted(tx_id)
        except Exception:  # a bug must not stop the pass: the others still get settled
            log.exception("settling %s failed", tx_id, extra={"transaction": tx_id})
            settlement = self.interrupted(tx_id)
        finally:
            self.release(tx_id)
        log.info("reconciled %s: %s", tx_id, settlement.outcome.value,
                 extra={"transaction": tx_id, "reason": settlement.reason})
        return settlement
