"""The transaction journal: its file, its states and legal moves, and the read API.

SQLite in WAL mode with synchronous=FULL, created owner-only (0600, the WAL and SHM files
inherit it); the allowed transitions are those of ARCHITECTURE.md "Money and documents". The
journal never holds personal data in clear.

Only the transaction core (`kiosk.transaction`) writes it: its `JournalWriter` extends this
class. Everyone else (the technician's `kiosk-journal`, the fleet link, the session) gets a
`Journal` and can only read; `tests/kiosk/test_journal_writers.py` keeps it so.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kiosk.json_object import JsonObject


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


AGENT_ID = "agent_id"  # the detail's key for the village agent who ran it (kiosk.village_agent)
FINAL_STATES = frozenset({TxState.CLOSED, TxState.CANCELLED, TxState.REFUNDED})

_ANY_OPEN = {TxState.NEEDS_ATTENTION}  # a person can be asked to look from any open state
_ALLOWED: dict[TxState, frozenset[TxState]] = {
    TxState.CREATED: frozenset({TxState.IDENTIFIED, TxState.QUOTED, TxState.CANCELLED,
                                *_ANY_OPEN}),
    TxState.IDENTIFIED: frozenset({TxState.QUOTED, TxState.CANCELLED, *_ANY_OPEN}),
    # A free item (a queue ticket, a certificate) goes from its quote straight to submission;
    # a priced one may not (the writer refuses quoted -> submitted when there is an amount).
    TxState.QUOTED: frozenset({TxState.PAYMENT_PENDING, TxState.SUBMITTED, TxState.CANCELLED,
                               *_ANY_OPEN}),
    TxState.PAYMENT_PENDING: frozenset({TxState.PAID, TxState.CANCELLED, *_ANY_OPEN}),
    TxState.PAID: frozenset({TxState.SUBMITTED, TxState.REFUND_PENDING, *_ANY_OPEN}),
    TxState.SUBMITTED: frozenset(
        {TxState.FULFILLED, TxState.REFUND_PENDING, TxState.CANCELLED, *_ANY_OPEN}
    ),
    # Delivered in part (one of two copies printed) or paid twice: the excess goes back.
    TxState.FULFILLED: frozenset({TxState.RECEIPTED, TxState.CLOSED, TxState.REFUND_PENDING,
                                  *_ANY_OPEN}),
    TxState.RECEIPTED: frozenset({TxState.CLOSED, TxState.REFUND_PENDING, *_ANY_OPEN}),
    # Refunded in full -> refunded; refunded the part not delivered -> closed.
    TxState.REFUND_PENDING: frozenset({TxState.REFUNDED, TxState.CLOSED, *_ANY_OPEN}),
    TxState.NEEDS_ATTENTION: frozenset({TxState.CLOSED, TxState.REFUND_PENDING, TxState.REFUNDED}),
    TxState.CLOSED: frozenset(),
    TxState.CANCELLED: frozenset(),
    TxState.REFUNDED: frozenset(),
}


def allowed_transitions(state: TxState) -> frozenset[TxState]:
    return _ALLOWED[state]


class OrderKind(StrEnum):
    """How an order asks for the money: a QR code the phone scans, or the phone's payment code
    the kiosk scans. A later kind is one more member here."""

    NATIVE = "native"
    MICROPAY = "micropay"


@dataclass(frozen=True)
class OrderRecord:
    """An order number the transaction created at the gateway, journaled before the call that
    created it, with what the core last learned of it."""

    out_trade_no: str
    kind: OrderKind
    amount_fen: int
    standing: str = ""  # kiosk.transaction.orders.Standing, as last learned
    paid_fen: int = 0
    refunded_fen: int = 0


@dataclass(frozen=True)
class RefundRecord:
    """A refund, journaled before the gateway is asked; `done` once the gateway confirmed it."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    reason: str
    done: bool


@dataclass(frozen=True)
class Transaction:
    tx_id: str
    service: str
    state: TxState
    amount_fen: int | None
    out_trade_no: str | None
    subject: str | None  # a keyed pseudonym of the document, never the number itself
    detail: JsonObject
    paid_trade_no: str | None = None  # the order that took the money (QR or micropay)
    created_at: float = 0.0
    updated_at: float = 0.0
    attention: str | None = None  # why it is not settled yet, or why a person must look
    orders: tuple[OrderRecord, ...] = ()
    refunds: tuple[RefundRecord, ...] = ()
    settle_attempts: int = 0
    next_settle_at: float = 0.0

    @property
    def agent_id(self) -> str:
        """The village agent who ran it for a citizen ('' = the citizen alone)."""
        return str(self.detail.get(AGENT_ID, ""))

    def idempotency_key(self, action: str) -> str:
        """The key every backend call of this transaction carries, stable across retries."""
        return f"{self.tx_id}:{action}"

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


