"""What kiosks report, taken into the fleet store: heartbeats, events and goodbyes.

One heartbeat is one transaction: the kiosk's acknowledgements, its state (once per sequence
number, so a resend counts once), the commands whose effect it shows, its state alerts, the end
of an offline spell, and the reply's commands and service order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.alerts import STALE_KEYS, AlertBook, HistoryKind, alert_keys_of
from fleet.db import Connection, Database
from fleet.rollouts import Rollouts, update_json
from fleet.status import problems
from wire.fields import JsonObject
from wire.fleet import Command, Event, Heartbeat, ServiceOrder, ServiceState


@dataclass(frozen=True)
class HeartbeatResult:
    commands: tuple[Command, ...]
    acked: tuple[str, ...]
    fresh: bool
    service: ServiceOrder


def day_of(t: float) -> str:
    """The calendar day (server's local time) a timestamp falls on: the unit of the daily counters."""
    return time.strftime("%Y-%m-%d", time.localtime(t))


class KioskReports(AlertBook, Rollouts):
    """The kiosk-facing half of the fleet store."""

    db: Database

    if TYPE_CHECKING:
        # fleet.health.FleetHealth, mixed into FleetStore beside this class, keeps availability,
        # repairs and supplies from the same reports (it imports this module, so it cannot be a
        # base class here). Declared for the type checker only: at run time FleetHealth's serve.
        async def health_before(self, tx: Connection, kiosk_id: str) -> JsonObject | None: ...

        async def observe_health(
            self, tx: Connection, hb: Heartbeat, prev: JsonObject | None, now: float
        ) -> None: ...

        async def track_repair(self, tx: Connection, kiosk_id: str, event: Event) -> None: ...

    async def record_heartbeat(self, hb: Heartbeat, now: float) -> HeartbeatResult:
        """Take one heartbeat in, group-committed with whatever else is waiting."""
        return await self.db.run_unit(lambda tx: self.heartbeat_in(tx, hb, now), hb.kiosk_id)

    async def heartbeat_in(self, tx: Connection, hb: Heartbeat, now: float) -> HeartbeatResult:
        """One heartbeat inside the caller's transaction (a group-commit unit)."""
        # FOR UPDATE: a kiosk's retry can arrive (at another process, too) while its first
        # try is in flight; the second waits and then sees the first's seq, so the daily counters
        # count once and last_seq never moves back. SQLite's BEGIN IMMEDIATE serialises anyway.
        row = await tx.fetchrow(
            "SELECT kiosk_id, last_seq, last_seen, counters_json, alert_keys, offline_alert,"
            " wire_version, started_at, boot_id, wanted_service, wanted_revision, rollout_id,"
            # Most heartbeats find no command open: then none is looked for (observe, deliver).
            " (SELECT COUNT(*) FROM commands c WHERE c.kiosk_id = kiosks.kiosk_id"
            "  AND c.status IN ('queued', 'delivered', 'acknowledged')) AS open_commands"
            " FROM kiosks WHERE kiosk_id = $1"
            + (" FOR UPDATE OF kiosks" if tx.dialect == "postgresql" else ""),
            hb.kiosk_id,
        )
        if row is None:
            raise KeyError(hb.kiosk_id)
        for ack in hb.acks:
            await self.apply_ack(tx, row, ack, now)
        fresh = hb.seq > row["last_seq"]
        if fresh:
            before = await self.health_before(tx, hb.kiosk_id)
            await self._apply_state(tx, hb, row, now)
            await self.observe_health(tx, hb, before, now)
            if row["open_commands"] or hb.acks:
                await self.observe(tx, hb, now)
            if row["rollout_id"]:
                await self.rollout_seen(tx, row["rollout_id"], hb, now)
        else:
            await tx.execute(
                "UPDATE kiosks SET last_seen = $1, goodbye_at = NULL WHERE kiosk_id = $2",
                now,
                hb.kiosk_id,
            )
        if row["offline_alert"]:
            await self.clear_offline(tx, hb.kiosk_id, row["last_seen"] or now, now)
        if hb.acks:  # an ack may have closed or opened what is still to deliver
            row = {**row, "open_commands": None}
        commands, order = await self.deliver(tx, hb.kiosk_id, hb.wire_version, now, row)
        return HeartbeatResult(commands, tuple(a.command_id for a in hb.acks), fresh, order)

    async def _apply_state(
        self, tx: Connection, hb: Heartbeat, row: JsonObject, now: float
    ) -> None:
        previous = json.loads(row["counters_json"])
        deltas = {}
        for name, value in hb.counters.items():
            before = previous.get(name, 0)
            delta = value - before if value >= before else value  # a reset counter starts over
            if delta:
                deltas[name] = delta
        wanted = alert_keys_of(hb)
        wanted_list = json.dumps(sorted([k, s] for k, s in wanted))
        devices = [d.to_json() for d in hb.devices]
        attention = [a.to_json() for a in hb.attention]
        # A v1 kiosk does not say which service state it holds; "not serving" is the best guess.
        service_state = (
            hb.service_state
            if hb.wire_version >= 2
            else (ServiceState.IN_SERVICE if hb.in_service else ServiceState.OUT_OF_SERVICE)
        )
        await tx.execute(
            "UPDATE kiosks SET last_seen = $1, status_at = $2, last_seq = $3, interval_s = $4,"
            " software_version = $5, catalog_version = $6, in_service = $7, devices_json = $8,"
            " attention_json = $9, counters_json = $10, alert_keys = $11,"
            " heartbeats = heartbeats + 1, goodbye_at = NULL, goodbye_reason = '',"
            " service_state = $12, service_revision = $13, wire_version = $14,"
            " started_at = $15, boot_id = $16, restarts = $17, problem_count = $18,"
            " update_json = $19 WHERE kiosk_id = $20",
            now,
            hb.sent_at,
            hb.seq,
            hb.interval_s,
            hb.software_version[:100],
            hb.catalog_version[:100],
            1 if hb.in_service else 0,
            json.dumps(devices),
            json.dumps(attention),
            json.dumps(dict(hb.counters), sort_keys=True),
            wanted_list,
            service_state.value,
            hb.service_revision,
            hb.wire_version,
            hb.started_at or None,
            hb.boot_id,
            hb.restarts,
            len(problems({"devices": devices, "attention": attention})),
            update_json(hb),
            hb.kiosk_id,
        )
        if deltas:
            day = day_of(hb.sent_at if hb.sent_at <= now else now)
            await tx.executemany(
                "INSERT INTO daily_counters (kiosk_id, day, name, value) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (kiosk_id, day, name)"
                " DO UPDATE SET value = daily_counters.value + excluded.value",
                [(hb.kiosk_id, day, name, delta) for name, delta in deltas.items()],
            )
        if wanted_list != row["alert_keys"] or row["alert_keys"] == STALE_KEYS:
            await self.reconcile_state_alerts(tx, hb.kiosk_id, wanted, now)

    async def record_events(self, kiosk_id: str, events: tuple[Event, ...], now: float) -> int:
        """Store events once each (a resend of the same event_id is ignored); returns how many new.
        An event that calls for an alert (a crash, a device fault) opens it at once."""
        new = 0
        async with self.db.transaction() as tx:
            for e in events:
                added = await tx.execute(
                    "INSERT INTO events (kiosk_id, event_id, kind, severity, device, reason,"
                    " detail_json, at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT (kiosk_id, event_id) DO NOTHING",
                    kiosk_id,
                    e.event_id,
                    e.kind.value,
                    e.severity.value,
                    e.device,
                    e.reason[:500],
                    json.dumps(dict(e.detail), sort_keys=True),
                    e.at,
                    now,
                )
                if added:
                    await self.alert_for_event(tx, kiosk_id, e, now)
                    await self.track_repair(tx, kiosk_id, e)
                new += added
            if new:
                await tx.execute(
                    "UPDATE kiosks SET events = events + $1, last_seen = $2 WHERE kiosk_id = $3",
                    new,
                    now,
                    kiosk_id,
                )
        return new

    async def record_goodbye(self, kiosk_id: str, reason: str, now: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE kiosks SET goodbye_at = $1, goodbye_reason = $2, last_seen = $1"
                " WHERE kiosk_id = $3",
                now,
                reason[:100] or "shutdown",
                kiosk_id,
            )
            await self.history(tx, kiosk_id, HistoryKind.GOODBYE, reason or "shutdown", now)

    async def recent_events(self, kiosk_id: str, limit: int = 50) -> list[JsonObject]:
        rows = await self.db.fetch(
            "SELECT event_id, kind, severity, device, reason, detail_json, at, received_at, origin"
            " FROM events WHERE kiosk_id = $1 ORDER BY id DESC LIMIT $2",
            kiosk_id,
            limit,
        )
        for r in rows:
            r["detail"] = json.loads(r.pop("detail_json"))
        return rows
