"""Every write to the journal, compare-and-set, in one class only the transaction core holds.

A transition names the state it was decided from (the snapshot the caller read): if the row is
no longer in that state the write does not happen and `StaleTransition` says so. Each write is
one SQLite transaction (BEGIN IMMEDIATE, synchronous=FULL), made before the side effect it
enables. One kiosk process writes a journal: a second writer is refused (`JournalBusy`).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.journal import (
    FINAL_STATES,
    Journal,
    OrderKind,
    OrderRecord,
    RefundRecord,
    Transaction,
    TxState,
    allowed_transitions,
)
from kiosk.json_object import JsonObject


class IllegalTransition(Exception):
    """A move the state machine does not allow (a bug in the caller, never the weather)."""

    def __init__(self, tx_id: str, current: TxState, wanted: TxState, why: str = "") -> None:
        super().__init__(f"transaction {tx_id}: {current.value} -> {wanted.value} is not allowed"
                         + (f" ({why})" if why else ""))
        self.tx_id, self.current, self.wanted = tx_id, current, wanted


class StaleTransition(Exception):
    """The transaction moved since the caller read it: its decision was made on an old state."""

    def __init__(self, tx_id: str, expected: TxState, actual: TxState, wanted: TxState) -> None:
        super().__init__(f"transaction {tx_id}: decided from {expected.value} -> "
                         f"{wanted.value}, but it is {actual.value} now")
        self.tx_id, self.expected, self.actual, self.wanted = tx_id, expected, actual, wanted
        self.reason = f"stale:{expected.value}->{wanted.value}:now_{actual.value}"


class JournalBusy(Exception):
    """Another process writes this journal."""


def submission_refs(result: JsonObject, record: list[str] | tuple[str, ...]) -> JsonObject:
    """The reference numbers of a backend's answer that may be journaled: only the fields the
    catalog names (`record`); an answer may carry a utility account number or the like."""
    return {name: result[name] for name in record if isinstance(result.get(name), str | int)}


_FIELDS = frozenset({"amount_fen", "out_trade_no", "paid_trade_no", "subject", "detail"})


class JournalWriter(Journal):
    """The journal with its writes. `crash_after` ("POINT" or "POINT:N") is test
    instrumentation: the process kills itself (SIGKILL, as a power cut) right after the Nth
    commit at POINT, a state's name (a transition into it) or `order`, `refund`, `refund_done`.
    """

    def __init__(self, path: Path, kiosk_id: str, crash_after: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 - held open
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock.close()
            raise JournalBusy(f"{path} is written by another process") from exc
        super().__init__(path, kiosk_id)
        self._crash_point, _, count = (crash_after or "").partition(":")
        self._crash_countdown = int(count or 1)

    def close(self) -> None:
        super().close()
        self._lock.close()

    def _maybe_crash(self, point: str) -> None:
        if self._crash_point == point:
            self._crash_countdown -= 1
            if self._crash_countdown == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield

    def create(self, service: str, detail: JsonObject | None = None) -> Transaction:
        """A new transaction; `detail` is what is known from its start (e.g. the village agent
        running it for a citizen: `agent_id`)."""
        tx_id = f"{time.strftime('%Y%m%d')}{uuid.uuid4().hex[:12].upper()}"
        now = time.time()
        with self._write():
            self._db.execute(
                "INSERT INTO transactions (tx_id, service, state, detail, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (tx_id, service, TxState.CREATED.value, json.dumps(detail or {}), now, now),
            )
            self._db.execute(
                "INSERT INTO transitions VALUES (?, 0, NULL, ?, NULL, ?)",
                (tx_id, TxState.CREATED.value, now),
            )
        self._maybe_crash(TxState.CREATED.value)
        return self.get(tx_id)

    def _current(self, tx_id: str) -> tuple[TxState, int | None, JsonObject]:
        row = self._db.execute(
            "SELECT state, amount_fen, detail FROM transactions WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        if row is None:
            raise KeyError(tx_id)
        return TxState(row[0]), row[1], json.loads(row[2])

    def transition(self, tx: Transaction, to: TxState, reason: str | None = None, *,
                   order: tuple[str, OrderKind, int] | None = None,
                   attention: str | None = None, **fields: object) -> Transaction:
        """Moves `tx` from the state it had when read (`tx.state`) to `to`, setting the given
        fields (detail is merged), and journaling `order` in the same write if given."""
        expected = tx.state
        if to not in allowed_transitions(expected):
            raise IllegalTransition(tx.tx_id, expected, to)
        if set(fields) - _FIELDS:
            raise ValueError(f"unknown fields {set(fields) - _FIELDS}")
        if to is TxState.NEEDS_ATTENTION:
            attention = reason or attention or "needs_attention"
        elif to in FINAL_STATES:
            attention = None
        now = time.time()
        with self._write():
            actual, amount, detail = self._current(tx.tx_id)
            if actual is not expected:
                raise StaleTransition(tx.tx_id, expected, actual, to)
            # assignment: fields are typed `object`; amount_fen is given as int | None by the run.
            amount = fields.get("amount_fen", amount)  # type: ignore[assignment]
            if expected is TxState.QUOTED and to is TxState.SUBMITTED and amount:
                raise IllegalTransition(tx.tx_id, expected, to, "a priced transaction is paid "
                                        "before it is submitted")
            if "detail" in fields:
                # dict-item: fields are typed `object`; a given detail is always a JSON object.
                fields["detail"] = json.dumps({**detail, **fields["detail"]})  # type: ignore[dict-item]
            values = {**fields, "attention": attention}
            assignments = "".join(f", {name} = ?" for name in values)
            cursor = self._db.execute(
                f"UPDATE transactions SET state = ?, updated_at = ?{assignments} "
                "WHERE tx_id = ? AND state = ?",
                (to.value, now, *values.values(), tx.tx_id, expected.value),
            )
            if cursor.rowcount != 1:
                raise StaleTransition(tx.tx_id, expected, actual, to)
            seq = self._db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM transitions WHERE tx_id = ?", (tx.tx_id,)
            ).fetchone()[0]
            self._db.execute(
                "INSERT INTO transitions VALUES (?, ?, ?, ?, ?, ?)",
                (tx.tx_id, seq, expected.value, to.value, reason, now),
            )
            if order is not None:
                self._insert_order(tx.tx_id, *order, now)
        self._maybe_crash(to.value)
        return self.get(tx.tx_id)

    def annotate(self, tx: Transaction, detail: JsonObject) -> Transaction:
        """Adds to a transaction's detail without changing its state (durably, at once)."""
        with self._write():
            _, _, current = self._current(tx.tx_id)
            self._db.execute(
                "UPDATE transactions SET detail = ?, updated_at = ? WHERE tx_id = ?",
                (json.dumps({**current, **detail}), time.time(), tx.tx_id),
            )
        return self.get(tx.tx_id)

    def _insert_order(self, tx_id: str, number: str, kind: OrderKind, amount: int,
                      now: float) -> None:
        owner = self._db.execute("SELECT tx_id FROM orders WHERE out_trade_no = ?",
                                 (number,)).fetchone()
        if owner is not None and owner[0] != tx_id:
            raise ValueError(f"order {number} belongs to another transaction")
        self._db.execute(
            "INSERT OR IGNORE INTO orders (out_trade_no, tx_id, kind, amount_fen, created_at) "
            "VALUES (?, ?, ?, ?, ?)", (number, tx_id, kind.value, amount, now))

    def record_order(self, tx: Transaction, number: str, kind: OrderKind,
                     amount_fen: int) -> Transaction:
        """An order number, journaled before the call that creates it at the gateway."""
        with self._write():
            self._insert_order(tx.tx_id, number, kind, amount_fen, time.time())
        self._maybe_crash("order")
        return self.get(tx.tx_id)

    def learned(self, tx: Transaction, order: OrderRecord) -> None:
        """What the core last learned of an order at the gateway (for the reconciliation file)."""
        with self._write():
            self._db.execute(
                "UPDATE orders SET standing = ?, paid_fen = ?, refunded_fen = ? "
                "WHERE out_trade_no = ? AND tx_id = ?",
                (order.standing, order.paid_fen, order.refunded_fen, order.out_trade_no,
                 tx.tx_id))

    def record_refund(self, tx: Transaction, out_trade_no: str, amount_fen: int,
                      reason: str) -> RefundRecord:
        """A refund with its own number, journaled before the gateway is asked."""
        with self._write():
            count = self._db.execute("SELECT COUNT(*) FROM refunds WHERE tx_id = ?",
                                     (tx.tx_id,)).fetchone()[0]
            number = f"{tx.tx_id}R{count + 1}"
            self._db.execute(
                "INSERT INTO refunds (out_refund_no, tx_id, out_trade_no, amount_fen, reason, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (number, tx.tx_id, out_trade_no, amount_fen, reason, time.time()))
        self._maybe_crash("refund")
        return RefundRecord(number, out_trade_no, amount_fen, reason, False)

    def refund_done(self, refund: RefundRecord) -> None:
        with self._write():
            self._db.execute("UPDATE refunds SET done_at = ? WHERE out_refund_no = ? AND "
                             "done_at IS NULL", (time.time(), refund.out_refund_no))
        self._maybe_crash("refund_done")

    def fold_ended(self, ended_before: float, limit: int) -> int:
        """Retention (kiosk.retention, through the core): up to `limit` transactions that ended
        before `ended_before` leave the journal, added to the per-day totals (the day they
        started, item, final state, count, fen) in the same commit. Only settled ones: a
        transaction with an order whose standing is not known final (unpaid or paid) or a
        refund the gateway has not confirmed stays, whatever its state says. Returns how many
        left."""
        finals = tuple(s.value for s in FINAL_STATES)
        settled = ("unpaid", "paid")  # Standing labels that can never change again
        with self._write():
            rows = self._db.execute(
                "SELECT tx_id, service, state, COALESCE(amount_fen, 0), created_at"
                f" FROM transactions t WHERE state IN ({','.join('?' * len(finals))})"
                " AND updated_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tx_id = t.tx_id"
                "                 AND o.standing NOT IN (?, ?))"
                " AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.tx_id = t.tx_id"
                "                 AND r.done_at IS NULL)"
                " ORDER BY updated_at LIMIT ?",
                (*finals, ended_before, *settled, limit),
            ).fetchall()
            self._db.executemany(
                "INSERT INTO daily_totals VALUES (?, ?, ?, 1, ?) ON CONFLICT (day, service, state)"
                " DO UPDATE SET count = count + 1, amount_fen = amount_fen + excluded.amount_fen",
                [
                    (time.strftime("%Y-%m-%d", time.localtime(created)), service, state, fen)
                    for _, service, state, fen, created in rows
                ],
            )
            gone = [(row[0],) for row in rows]
            for table in ("transitions", "refunds", "orders", "transactions"):
                self._db.executemany(f"DELETE FROM {table} WHERE tx_id = ?", gone)
        return len(rows)

    def defer(self, tx: Transaction, attention: str, retry_in_s: float) -> Transaction:
        """Not settled yet: why (for operators), and when the reconciler tries again. Only if
        the transaction is still in the state the decision was made on."""
        with self._write():
            cursor = self._db.execute(
                "UPDATE transactions SET attention = ?, settle_attempts = settle_attempts + 1, "
                "next_settle_at = ?, updated_at = ? WHERE tx_id = ? AND state = ?",
                (attention, time.time() + retry_in_s, time.time(), tx.tx_id, tx.state.value))
            if cursor.rowcount != 1:
                actual, _, _ = self._current(tx.tx_id)
                raise StaleTransition(tx.tx_id, tx.state, actual, tx.state)
        return self.get(tx.tx_id)