SCHEMA_VERSION = 3

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
    updated_at REAL NOT NULL,
    attention TEXT,
    settle_attempts INTEGER NOT NULL DEFAULT 0,
    next_settle_at REAL NOT NULL DEFAULT 0
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
CREATE TABLE IF NOT EXISTS orders (
    out_trade_no TEXT PRIMARY KEY,
    tx_id TEXT NOT NULL REFERENCES transactions(tx_id),
    kind TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    created_at REAL NOT NULL,
    standing TEXT NOT NULL DEFAULT '',
    paid_fen INTEGER NOT NULL DEFAULT 0,
    refunded_fen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refunds (
    out_refund_no TEXT PRIMARY KEY,
    tx_id TEXT NOT NULL REFERENCES transactions(tx_id),
    out_trade_no TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS orders_by_tx ON orders(tx_id);
CREATE INDEX IF NOT EXISTS refunds_by_tx ON refunds(tx_id);
CREATE TABLE IF NOT EXISTS daily_totals (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    count INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    PRIMARY KEY (day, service, state)
);
"""

_COLUMNS = ("tx_id, service, state, amount_fen, out_trade_no, subject, detail, paid_trade_no, "
            "created_at, updated_at, attention, settle_attempts, next_settle_at")


def _owner_only(path: Path) -> None:
    """The journal and its WAL/SHM files are readable by the kiosk's user alone."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


class Journal:
    """The journal's file and read API; one connection, used from the loop thread."""

    def __init__(self, path: Path, kiosk_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(path)
        self.path = path
        self.kiosk_id = kiosk_id
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        """Brings a journal written by an older version up to the current schema."""
        old = {row[1] for row in self._db.execute("PRAGMA table_info(transactions)")}
        had_orders = bool(self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='orders'").fetchone())
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for column, ddl in (("paid_trade_no", "TEXT"), ("attention", "TEXT"),
                                ("settle_attempts", "INTEGER NOT NULL DEFAULT 0"),
                                ("next_settle_at", "REAL NOT NULL DEFAULT 0")):
                if old and column not in old:
                    self._db.execute(f"ALTER TABLE transactions ADD COLUMN {column} {ddl}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if old and not had_orders:
                self._orders_from_version_2()
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _orders_from_version_2(self) -> None:
        """Version 2 kept the QR order in a column and a micropay's number in the detail, and
        refunded with `{tx_id}R1`: they become order and refund records."""
        rows = self._db.execute(
            "SELECT tx_id, state, amount_fen, out_trade_no, paid_trade_no, detail, created_at "
            "FROM transactions WHERE out_trade_no IS NOT NULL").fetchall()
        for tx_id, state, amount, qr, paid, detail, created in rows:
            micropay = json.loads(detail).get("micropay_out_trade_no")
            for number, kind in ((qr, OrderKind.NATIVE), (micropay, OrderKind.MICROPAY)):
                if number:
                    self._db.execute(
                        "INSERT OR IGNORE INTO orders (out_trade_no, tx_id, kind, amount_fen, "
                        "created_at) VALUES (?, ?, ?, ?, ?)",
                        (number, tx_id, kind.value, amount or 0, created))
            if state in (TxState.REFUND_PENDING.value, TxState.REFUNDED.value) and amount:
                done = created if state == TxState.REFUNDED.value else None
                self._db.execute(
                    "INSERT OR IGNORE INTO refunds VALUES (?, ?, ?, ?, 'migrated', ?, ?)",
                    (f"{tx_id}R1", tx_id, paid or qr, amount, created, done))

    def close(self) -> None:
        self._db.close()

    def get(self, tx_id: str) -> Transaction:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM transactions WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        if row is None:
            raise KeyError(tx_id)
        orders = tuple(
            OrderRecord(number, OrderKind(kind), amount, standing, paid, refunded)
            for number, kind, amount, standing, paid, refunded in self._db.execute(
                "SELECT out_trade_no, kind, amount_fen, standing, paid_fen, refunded_fen "
                "FROM orders WHERE tx_id = ? ORDER BY created_at, rowid", (tx_id,)))
        refunds = tuple(
            RefundRecord(number, trade_no, amount, reason, done is not None)
            for number, trade_no, amount, reason, done in self._db.execute(
                "SELECT out_refund_no, out_trade_no, amount_fen, reason, done_at FROM refunds "
                "WHERE tx_id = ? ORDER BY created_at, rowid", (tx_id,)))
        return Transaction(row[0], row[1], TxState(row[2]), row[3], row[4], row[5],
                           json.loads(row[6]), row[7], row[8], row[9], row[10], orders, refunds,
                           row[11], row[12])

    def _ids(self, sql: str, params: tuple[object, ...] = ()) -> list[Transaction]:
        return [self.get(r[0]) for r in self._db.execute(sql, params).fetchall()]

    def unfinished(self) -> list[Transaction]:
        finals = tuple(s.value for s in FINAL_STATES)
        return self._ids(
            f"SELECT tx_id FROM transactions WHERE state NOT IN ({','.join('?' * len(finals))}) "
            "ORDER BY created_at", finals)

    def for_operators(self) -> list[Transaction]:
        """Transactions an operator should see: needing a person, or not settled yet (with the
        reason why) after their flow ended."""
        return [tx for tx in self.unfinished()
                if tx.state is TxState.NEEDS_ATTENTION or tx.attention]

    def between(self, start: float, end: float) -> list[Transaction]:
        return self._ids("SELECT tx_id FROM transactions WHERE created_at >= ? AND created_at < ? "
                         "ORDER BY created_at", (start, end))

    def recent(self, limit: int = 50) -> list[Transaction]:
        return self._ids("SELECT tx_id FROM transactions ORDER BY created_at DESC, rowid DESC "
                         "LIMIT ?", (limit,))

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

    def daily_totals(self) -> list[tuple[str, str, str, int, int]]:
        """What retention kept of folded transactions: (day, item, state, count, fen)."""
        return self._db.execute(
            "SELECT day, service, state, count, amount_fen FROM daily_totals"
            " ORDER BY day, service, state"
        ).fetchall()
