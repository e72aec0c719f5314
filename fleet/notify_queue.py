"""The durable queue of alert notifications (one row per alert and channel) in the fleet store.

An alert's notifications are queued in the transaction that opens it, so an alert is never
raised without them, and they survive a server restart. Delivery (fleet.notify) claims due rows
with a lease, so several server processes on one PostgreSQL never send the same one at once.
"""

from __future__ import annotations

import enum
import json

from fleet.db import Connection, Database
from wire.fields import JsonObject


class NotifyChannel(enum.Enum):
    WEBHOOK = "webhook"
    EMAIL = "email"


def alert_payload(alert: JsonObject) -> JsonObject:
    """What a notification says about an alert: no personal data, only the kiosk and the fault."""
    return {
        "type": "alert.raised",
        "alert": {
            "id": alert["id"],
            "kind": alert["kind"],
            "subject": alert["subject"],
            "detail": alert["detail"],
            "raised_at": alert["raised_at"],
        },
        "kiosk": {"kiosk_id": alert["kiosk_id"], "site": alert["site"], "region": alert["region"]},
    }


class NotificationQueue:
    """Queue, claim and settle notifications. `notify_channels` is set from the configuration."""

    db: Database
    notify_channels: tuple[NotifyChannel, ...] = ()

    async def queue_notifications(self, tx: Connection, alert_id: int, now: float) -> None:
        if not self.notify_channels:
            return
        alert = await tx.fetchrow(
            "SELECT a.id, a.kiosk_id, a.kind, a.subject, a.detail, a.raised_at, k.site, k.region"
            " FROM alerts a JOIN kiosks k ON k.kiosk_id = a.kiosk_id WHERE a.id = $1",
            alert_id,
        )
        assert alert is not None
        payload = json.dumps(alert_payload(alert), sort_keys=True, separators=(",", ":"))
        await tx.executemany(
            "INSERT INTO notifications (alert_id, channel, payload, created_at, next_at)"
            " VALUES ($1, $2, $3, $4, $4)",
            [(alert_id, channel.value, payload, now) for channel in self.notify_channels],
        )

    async def claim_due_notifications(
        self, now: float, lease_s: float, limit: int = 20
    ) -> list[JsonObject]:
        """Due, unsettled notifications, each leased to the caller for `lease_s` seconds."""
        rows = await self.db.fetch(
            "SELECT id, alert_id, channel, payload, attempts FROM notifications"
            " WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= $1"
            " AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at, id LIMIT $2",
            now,
            limit,
        )
        claimed = []
        for row in rows:
            n = await self.db.execute(
                "UPDATE notifications SET lease_until = $1, attempts = attempts + 1"
                " WHERE id = $2 AND delivered_at IS NULL AND failed_at IS NULL"
                " AND (lease_until IS NULL OR lease_until < $3)",
                now + lease_s,
                row["id"],
                now,
            )
            if n == 1:
                claimed.append({**row, "attempts": row["attempts"] + 1})
        return claimed

    async def notification_delivered(self, notification_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE notifications SET delivered_at = $1, lease_until = NULL, last_error = ''"
            " WHERE id = $2",
            now,
            notification_id,
        )

    async def notification_retry(self, notification_id: int, next_at: float, error: str) -> None:
        await self.db.execute(
            "UPDATE notifications SET next_at = $1, lease_until = NULL, last_error = $2"
            " WHERE id = $3",
            next_at,
            error[:500],
            notification_id,
        )

    async def notification_failed(self, notification_id: int, now: float, error: str) -> None:
        await self.db.execute(
            "UPDATE notifications SET failed_at = $1, lease_until = NULL, last_error = $2"
            " WHERE id = $3",
            now,
            error[:500],
            notification_id,
        )

    async def list_notifications(self, alert_id: int | None = None) -> list[JsonObject]:
        if alert_id is None:
            return await self.db.fetch("SELECT * FROM notifications ORDER BY id DESC LIMIT 500")
        return await self.db.fetch(
            "SELECT * FROM notifications WHERE alert_id = $1 ORDER BY id", alert_id
        )
