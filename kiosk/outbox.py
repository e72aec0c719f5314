"""The kiosk's durable outbox: submissions to the government backends that wait for the link.

An offline-capable item (a pre-review, a rating) is accepted at the kiosk while the backends
cannot be reached: its submission is written here (SQLite, synchronous=FULL) with the same
idempotency key the live call used, and a courier delivers it when the link returns. Order is
kept per backend (the second waits while the first is refused for now), a backend's answer is
recorded before the row goes, and a key already delivered is never accepted again: a retry
after a lost answer is deduplicated by the backend, the kiosk never sends a new one. The bodies
carry personal data (an ID number, a phone, the scanned pages), so they are sealed on disk with
AES-GCM under the kiosk's own outbox key and opened only to be sent.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import secrets
import sqlite3
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.backends import BackendError, BackendReason, ServiceClient
from kiosk.json_object import JsonObject

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite3"
KEY_FILE = "outbox.key"
RETRY_CAP_S = 60.0  # a link that came back is tried within a minute even without a nudge
KEEP_DELIVERED_S = 40 * 86400.0  # a delivered key is remembered this long: never sent twice

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, backend TEXT NOT NULL,
    path TEXT NOT NULL, tx_id TEXT NOT NULL, sealed BLOB NOT NULL, queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS delivered (
    key TEXT PRIMARY KEY, backend TEXT NOT NULL, tx_id TEXT NOT NULL, result TEXT NOT NULL,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refused (
    key TEXT PRIMARY KEY, backend TEXT NOT NULL, tx_id TEXT NOT NULL, reason TEXT NOT NULL,
    at REAL NOT NULL);
"""


@dataclass(frozen=True)
class Submission:
    """One call the kiosk owes a backend: `client.submit(path, body, key)` once the link is up."""

    key: str  # the idempotency key: the transaction's, or the rating's own id
    backend: str  # as catalog steps name it (kiosk.config.BackendConfig.services)
    path: str
    body: JsonObject
    tx_id: str  # the kiosk transaction it belongs to ("" for none)


@dataclass(frozen=True)
class Queued:
    submission: Submission
    attempts: int
    next_at: float


