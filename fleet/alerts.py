"""Alerts: which ones a kiosk's reports call for, when they open and clear, who acknowledged them.

Three lifetimes, each in one place:
- state alerts (device fault, supply low, needs attention) follow the kiosk's reported state:
  its heartbeats open and clear them; a device-fault event opens one at once, before the next
  heartbeat;
- the offline alert is opened by the sweeper and cleared by the next heartbeat;
- a crash (an unexpected exit) and an update rolled back are one-offs: they stay open until an
  operator acknowledges them.
Every alert opened queues its notifications in the same transaction (fleet.notify_queue).
Offline, back-online and goodbye go into the kiosk's history beside its own events.
"""

from __future__ import annotations

import enum
import json
import secrets
import time

from fleet.db import Connection, Database
from fleet.notify_queue import NotificationQueue
from fleet.status import SqlArgs, Thresholds, judgement_sql
from wire.fields import JsonObject
from wire.fleet import DeviceHealth, Event, EventKind, Heartbeat, SupplyLevel


class AlertKind(enum.Enum):
    OFFLINE = "offline"
    DEVICE_FAULT = "device_fault"
    SUPPLY_LOW = "supply_low"
    NEEDS_ATTENTION = "needs_attention"
    CRASH = "crash"
    # A new software version did not become healthy and the kiosk went back to the old one.
    UPDATE_ROLLED_BACK = "update_rolled_back"


# Opened and cleared by the kiosk's heartbeats (the state it reports).
STATE_KINDS = frozenset({AlertKind.DEVICE_FAULT, AlertKind.SUPPLY_LOW, AlertKind.NEEDS_ATTENTION})
# A happening, not a state: open until acknowledged.
ONE_OFF_KINDS = frozenset({AlertKind.CRASH, AlertKind.UPDATE_ROLLED_BACK})


class HistoryKind(enum.Enum):
    """What the server itself records in a kiosk's history (beside the kiosk's own events)."""

    OFFLINE = "offline"
    BACK_ONLINE = "back_online"
    GOODBYE = "goodbye"


def alert_keys_of(hb: Heartbeat) -> dict[tuple[str, str], str]:
    """The state alerts a heartbeat calls for, as (kind, subject) -> detail."""
    keys: dict[tuple[str, str], str] = {}
    for device in hb.devices:
        if device.health is DeviceHealth.FAULT:
            keys[(AlertKind.DEVICE_FAULT.value, device.device)] = device.reason or "fault"
        for supply in device.supplies:
            if supply.level in (SupplyLevel.LOW, SupplyLevel.EMPTY):
                keys[(AlertKind.SUPPLY_LOW.value, f"{device.device}/{supply.name}")] = (
                    supply.level.value
                )
    if hb.attention:
        keys[(AlertKind.NEEDS_ATTENTION.value, "journal")] = (
            f"{len(hb.attention)} transaction(s) need attention"
        )
    return keys


def alert_of_event(event: Event) -> tuple[AlertKind, str, str] | None:
    """The alert a kiosk's event opens at once, if any: (kind, subject, detail)."""
    if event.kind is EventKind.UNEXPECTED_EXIT:
        return AlertKind.CRASH, "process", event.reason or "unexpected exit"
    if event.kind is EventKind.DEVICE_FAULT and event.device:
        return AlertKind.DEVICE_FAULT, event.device, event.reason or "fault"
    if event.kind is EventKind.UPDATE_RESULT and event.detail.get("outcome") == "rolled_back":
        why = str(event.detail.get("reason") or "no reason given")
        detail = str(event.detail.get("detail") or "")
        return (AlertKind.UPDATE_ROLLED_BACK, str(event.detail.get("version") or "?"),
                f"rolled back: {why}" + (f" ({detail})" if detail else ""))
    return None


# Marks a kiosk's remembered alert keys stale, so its next heartbeat reconciles its state alerts
# even if its state looks unchanged (an event opened one in between).
STALE_KEYS = "stale"


