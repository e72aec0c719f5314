"""The day's reconciliation entries: every order that took money, as the journal knows it.

What the payment gateway's own statement of the day should also show, one entry per order (a
transaction paid twice has two); the technician's `kiosk-journal export` formats them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.journal import Journal, Transaction


@dataclass(frozen=True)
class ReconciliationEntry:
    tx: Transaction
    order_no: str  # the order that took the money
    amount_fen: int
    refunded_fen: int

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.refunded_fen


def reconciliation_entries(journal: Journal, start: float, end: float) -> list[ReconciliationEntry]:
    """Orders of the transactions created in [start, end) that took money, or may have (a
    transaction not settled yet lists its orders of unknown standing too)."""
    entries = []
    for tx in journal.between(start, end):
        done: dict[str, int] = {}
        for refund in tx.refunds:
            if refund.done:
                done[refund.out_trade_no] = done.get(refund.out_trade_no, 0) + refund.amount_fen
        for order in tx.orders:
            unsure = not tx.final and order.standing in ("", "unknown", "open")
            if order.paid_fen or order.out_trade_no == tx.paid_trade_no or unsure:
                refunded = max(order.refunded_fen, done.get(order.out_trade_no, 0))
                entries.append(ReconciliationEntry(tx, order.out_trade_no, order.amount_fen,
                                                   refunded))
    return entries
