"""The transaction journal: each transaction's state, written durably before the side effect.

SQLite in WAL mode with synchronous=FULL; the allowed transitions are those of
ARCHITECTURE.md "Money and documents". The journal never holds personal data in clear.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class TxState(StrEnum):
    CREATED = "created"
    IDENTIFIED = "identified"
    QUOTED = "quoted"
    PAYMENT_PENDING = "payment_pending"
    PAID = "paid"
    SUBMITTED = "submitted"
    FULFILLED = "fulfilled"
    RECEIPTED = "receipted"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    NEEDS_ATTENTION = "needs_attention"


FINAL_STATES = frozenset({TxState.CLOSED, TxState.CANCELLED, TxState.REFUNDED})

_ALLOWED: dict[TxState, frozenset[TxState]] = {
    TxState.CREATED: frozenset({TxState.IDENTIFIED, TxState.QUOTED, TxState.CANCELLED}),
    TxState.IDENTIFIED: frozenset({TxState.QUOTED, TxState.CANCELLED}),
    # A free item (a queue ticket, a certificate) goes from its quote straight to submission.
    TxState.QUOTED: frozenset({TxState.PAYMENT_PENDING, TxState.SUBMITTED, TxState.CANCELLED}),
    TxState.PAYMENT_PENDING: frozenset({TxState.PAID, TxState.CANCELLED, TxState.NEEDS_ATTENTION}),
    TxState.PAID: frozenset({TxState.SUBMITTED, TxState.REFUND_PENDING, TxState.NEEDS_ATTENTION}),
    TxState.SUBMITTED: frozenset(
        {TxState.FULFILLED, TxState.REFUND_PENDING, TxState.CANCELLED, TxState.NEEDS_ATTENTION}
    ),
    TxState.FULFILLED: frozenset({TxState.RECEIPTED, TxState.CLOSED, TxState.NEEDS_ATTENTION}),
    TxState.RECEIPTED: frozenset({TxState.CLOSED}),
    TxState.REFUND_PENDING: frozenset({TxState.REFUNDED, TxState.NEEDS_ATTENTION}),
    TxState.NEEDS_ATTENTION: frozenset({TxState.CLOSED, TxState.REFUND_PENDING, TxState.REFUNDED}),
    TxState.CLOSED: frozenset(),
    TxState.CANCELLED: frozenset(),
    TxState.REFUNDED: frozenset(),
}


def allowed_transitions(state: TxState) -> frozenset[TxState]:
    return _ALLOWED[state]


class IllegalTransition(Exception):
    def __init__(self, tx_id: str, current: TxState, wanted: TxState) -> None:
        super().__init__(f"transaction {tx_id}: {current.value} -> {wanted.value} is not allowed")


@dataclass(frozen=True)
class Transaction:
    tx_id: str
    service: str
    state: TxState
    amount_fen: int | None
    out_trade_no: str | None
    subject: str | None  # a keyed pseudonym of the document, never the number itself
    detail: dict
    paid_trade_no: str | None = None  # the order that took the money (QR or micropay)
    created_at: float = 0.0
    updated_at: float = 0.0

    def idempotency_key(self, action: str) -> str:
        """The key every backend call of this transaction carries, stable across retries."""
        return f"{self.tx_id}:{action}"


SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    tx_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    amount_fen INTEGER,
    out_trade_no TEXT UNIQUE,
    paid_trade_no TEXT,
    subject TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    tx_id TEXT NOT NULL REFERENCES transactions(tx_id),
    seq INTEGER NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (tx_id, seq)
);
CREATE TABLE IF NOT EXISTS daily_totals (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    count INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    PRIMARY KEY (day, service, state)
);
"""