class AlertBook(NotificationQueue):
    """The alert half of the fleet store."""

    db: Database

    async def _open_alert(
        self, tx: Connection, kiosk_id: str, kind: AlertKind, subject: str, detail: str, now: float
    ) -> int:
        row = await tx.fetchrow(
            "INSERT INTO alerts (kiosk_id, kind, subject, detail, raised_at)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            kiosk_id,
            kind.value,
            subject,
            detail[:500],
            now,
        )
        assert row is not None
        await self.queue_notifications(tx, int(row["id"]), now)
        return int(row["id"])

    async def history(
        self, tx: Connection, kiosk_id: str, kind: HistoryKind, reason: str, now: float,
        **detail: float,
    ) -> None:
        """A server-side entry in the kiosk's history (its events list)."""
        await tx.execute(
            "INSERT INTO events (kiosk_id, event_id, kind, severity, device, reason, detail_json,"
            " at, received_at, origin) VALUES ($1, $2, $3, $4, '', $5, $6, $7, $7, 'server')",
            kiosk_id,
            f"srv-{secrets.token_hex(10)}",
            kind.value,
            "warning" if kind is HistoryKind.OFFLINE else "info",
            reason[:500],
            json.dumps(detail, sort_keys=True),
            now,
        )

    async def reconcile_state_alerts(
        self, tx: Connection, kiosk_id: str, wanted: dict[tuple[str, str], str], now: float
    ) -> None:
        open_rows = await tx.fetch(
            "SELECT id, kind, subject FROM alerts WHERE kiosk_id = $1 AND cleared_at IS NULL",
            kiosk_id,
        )
        state_kinds = {k.value for k in STATE_KINDS}
        have = {(r["kind"], r["subject"]): r["id"] for r in open_rows if r["kind"] in state_kinds}
        for key, alert_id in have.items():
            if key not in wanted:
                await tx.execute("UPDATE alerts SET cleared_at = $1 WHERE id = $2", now, alert_id)
        for (kind, subject), detail in wanted.items():
            if (kind, subject) not in have:
                await self._open_alert(tx, kiosk_id, AlertKind(kind), subject, detail, now)

    async def alert_for_event(
        self, tx: Connection, kiosk_id: str, event: Event, now: float
    ) -> None:
        """Open the alert an event calls for unless the same one is open already."""
        found = alert_of_event(event)
        if found is None:
            return
        kind, subject, detail = found
        if await tx.fetchrow(
            "SELECT id FROM alerts WHERE kiosk_id = $1 AND kind = $2 AND subject = $3"
            " AND cleared_at IS NULL",
            kiosk_id,
            kind.value,
            subject,
        ):
            return
        await self._open_alert(tx, kiosk_id, kind, subject, detail, now)
        if kind in STATE_KINDS:
            await tx.execute(
                "UPDATE kiosks SET alert_keys = $1 WHERE kiosk_id = $2", STALE_KEYS, kiosk_id
            )

    async def list_alerts(
        self, open_only: bool = True, kiosk_id: str | None = None, limit: int = 500
    ) -> list[JsonObject]:
        args = SqlArgs()
        sql = (
            "SELECT a.*, k.site, k.region FROM alerts a JOIN kiosks k ON k.kiosk_id = a.kiosk_id"
            " WHERE 1 = 1"
        )
        if open_only:
            sql += " AND a.cleared_at IS NULL"
        if kiosk_id is not None:
            sql += f" AND a.kiosk_id = {args.add(kiosk_id)}"
        sql += f" ORDER BY a.id DESC LIMIT {args.add(limit)}"
        return await self.db.fetch(sql, *args.values)

    async def ack_alert(self, alert_id: int, username: str) -> bool:
        """Acknowledge an open alert; a one-off (a crash) is closed by it. Audited."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "SELECT kiosk_id, kind, subject FROM alerts WHERE id = $1 AND acked_at IS NULL",
                alert_id,
            )
            now = time.time()
            n = 0
            if row is not None:
                n = await tx.execute(
                    "UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3"
                    " AND acked_at IS NULL",
                    now,
                    username,
                    alert_id,
                )
                if AlertKind(row["kind"]) in ONE_OFF_KINDS:
                    await tx.execute(
                        "UPDATE alerts SET cleared_at = $1 WHERE id = $2 AND cleared_at IS NULL",
                        now,
                        alert_id,
                    )
            target = row["kiosk_id"] if row else str(alert_id)
            detail = {"alert_id": alert_id}
            if row is not None:
                detail.update(kind=row["kind"], subject=row["subject"])
            await self.audit(  # type: ignore[attr-defined]
                username, "ack_alert", target, "ok" if n else "not_found", detail, tx
            )
        return n == 1

    async def raise_offline_alerts(self, now: float, thresholds: Thresholds) -> int:
        """Open an offline alert (and a history entry) for each kiosk gone silent without one.

        One set-based, conditional update marks them all: a kiosk is marked once however many
        processes sweep at the same moment, and only the marked ones get an alert."""
        args = SqlArgs()
        judged = judgement_sql(args, now, thresholds)
        async with self.db.transaction() as tx:
            silent = await tx.fetch(
                "UPDATE kiosks SET offline_alert = 1 WHERE offline_alert = 0 AND kiosk_id IN"
                f" (SELECT j.kiosk_id FROM (SELECT k.kiosk_id, k.last_seen, k.goodbye_at,"
                f" k.retired_at, {judged} FROM kiosks k) j WHERE j.connectivity = 'offline'"
                " AND j.goodbye_at IS NULL AND j.last_seen IS NOT NULL AND j.retired_at IS NULL)"
                " RETURNING kiosk_id, last_seen",
                *args.values,
            )
            for kiosk in sorted(silent, key=lambda k: k["kiosk_id"]):
                await self._open_alert(
                    tx, kiosk["kiosk_id"], AlertKind.OFFLINE, "heartbeat", "no heartbeat", now
                )
                await self.history(
                    tx,
                    kiosk["kiosk_id"],
                    HistoryKind.OFFLINE,
                    "no heartbeat",
                    now,
                    last_seen=kiosk["last_seen"],
                )
        return len(silent)

    async def clear_offline(
        self, tx: Connection, kiosk_id: str, last_seen: float, now: float
    ) -> None:
        """The kiosk is heard again: close its offline alert and say so in its history."""
        await tx.execute(
            "UPDATE alerts SET cleared_at = $1 WHERE kiosk_id = $2 AND kind = $3"
            " AND cleared_at IS NULL",
            now,
            kiosk_id,
            AlertKind.OFFLINE.value,
        )
        await tx.execute("UPDATE kiosks SET offline_alert = 0 WHERE kiosk_id = $1", kiosk_id)
        await self.history(
            tx,
            kiosk_id,
            HistoryKind.BACK_ONLINE,
            "heartbeat received",
            now,
            silent_s=round(now - last_seen, 1),
        )
