"""Sign-in throttling shared by every server process, counted atomically in the database.

Three counters per attempt, each a row of `login_throttle` whose window restarts when it is over:
- the source address (any user name): past `per_address`, that address is refused for the
  window. Checked first, so a blocked address can no longer touch any user's counters;
- the user name from that address: past `per_user_address`, refused for the window. An operator
  at another address is not affected, so naming an operator does not lock them out;
- the user name from anywhere (guessing spread over many addresses): past `per_user`, no hard
  lock but a delay: one password check per `slow_s` seconds for that name, the rest told when to
  come back. The real operator gets in within seconds; a guesser gets a few guesses a minute.

An attempt is counted before its password is checked (and taken back if it succeeds): 40 guesses
at once cannot all pass a check that only counts failures after the slow hash. Rows whose window
is over are swept; past `max_rows` the oldest go first, so the table stays bounded.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from fleet.db import Connection, Database


class ThrottleReason(enum.Enum):
    ADDRESS = "address_throttled"  # too many failures from this address
    LOCKED_OUT = "locked_out"  # too many failures for this user from this address
    SLOW_DOWN = "slow_down"  # this user is being guessed at: one check per few seconds


@dataclass(frozen=True)
class ThrottleLimits:
    window_s: float = 300.0
    per_address: int = 20
    per_user_address: int = 5
    per_user: int = 10
    slow_s: float = 5.0
    max_rows: int = 100_000


@dataclass(frozen=True)
class Throttled:
    reason: ThrottleReason
    retry_after_s: float


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt let through to the password check: its counter keys."""

    keys: tuple[str, ...]


def client_address(request: web.Request, trusted_proxies: Sequence[str]) -> str:
    """The caller's address: the peer, or what a trusted proxy (HAProxy) put last in
    X-Forwarded-For. A header from anyone else is the caller's own word and ignored."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and peer in trusted_proxies:
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


class LoginThrottle:
    def __init__(self, db: Database, limits: ThrottleLimits) -> None:
        self.db = db
        self.limits = limits

    async def _count(self, tx: Connection, key: str, now: float) -> tuple[int, float, float]:
        """Add one to `key` (a fresh window if its last one is over); the count, the window's
        start and the next slot. The row stays locked until the transaction ends."""
        cutoff = now - self.limits.window_s
        row = await tx.fetchrow(
            "INSERT INTO login_throttle (key, failures, window_start, next_at)"
            " VALUES ($1, 1, $2, 0) ON CONFLICT (key) DO UPDATE SET"
            " failures = CASE WHEN login_throttle.window_start < $3 THEN 1"
            " ELSE login_throttle.failures + 1 END,"
            " window_start = CASE WHEN login_throttle.window_start < $3 THEN $2"
            " ELSE login_throttle.window_start END"
            " RETURNING failures, window_start, next_at",
            key,
            now,
            cutoff,
        )
        assert row is not None
        return int(row["failures"]), float(row["window_start"]), float(row["next_at"])

    async def _uncount(self, tx: Connection, keys: Sequence[str]) -> None:
        for key in keys:
            await tx.execute(
                "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
                key,
            )

    async def begin(self, username: str, address: str, now: float) -> Attempt | Throttled:
        """Count an attempt before its password is checked, or refuse it (then not counted)."""
        lim = self.limits
        keys = (f"addr:{address}", f"pair:{username}\n{address}", f"user:{username}")
        async with self.db.transaction() as tx:
            counted: list[str] = []
            n, start, _ = await self._count(tx, keys[0], now)
            counted.append(keys[0])
            if n > lim.per_address:
                await self._uncount(tx, counted)
                return Throttled(ThrottleReason.ADDRESS, start + lim.window_s - now)
            n, start, _ = await self._count(tx, keys[1], now)
            counted.append(keys[1])
            if n > lim.per_user_address:
                await self._uncount(tx, counted)
                return Throttled(ThrottleReason.LOCKED_OUT, start + lim.window_s - now)
            n, start, next_at = await self._count(tx, keys[2], now)
            counted.append(keys[2])
            if n > lim.per_user:
                if next_at > now:
                    await self._uncount(tx, counted)
                    return Throttled(ThrottleReason.SLOW_DOWN, next_at - now)
                await tx.execute(
                    "UPDATE login_throttle SET next_at = $1 WHERE key = $2",
                    now + lim.slow_s,
                    keys[2],
                )
        return Attempt(keys)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this user's counters start over; the address's count of this
        attempt is taken back."""
        async with self.db.transaction() as tx:
            await self._uncount(tx, attempt.keys[:1])
            await tx.execute("DELETE FROM login_throttle WHERE key = $1", attempt.keys[1])

    async def unlock(self, username: str) -> int:
        """An admin lets a user sign in again at once, from every address."""
        async with self.db.transaction() as tx:
            prefix = f"pair:{username}\n"
            n = await tx.execute(
                "DELETE FROM login_throttle WHERE substr(key, 1, $1) = $2",
                len(prefix),
                prefix,
            )
            n += await tx.execute("DELETE FROM login_throttle WHERE key = $1", f"user:{username}")
        return n

    async def count_refusal(self, address: str, now: float) -> Throttled | None:
        """An unauthenticated refusal (a bad enrollment) counts against its address; past the
        address limit the caller answers 429 and writes no audit row."""
        async with self.db.transaction() as tx:
            n, start, _ = await self._count(tx, f"addr:{address}", now)
        if n > self.limits.per_address:
            return Throttled(ThrottleReason.ADDRESS, start + self.limits.window_s - now)
        return None

    async def sweep(self, now: float) -> int:
        """Drop rows whose window and delay are over; past `max_rows`, the oldest."""
        n = await self.db.execute(
            "DELETE FROM login_throttle WHERE window_start < $1 AND next_at < $2",
            now - self.limits.window_s,
            now,
        )
        row = await self.db.fetchrow("SELECT COUNT(*) AS n FROM login_throttle")
        excess = int(row["n"]) - self.limits.max_rows if row else 0
        if excess > 0:
            n += await self.db.execute(
                "DELETE FROM login_throttle WHERE key IN"
                " (SELECT key FROM login_throttle ORDER BY window_start LIMIT $1)",
                excess,
            )
        return n


def retry_after(throttled: Throttled) -> int:
    return max(1, math.ceil(throttled.retry_after_s))