class Journal:
    """Durable, append-mostly store of transactions; one connection, used from the loop thread."""

    def __init__(self, path: Path, kiosk_id: str, crash_after: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.kiosk_id = kiosk_id
        # Test instrumentation for the crash test: "STATE" or "STATE:N" kills the process
        # (SIGKILL, as a power cut) right after the Nth commit of a transition into STATE.
        self._crash_state, _, count = (crash_after or "").partition(":")
        self._crash_countdown = int(count or 1)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Brings a journal written by an older version up to the current schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(transactions)")}
        if "paid_trade_no" not in columns:
            self._db.execute("ALTER TABLE transactions ADD COLUMN paid_trade_no TEXT")
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def create(self, service: str) -> Transaction:
        tx_id = f"{time.strftime('%Y%m%d')}{uuid.uuid4().hex[:12].upper()}"
        now = time.time()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO transactions (tx_id, service, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (tx_id, service, TxState.CREATED.value, now, now),
            )
            self._db.execute(
                "INSERT INTO transitions VALUES (?, 0, NULL, ?, NULL, ?)",
                (tx_id, TxState.CREATED.value, now),
            )
        self._maybe_crash(TxState.CREATED)
        return self.get(tx_id)

    def _maybe_crash(self, state: TxState) -> None:
        if self._crash_state == state.value:
            self._crash_countdown -= 1
            if self._crash_countdown == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    def transition(
        self, tx: Transaction, to: TxState, reason: str | None = None, **fields: object
    ) -> Transaction:
        """Move `tx` to `to`, setting amount_fen / out_trade_no / subject / detail if given."""
        current = self.get(tx.tx_id)
        if to not in _ALLOWED[current.state]:
            raise IllegalTransition(tx.tx_id, current.state, to)
        allowed_fields = {"amount_fen", "out_trade_no", "paid_trade_no", "subject", "detail"}
        if set(fields) - allowed_fields:
            raise ValueError(f"unknown fields {set(fields) - allowed_fields}")
        if "detail" in fields:
            fields["detail"] = json.dumps({**current.detail, **fields["detail"]})  # type: ignore[dict-item]
        now = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"UPDATE transactions SET state = ?, updated_at = ?{', ' if fields else ''}"
                f"{assignments} WHERE tx_id = ?",
                (to.value, now, *fields.values(), tx.tx_id),
            )
            seq = self._db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM transitions WHERE tx_id = ?", (tx.tx_id,)
            ).fetchone()[0]
            self._db.execute(
                "INSERT INTO transitions VALUES (?, ?, ?, ?, ?, ?)",
                (tx.tx_id, seq, current.state.value, to.value, reason, now),
            )
        self._maybe_crash(to)
        return self.get(tx.tx_id)

    def annotate(self, tx: Transaction, detail: dict) -> Transaction:
        """Adds to a transaction's detail without changing its state (durably, at once)."""
        current = self.get(tx.tx_id)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE transactions SET detail = ?, updated_at = ? WHERE tx_id = ?",
                (json.dumps({**current.detail, **detail}), time.time(), tx.tx_id),
            )
        return self.get(tx.tx_id)

    def get(self, tx_id: str) -> Transaction:
        row = self._db.execute(
            "SELECT tx_id, service, state, amount_fen, out_trade_no, subject, detail, "
            "paid_trade_no, created_at, updated_at FROM transactions WHERE tx_id = ?",
            (tx_id,),
        ).fetchone()
        if row is None:
            raise KeyError(tx_id)
        return Transaction(
            row[0],
            row[1],
            TxState(row[2]),
            row[3],
            row[4],
            row[5],
            json.loads(row[6]),
            row[7],
            row[8],
            row[9],
        )

    def unfinished(self) -> list[Transaction]:
        finals = tuple(s.value for s in FINAL_STATES)
        rows = self._db.execute(
            f"SELECT tx_id FROM transactions WHERE state NOT IN ({','.join('?' * len(finals))}) "
            "ORDER BY created_at",
            finals,
        ).fetchall()
        return [self.get(r[0]) for r in rows]

    def between(self, start: float, end: float) -> list[Transaction]:
        rows = self._db.execute(
            "SELECT tx_id FROM transactions WHERE created_at >= ? AND created_at < ? "
            "ORDER BY created_at",
            (start, end),
        ).fetchall()
        return [self.get(r[0]) for r in rows]

    def recent(self, limit: int = 50) -> list[Transaction]:
        rows = self._db.execute(
            "SELECT tx_id FROM transactions ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [self.get(r[0]) for r in rows]

    def count_by_state(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT state, COUNT(*) FROM transactions GROUP BY state"))

    def history(self, tx_id: str) -> list[tuple[str | None, str, str | None]]:
        return self._db.execute(
            "SELECT from_state, to_state, reason FROM transitions WHERE tx_id = ? ORDER BY seq",
            (tx_id,),
        ).fetchall()

    def timeline(self, tx_id: str) -> list[tuple[str | None, str, str | None, float]]:
        """`history` with when each transition was written (`at`, seconds since the epoch)."""
        return self._db.execute(
            "SELECT from_state, to_state, reason, at FROM transitions WHERE tx_id = ? ORDER BY seq",
            (tx_id,),
        ).fetchall()

    def fold_ended(self, ended_before: float, limit: int) -> int:
        """Retention (kiosk.retention): up to `limit` transactions that reached a final state
        before `ended_before` leave the journal, added to the per-day totals (the day they
        started, item, final state, count, fen) in the same commit. Returns how many left."""
        finals = tuple(s.value for s in FINAL_STATES)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute(
                "SELECT tx_id, service, state, COALESCE(amount_fen, 0), created_at"
                f" FROM transactions WHERE state IN ({','.join('?' * len(finals))})"
                " AND updated_at < ? ORDER BY updated_at LIMIT ?",
                (*finals, ended_before, limit),
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
            self._db.executemany("DELETE FROM transitions WHERE tx_id = ?", gone)
            self._db.executemany("DELETE FROM transactions WHERE tx_id = ?", gone)
        return len(rows)

    def daily_totals(self) -> list[tuple[str, str, str, int, int]]:
        """What retention kept of folded transactions: (day, item, state, count, fen)."""
        return self._db.execute(
            "SELECT day, service, state, count, amount_fen FROM daily_totals"
            " ORDER BY day, service, state"
        ).fetchall()
