"""The fleet agent's persistent, bounded outbox (SQLite): heartbeats and events waiting to be
sent in order, the commands started and their acknowledgements until the server confirms them,
and (through kiosk.fleet_report_outbox) the staged business reports. Blocking: kiosk.fleet_agent
calls it from one worker thread.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.fleet_report_outbox import ReportBook
from kiosk.json_object import JsonObject
from wire.fleet import AckOutcome, CommandAck

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
    command_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS done_commands (
    command_id TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

class OutboxKind(enum.Enum):
    """What an outbox item is; its value is what the outbox table's `kind` column holds."""

    HEARTBEAT = "heartbeat"
    EVENT = "event"


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    kind: OutboxKind
    payload: JsonObject


class Outbox:
    """The persistent, bounded outbox (SQLite). Blocking: the agent calls it from one worker thread."""

    def __init__(self, path: Path, max_items: int = 10_000) -> None:
        if max_items < 2:
            raise ValueError("max_items must be at least 2")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_items = max_items
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._interrupted_commands()
        self.reports = ReportBook(self._db)

    def close(self) -> None:
        self._db.close()

    def _interrupted_commands(self) -> None:
        # A command marked as started whose outcome never got written was cut short by a crash or
        # a power cut: tell the operator rather than leave it pending for ever.
        self._db.execute(
            "INSERT INTO acks (command_id, outcome, detail, at) SELECT d.command_id, ?, ?, ?"
            " FROM done_commands d LEFT JOIN acks a ON a.command_id = d.command_id"
            " WHERE a.command_id IS NULL AND d.at > ?",
            (AckOutcome.FAILED.value, "interrupted by a restart", time.time(), -1.0),
        )
        self._db.execute("UPDATE done_commands SET at = -1 WHERE at > 0")

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_heartbeat_seq(self) -> int:
        """A heartbeat sequence number that keeps rising across restarts."""
        seq = self._meta("heartbeat_seq") + 1
        self._set_meta("heartbeat_seq", seq)
        return seq

    @property
    def dropped(self) -> int:
        return self._meta("dropped")

    def append(self, kind: OutboxKind, payload: JsonObject) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            excess = count + 1 - self.max_items
            if excess > 0:
                for _ in range(excess):
                    victim = (
                        self._db.execute(
                            "SELECT seq FROM outbox WHERE kind = ? ORDER BY seq LIMIT 1",
                            (OutboxKind.HEARTBEAT.value,),
                        ).fetchone()
                        or self._db.execute(
                            "SELECT seq FROM outbox ORDER BY seq LIMIT 1"
                        ).fetchone()
                    )
                    self._db.execute("DELETE FROM outbox WHERE seq = ?", victim)
                self._set_meta("dropped", self._meta("dropped") + excess)
            self._db.execute(
                "INSERT INTO outbox (kind, payload, created) VALUES (?, ?, ?)",
                (kind.value, json.dumps(payload, separators=(",", ":")), time.time()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def peek(self, limit: int = 50) -> list[OutboxItem]:
        rows = self._db.execute(
            "SELECT seq, kind, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [
            OutboxItem(seq, OutboxKind(kind), json.loads(payload)) for seq, kind, payload in rows
        ]

    def remove(self, seqs: list[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # -- commands and their acknowledgements ------------------------------------------------------

    def was_started(self, command_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM done_commands WHERE command_id = ?", (command_id,)
        ).fetchone()
        return row is not None

    def mark_started(self, command_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO done_commands (command_id, at) VALUES (?, ?)",
            (command_id, time.time()),
        )
        # Keep the memory of run commands bounded; the server stops redelivering once acked.
        self._db.execute(
            "DELETE FROM done_commands WHERE command_id NOT IN"
            " (SELECT command_id FROM done_commands ORDER BY rowid DESC LIMIT 1000)"
        )

    def record_ack(self, ack: CommandAck) -> None:
        self._db.execute(
            "INSERT INTO acks (command_id, outcome, detail, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (command_id) DO UPDATE SET outcome = excluded.outcome,"
            " detail = excluded.detail, at = excluded.at",
            (ack.command_id, ack.outcome.value, ack.detail, ack.at),
        )
        self._db.execute("UPDATE done_commands SET at = -1 WHERE command_id = ?", (ack.command_id,))

    def pending_acks(self) -> list[CommandAck]:
        rows = self._db.execute(
            "SELECT command_id, outcome, detail, at FROM acks ORDER BY at LIMIT 100"
        ).fetchall()
        return [CommandAck(c, AckOutcome(o), d, a) for c, o, d, a in rows]

    def confirm_acks(self, confirmed: list[tuple[str, str]]) -> None:
        """Forget acks the server recorded, by (command id, outcome): an outcome written after
        the heartbeat left (a reboot accepted, then refused) is still to be sent."""
        self._db.executemany(
            "DELETE FROM acks WHERE command_id = ? AND outcome = ?", [tuple(c) for c in confirmed]
        )
