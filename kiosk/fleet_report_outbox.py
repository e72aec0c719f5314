"""The durable half of the kiosk's business reports: the latest report of each thing, until sent.

Lives in the fleet outbox's SQLite file and is used, like the outbox, from its one worker thread.
Unlike heartbeats and events, a report is not a message in a queue but the kiosk's current view
of one thing (a transaction, an evaluation, an application): staging the same view again changes
nothing; a changed view replaces the unsent one or, once sent, is sent again with a higher
revision. Revisions come from one counter that only rises, so even a report staged again after
its row was pruned outranks everything the server holds of it.

The reporter's place in the journal (`ReportCursor`) is kept here too, in the same transaction
as the reports it staged.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from dataclasses import dataclass, field

from kiosk.json_object import JsonObject

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    payload TEXT NOT NULL,
    staged_at REAL NOT NULL,
    sent_revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX IF NOT EXISTS reports_unsent ON reports (revision) WHERE sent_revision < revision;
CREATE TABLE IF NOT EXISTS report_watch (ref TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS report_meta (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""

# Sent reports are kept this long, so staging an unchanged view again stays a no-op; the
# reporter looks back far less than this.
KEEP_SENT_S = 40 * 86400.0


class ReportKind(enum.Enum):
    """What a report is about; the value is its list's name in a ReportBatch."""

    TRANSACTION = "transactions"
    EVALUATION = "evaluations"
    APPLICATION = "applications"


# Kinds whose wire form carries the revision (an evaluation never changes once given).
_REVISED = frozenset({ReportKind.TRANSACTION, ReportKind.APPLICATION})


@dataclass(frozen=True)
class StagedReport:
    """One thing's current view: `key` tells whether it changed since it was last staged."""

    kind: ReportKind
    ref: str
    key: str
    payload: JsonObject


@dataclass(frozen=True)
class PendingReport:
    kind: ReportKind
    ref: str
    revision: int
    payload: JsonObject


@dataclass
class ReportCursor:
    """Where the journal reporter stands: transactions created from `scan_from` on are looked at
    again; `watched` are older ones last seen unfinished (they may settle any time)."""

    scan_from: float | None = None
    watched: set[str] = field(default_factory=set)


class ReportBook:
    """Reports and the reporter's cursor on the outbox's connection (blocking; one thread)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(_SCHEMA)

    def _meta(self, name: str) -> float | None:
        row = self._db.execute("SELECT value FROM report_meta WHERE name = ?", (name,)).fetchone()
        return float(row[0]) if row else None

    def _set_meta(self, name: str, value: float) -> None:
        self._db.execute(
            "INSERT INTO report_meta (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def cursor(self) -> ReportCursor:
        watched = {r[0] for r in self._db.execute("SELECT ref FROM report_watch")}
        return ReportCursor(self._meta("scan_from"), watched)

    def stage(self, reports: list[StagedReport], cursor: ReportCursor | None = None) -> int:
        """Stage each report whose view changed, and move the cursor, in one transaction.
        Returns how many were staged anew."""
        staged = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            revision = int(self._meta("revision") or 0)
            for report in reports:
                row = self._db.execute(
                    "SELECT key FROM reports WHERE kind = ? AND ref = ?",
                    (report.kind.value, report.ref),
                ).fetchone()
                if row is not None and row[0] == report.key:
                    continue
                revision += 1
                self._db.execute(
                    "INSERT INTO reports (kind, ref, key, revision, payload, staged_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, ref) DO UPDATE SET"
                    " key = excluded.key, revision = excluded.revision,"
                    " payload = excluded.payload, staged_at = excluded.staged_at",
                    (
                        report.kind.value,
                        report.ref,
                        report.key,
                        revision,
                        json.dumps(report.payload, separators=(",", ":")),
                        time.time(),
                    ),
                )
                staged += 1
            if staged:
                self._set_meta("revision", revision)
            if cursor is not None:
                if cursor.scan_from is not None:
                    self._set_meta("scan_from", cursor.scan_from)
                self._db.execute("DELETE FROM report_watch")
                self._db.executemany(
                    "INSERT INTO report_watch (ref) VALUES (?)", [(r,) for r in cursor.watched]
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return staged

    def pending(self, limit: int = 100) -> list[PendingReport]:
        """Reports not sent in their latest revision, oldest revision first."""
        rows = self._db.execute(
            "SELECT kind, ref, revision, payload FROM reports WHERE sent_revision < revision"
            " ORDER BY revision LIMIT ?",
            (limit,),
        ).fetchall()
        out = []
        for kind, ref, revision, payload in rows:
            report_kind = ReportKind(kind)
            data = json.loads(payload)
            if report_kind in _REVISED:
                data["revision"] = revision
            out.append(PendingReport(report_kind, ref, revision, data))
        return out

    def mark_sent(self, sent: list[PendingReport]) -> None:
        """The server holds these revisions; a newer one staged since stays to be sent."""
        self._db.executemany(
            "UPDATE reports SET sent_revision = ? WHERE kind = ? AND ref = ? AND revision = ?",
            [(r.revision, r.kind.value, r.ref, r.revision) for r in sent],
        )
        self._db.execute(
            "DELETE FROM reports WHERE sent_revision = revision AND staged_at < ?",
            (time.time() - KEEP_SENT_S,),
        )

    def unsent(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM reports WHERE sent_revision < revision")
        return int(row.fetchone()[0])
