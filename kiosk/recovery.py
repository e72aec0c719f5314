"""Reconciliation of unfinished transactions with the backends, before the attract screen.

Each unfinished transaction is driven to a final state (closed, cancelled, refunded) or marked
needs_attention with the reason; nothing is left unknown. Every action is idempotent, so
recovery itself may be interrupted and run again.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from kiosk.backends import BackendError, OrderStatus, PaymentClient, ServiceClient
from kiosk.journal import Journal, Transaction, TxState
from kiosk.payments import refund, settle_unpaid

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    outcomes: Counter = field(default_factory=Counter)  # final state -> count
    deferred: list[str] = field(default_factory=list)  # tx ids a backend was unreachable for

    def as_json(self) -> dict:
        return {"outcomes": dict(self.outcomes), "deferred": len(self.deferred)}


class Recovery:
    def __init__(
        self, journal: Journal, payment: PaymentClient, services: dict[str, ServiceClient]
    ) -> None:
        self.journal = journal
        self.payment = payment
        self.services = services

    async def run(self) -> RecoveryReport:
        report = RecoveryReport()
        for tx in self.journal.unfinished():
            if tx.state is TxState.NEEDS_ATTENTION:
                report.outcomes["needs_attention"] += 1
                continue
            try:
                final = await self.reconcile(tx)
            except BackendError as exc:
                log.warning(
                    "transaction %s deferred: %s",
                    tx.tx_id,
                    exc.reason.value,
                    extra={"transaction": tx.tx_id, "reason": exc.reason.value},
                )
                report.deferred.append(tx.tx_id)
                continue
            report.outcomes[final.state.value] += 1
            log.info(
                "recovered %s: %s", tx.tx_id, final.state.value, extra={"transaction": tx.tx_id}
            )
        return report

    def _move(self, tx: Transaction, to: TxState, reason: str, **fields: object) -> Transaction:
        return self.journal.transition(tx, to, f"recovery:{reason}", **fields)

    async def reconcile(self, tx: Transaction) -> Transaction:
        state = tx.state
        if state in (TxState.CREATED, TxState.IDENTIFIED, TxState.QUOTED):
            return self._move(tx, TxState.CANCELLED, "nothing_paid")
        if state is TxState.PAYMENT_PENDING:
            return await self._payment_pending(tx)
        if state is TxState.PAID:
            return await refund(self.payment, self.journal, tx, "recovery:not_submitted")
        if state is TxState.SUBMITTED:
            return await self._submitted(tx)
        if state in (TxState.FULFILLED, TxState.RECEIPTED):
            return self._move(tx, TxState.CLOSED, "fulfilled")
        if state is TxState.REFUND_PENDING:
            return await refund(self.payment, self.journal, tx, "recovery:refund_retry")
        return tx

    async def _payment_pending(self, tx: Transaction) -> Transaction:
        paid = None
        for trade_no in filter(None, (tx.out_trade_no, tx.detail.get("micropay_out_trade_no"))):
            order = await settle_unpaid(self.payment, trade_no)
            if order is not None and order.status is OrderStatus.SUCCESS:
                paid = order
        if paid is None:
            return self._move(tx, TxState.CANCELLED, "order_closed_unpaid")
        # The citizen paid, but the kiosk died before the service: give the money back.
        tx = self._move(tx, TxState.PAID, "paid_before_crash", paid_trade_no=paid.out_trade_no)
        return await refund(self.payment, self.journal, tx, "recovery:paid_not_served")

    async def _submitted(self, tx: Transaction) -> Transaction:
        backend = self.services.get(tx.detail.get("submit_backend", ""))
        path = tx.detail.get("submit_path")
        if backend is None or not path:
            return self._move(tx, TxState.NEEDS_ATTENTION, "submission_backend_unknown")
        result = await backend.find_submission(path, tx.idempotency_key("submit"))
        if result is not None:
            ids = {k: v for k, v in result.items() if k.endswith("_id") or k.endswith("_no")}
            tx = self._move(tx, TxState.FULFILLED, "found_submitted", detail={"result": ids})
            return self._move(tx, TxState.CLOSED, "fulfilled_receipt_not_printed")
        if tx.amount_fen:
            return await refund(self.payment, self.journal, tx, "recovery:never_submitted")
        return self._move(tx, TxState.CANCELLED, "never_submitted")