def outbox_key(state_dir: Path) -> bytes:
    """The kiosk's secret for sealing outbox bodies, created once with owner-only permissions."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(AESGCM.generate_key(bit_length=256))
            f.flush()
            os.fsync(f.fileno())
    return path.read_bytes()


class Outbox:
    """Submissions not yet delivered, on disk. One connection, used from the loop thread."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(outbox_key(state_dir))
        self._db = sqlite3.connect(state_dir / OUTBOX_FILE, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _seal(self, key: str, body: JsonObject) -> bytes:
        nonce = secrets.token_bytes(12)
        plain = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plain, key.encode())

    def _open(self, key: str, sealed: bytes) -> JsonObject:
        body = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], key.encode()))
        if not isinstance(body, dict):
            raise ValueError("not an object")
        return body

    def put(self, submission: Submission) -> bool:
        """Accepts a submission durably; False when its key is already here or was delivered
        (the second acceptance of one key is a no-op, never a second submission)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT 1 FROM delivered WHERE key = ?",
                                (submission.key,)).fetchone():
                return False
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO pending (key, backend, path, tx_id, sealed, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (submission.key, submission.backend, submission.path, submission.tx_id,
                 self._seal(submission.key, submission.body), time.time()))
            return cursor.rowcount == 1

    def heads(self) -> list[Queued]:
        """The oldest pending submission of each backend, in the order they were accepted."""
        rows = self._db.execute(
            "SELECT key, backend, path, tx_id, sealed, attempts, next_at FROM pending"
            " WHERE seq IN (SELECT MIN(seq) FROM pending GROUP BY backend) ORDER BY seq"
        ).fetchall()
        out = []
        for key, backend, path, tx_id, sealed, attempts, next_at in rows:
            try:
                body = self._open(key, sealed)
            except (InvalidTag, ValueError):
                # Sealed under another key (the key file replaced): it can never be sent.
                self.refuse(key, "outbox_unreadable")
                log.error("outbox entry %s cannot be opened", key)
                continue
            out.append(Queued(Submission(key, backend, path, body, tx_id), attempts, next_at))
        return out

    def delivered(self, submission: Submission, result: JsonObject) -> None:
        """The backend took it: its answer (ids only) is kept and the row goes, in one commit."""
        ids = {k: v for k, v in result.items() if k.endswith("_id") or k.endswith("_no")}
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?, ?)",
                             (submission.key, submission.backend, submission.tx_id,
                              json.dumps(ids), time.time()))
            self._db.execute("DELETE FROM pending WHERE key = ?", (submission.key,))
            self._db.execute("DELETE FROM delivered WHERE at < ?",
                             (time.time() - KEEP_DELIVERED_S,))

    def retry_later(self, key: str, attempts: int, now: float) -> None:
        delay = min(RETRY_CAP_S, 2.0 * 2 ** attempts)  # 2 s, 4 s, ... at most a minute
        self._db.execute("UPDATE pending SET attempts = ?, next_at = ? WHERE key = ?",
                         (attempts + 1, now + delay, key))

    def retry_now(self) -> None:
        """The link is back: whatever waits is due at once."""
        self._db.execute("UPDATE pending SET next_at = 0")

    def refuse(self, key: str, reason: str) -> None:
        """The backend will never take it: kept aside (without its body) for the operators."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO refused SELECT key, backend, tx_id, ?, ? FROM pending"
                " WHERE key = ?", (reason, time.time(), key))
            self._db.execute("DELETE FROM pending WHERE key = ?", (key,))

    def forget_ended(self, before: float) -> int:
        """Retention: refused entries, and the keys of delivered ones (kept so a key is never sent
        twice), set aside before `before`; returns how many rows went. Never a pending one."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            removed = sum(self._db.execute(f"DELETE FROM {table} WHERE at < ?", (before,)).rowcount
                          for table in ("refused", "delivered"))
        return int(removed)

    def counts(self) -> dict[str, int]:
        return {table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("pending", "delivered", "refused")}

    def holds(self, key: str) -> bool:
        """Whether `key` waits here to be sent."""
        return self._db.execute("SELECT 1 FROM pending WHERE key = ?", (key,)).fetchone() \
            is not None

    def delivered_result(self, key: str) -> JsonObject | None:
        row = self._db.execute("SELECT result FROM delivered WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None


Delivered = Callable[[Submission, JsonObject], None]

# One kiosk, one loop: the background courier and a step delivering its own rating at once
# would send the same key twice (the backend would count it once, but the link pays twice).
_DELIVERING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
    weakref.WeakKeyDictionary()


def _delivering() -> asyncio.Lock:
    return _DELIVERING.setdefault(asyncio.get_running_loop(), asyncio.Lock())


class Sent(enum.Enum):
    DELIVERED = "delivered"
    REFUSED = "refused"  # set aside; the next of its backend may go
    LATER = "later"  # not answered: its backend waits, the order is kept


class Courier:
    """Delivers the outbox to the backends: in order per backend, each key once."""

    def __init__(self, outbox: Outbox, clients: dict[str, ServiceClient],
                 report_problem: Callable[[str, str], None],
                 on_delivered: Delivered | None = None, interval_s: float = 5.0) -> None:
        self.outbox = outbox
        self.clients = clients
        self.report_problem = report_problem
        self.on_delivered = on_delivered
        self.interval_s = interval_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """The link is back (the session saw the backends answer): deliver now."""
        self.outbox.retry_now()
        self._wake.set()

    async def deliver(self, only: str | None = None) -> int:
        """Sends every backend's due head (or only `only`'s), then the next, until each is empty
        or waiting; returns how many the backends took."""
        async with _delivering():  # couriers of one kiosk take turns: one send per key at a time
            return await self._deliver(only)

    async def _deliver(self, only: str | None) -> int:
        sent = 0
        blocked: set[str] = set()
        while True:
            now = time.time()
            ready = [q for q in self.outbox.heads()
                     if q.submission.backend not in blocked and q.next_at <= now
                     and only in (None, q.submission.backend)]
            if not ready:
                return sent
            for queued in ready:
                outcome = await self._send(queued, now)
                if outcome is Sent.DELIVERED:
                    sent += 1
                elif outcome is Sent.LATER:
                    blocked.add(queued.submission.backend)

    async def _send(self, queued: Queued, now: float) -> Sent:
        s = queued.submission
        client = self.clients.get(s.backend)
        if client is None:
            self.outbox.refuse(s.key, "unknown_backend")
            self.report_problem("outbox_refused", f"{s.backend}:unknown_backend")
            return Sent.REFUSED
        try:
            result = await client.submit(s.path, s.body, s.key)
        except BackendError as exc:
            if exc.reason is BackendReason.REJECTED and 400 <= exc.status < 500:
                code = exc.code or str(exc.status)
                log.error("outbox entry %s refused by %s: %s", s.key, s.backend, code,
                          extra={"transaction": s.tx_id, "reason": code})
                self.outbox.refuse(s.key, code)
                self.report_problem("outbox_refused", f"{s.backend}:{code}")
                return Sent.REFUSED
            self.outbox.retry_later(s.key, queued.attempts, now)
            return Sent.LATER
        self.outbox.delivered(s, result)
        log.info("outbox entry %s delivered to %s", s.key, s.backend,
                 extra={"transaction": s.tx_id})
        if self.on_delivered is not None:
            try:
                self.on_delivered(s, result)
            except Exception:  # the backend has it; a bookkeeping failure must not resend it
                log.exception("after delivering %s", s.key)
        return Sent.DELIVERED

    async def deliver_forever(self) -> None:
        while True:
            try:
                await self.deliver()
            except Exception:  # a delivery loop must outlive any one bad round
                log.exception("outbox delivery failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
