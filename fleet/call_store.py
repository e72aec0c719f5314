"""The video calls' rows: each call's state, the messages relayed between its two ends, and each
site's call policy. Written against fleet.db's interface (SQLite and PostgreSQL alike).

The database is where the two ends of a call meet: behind a load balancer the kiosk's WebSocket
and the agent's may be held by different server processes, so a message for one end is a row
here, read by whichever process holds that end (fleet.call_hub wakes it).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from fleet.db import Database
from wire.fields import JsonObject
from wire.videocall import EndReason, ItemRef


class CallState(enum.Enum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class Side(enum.Enum):
    """The end of a call a relayed message is for."""

    KIOSK = "kiosk"
    AGENT = "agent"

    @property
    def other(self) -> Side:
        return Side.AGENT if self is Side.KIOSK else Side.KIOSK


@dataclass(frozen=True)
class CallPolicy:
    """A site's decision: may its kiosks call the hall, and are the calls recorded."""

    calls_allowed: bool = False
    recording: bool = False


@dataclass(frozen=True)
class CallRow:
    call_id: str
    kiosk_id: str
    site: str
    region: str
    state: CallState
    items: tuple[ItemRef, ...]
    recording: bool
    agent: str
    created_at: float

    @classmethod
    def from_row(cls, row: JsonObject) -> CallRow:
        return cls(row["call_id"], row["kiosk_id"], row["site"], row["region"],
                   CallState(row["state"]),
                   tuple(ItemRef.from_json(i) for i in json.loads(row["items_json"])),
                   bool(row["recording"]), row["agent"], float(row["created_at"]))

    def listing(self) -> JsonObject:
        """What an agent's list of ringing calls shows: no citizen data, the kiosk's place."""
        return {"call_id": self.call_id, "kiosk_id": self.kiosk_id, "site": self.site,
                "region": self.region, "since": self.created_at}


class CallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- policy ------------------------------------------------------------------------------------

    async def policy(self, site: str) -> CallPolicy:
        """A site nobody decided for has no video calls (the issue: "when the site allows it")."""
        row = await self.db.fetchrow(
            "SELECT calls_allowed, recording FROM call_policy WHERE site = $1", site)
        if row is None:
            return CallPolicy()
        return CallPolicy(bool(row["calls_allowed"]), bool(row["recording"]))

    async def set_policy(self, site: str, policy: CallPolicy, by: str, now: float) -> None:
        async with self.db.transaction() as tx:
            n = await tx.execute(
                "UPDATE call_policy SET calls_allowed = $2, recording = $3, updated_by = $4,"
                " updated_at = $5 WHERE site = $1",
                site, int(policy.calls_allowed), int(policy.recording), by, now)
            if n == 0:
                await tx.execute(
                    "INSERT INTO call_policy (site, calls_allowed, recording, updated_by,"
                    " updated_at) VALUES ($1, $2, $3, $4, $5)",
                    site, int(policy.calls_allowed), int(policy.recording), by, now)

    async def policies(self) -> list[JsonObject]:
        return await self.db.fetch("SELECT * FROM call_policy ORDER BY site")

    async def kiosk_place(self, kiosk_id: str) -> tuple[str, str] | None:
        row = await self.db.fetchrow("SELECT site, region FROM kiosks WHERE kiosk_id = $1",
                                     kiosk_id)
        return (row["site"], row["region"]) if row else None

    # -- calls -------------------------------------------------------------------------------------

    async def open_call(self, call_id: str, kiosk_id: str, site: str, region: str,
                        items: tuple[ItemRef, ...], recording: bool, now: float) -> bool:
        """A new ringing call; False if the id is taken (a replayed ring)."""
        async with self.db.transaction() as tx:
            if await tx.fetchrow("SELECT 1 FROM calls WHERE call_id = $1", call_id):
                return False
            await tx.execute(
                "INSERT INTO calls (call_id, kiosk_id, site, region, state, items_json,"
                " recording, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                call_id, kiosk_id, site, region, CallState.RINGING.value,
                json.dumps([i.to_json() for i in items], ensure_ascii=False), int(recording), now)
        return True

    async def call(self, call_id: str) -> CallRow | None:
        row = await self.db.fetchrow("SELECT * FROM calls WHERE call_id = $1", call_id)
        return CallRow.from_row(row) if row else None

    async def open_calls_of(self, kiosk_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT call_id FROM calls WHERE kiosk_id = $1 AND state <> 'ended'", kiosk_id)
        return [r["call_id"] for r in rows]

    async def ringing(self) -> list[CallRow]:
        rows = await self.db.fetch(
            "SELECT * FROM calls WHERE state = 'ringing' ORDER BY created_at")
        return [CallRow.from_row(r) for r in rows]

    async def take(self, call_id: str, agent: str, now: float) -> bool:
        """The agent answers: only one agent wins a ringing call (compare-and-set)."""
        n = await self.db.execute(
            "UPDATE calls SET state = 'answered', agent = $2, answered_at = $3"
            " WHERE call_id = $1 AND state = 'ringing'", call_id, agent, now)
        return n == 1

    async def end(self, call_id: str, reason: EndReason, now: float) -> bool:
        """Ends the call once; False if it had already ended (the other end, another process)."""
        n = await self.db.execute(
            "UPDATE calls SET state = 'ended', end_reason = $2, ended_at = $3"
            " WHERE call_id = $1 AND state <> 'ended'", call_id, reason.value, now)
        return n == 1

    async def set_left(self, call_id: str, side: Side, at: float | None) -> None:
        """When an end's link dropped (None: it is back)."""
        column = "kiosk_left_at" if side is Side.KIOSK else "agent_left_at"
        await self.db.execute(f"UPDATE calls SET {column} = $2 WHERE call_id = $1", call_id, at)

    async def overdue(self, now: float, ring_timeout_s: float,
                      grace_s: float) -> list[tuple[str, EndReason]]:
        """Calls to end: ringing too long, or an end whose link has not come back in time."""
        rows = await self.db.fetch(
            "SELECT call_id, state, created_at, kiosk_left_at, agent_left_at FROM calls"
            " WHERE state <> 'ended'")
        due = []
        for r in rows:
            left = [t for t in (r["kiosk_left_at"], r["agent_left_at"]) if t is not None]
            if left and now - min(left) > grace_s:
                due.append((r["call_id"], EndReason.LINK_LOST))
            elif r["state"] == CallState.RINGING.value and now - r["created_at"] > ring_timeout_s:
                due.append((r["call_id"], EndReason.NO_ANSWER))
        return due

    # -- the relay ---------------------------------------------------------------------------------

    async def push(self, call_id: str, side: Side, body: str, now: float) -> int:
        row = await self.db.fetchrow(
            "INSERT INTO call_signals (call_id, side, body, at) VALUES ($1, $2, $3, $4)"
            " RETURNING id", call_id, side.value, body, now)
        assert row is not None
        return int(row["id"])

    async def pending(self, call_id: str, side: Side, after: int) -> list[tuple[int, str]]:
        rows = await self.db.fetch(
            "SELECT id, body FROM call_signals WHERE call_id = $1 AND side = $2 AND id > $3"
            " ORDER BY id", call_id, side.value, after)
        return [(int(r["id"]), r["body"]) for r in rows]

    async def prune(self, before: float) -> int:
        """Relayed messages of calls that ended before `before` (SDP names the ends' addresses)."""
        return await self.db.execute(
            "DELETE FROM call_signals WHERE call_id IN"
            " (SELECT call_id FROM calls WHERE state = 'ended' AND ended_at < $1)", before)
