"""The fleet's state: kiosks, heartbeats, events, commands, alerts, operators and the audit log.

Written once against `fleet.db`'s interface, so SQLite and PostgreSQL hold the same data the same
way and the same tests run on both.
"""

from __future__ import annotations

import enum
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fleet.db import Connection, Database
from fleet.schema import SCHEMA_VERSION, schema_sql
from kiosk.fleet_wire import (
    Command,
    CommandKind,
    DeviceHealth,
    Event,
    Heartbeat,
    SupplyLevel,
)


class Role(enum.Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class AlertKind(enum.Enum):
    OFFLINE = "offline"
    DEVICE_FAULT = "device_fault"
    SUPPLY_LOW = "supply_low"
    NEEDS_ATTENTION = "needs_attention"


class EnrollRefusal(enum.Enum):
    TOKEN_UNKNOWN = "token_unknown"
    TOKEN_USED = "token_used"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_FOR_OTHER_KIOSK = "token_for_other_kiosk"  # a re-key token names another kiosk
    KIOSK_EXISTS = "kiosk_exists"
    KEY_IN_USE = "key_in_use"


class EnrollmentRefused(Exception):
    def __init__(self, reason: EnrollRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


class NoSuchKiosk(LookupError):
    """A re-key token was asked for a kiosk the fleet does not have."""


@dataclass(frozen=True)
class Enrolled:
    """A kiosk's key the fleet now knows; `replaced_key_id` is the key a re-key retired."""

    kiosk_id: str
    key_id: str
    replaced_key_id: str | None = None


@dataclass(frozen=True)
class HeartbeatResult:
    commands: tuple[Command, ...]
    acked: tuple[str, ...]
    fresh: bool


def day_of(t: float) -> str:
    """The calendar day (server's local time) a timestamp falls on: the unit of the daily counters."""
    return time.strftime("%Y-%m-%d", time.localtime(t))


def alert_keys_of(hb: Heartbeat) -> dict[tuple[str, str], str]:
    """The alerts a heartbeat's state calls for, as (kind, subject) -> detail."""
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


class FleetStore:
    """Domain operations over the fleet database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.executescript(schema_sql(self.db.dialect))  # type: ignore[attr-defined]
        row = await self.db.fetchrow("SELECT version FROM schema_info")
        if row is None:
            await self.db.execute("INSERT INTO schema_info (version) VALUES ($1)", SCHEMA_VERSION)

    async def close(self) -> None:
        await self.db.close()

    # -- operators ---------------------------------------------------------------------------------

    async def create_user(self, username: str, password_hash: str, role: Role) -> None:
        await self.db.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)",
            username,
            password_hash,
            role.value,
            time.time(),
        )

    async def set_password(self, username: str, password_hash: str) -> bool:
        n = await self.db.execute(
            "UPDATE users SET password_hash = $1 WHERE username = $2", password_hash, username
        )
        return n > 0

    async def get_user(self, username: str) -> dict[str, Any] | None:
        return await self.db.fetchrow("SELECT * FROM users WHERE username = $1", username)

    async def list_users(self) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT username, role, created_at FROM users ORDER BY username")

    async def create_session(self, token_hash: str, username: str, ttl_s: float) -> None:
        now = time.time()
        await self.db.execute(
            "INSERT INTO sessions (token_hash, username, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4)",
            token_hash,
            username,
            now,
            now + ttl_s,
        )

    async def session_user(self, token_hash: str) -> dict[str, Any] | None:
        return await self.db.fetchrow(
            "SELECT u.username, u.role FROM sessions s JOIN users u ON u.username = s.username"
            " WHERE s.token_hash = $1 AND s.expires_at > $2",
            token_hash,
            time.time(),
        )

    async def delete_session(self, token_hash: str) -> None:
        await self.db.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)

    # -- audit -------------------------------------------------------------------------------------

    async def audit(
        self,
        actor: str,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> None:
        await (conn or self.db).execute(
            "INSERT INTO audit (at, actor, action, target, outcome, detail_json)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            time.time(),
            actor,
            action,
            target,
            outcome,
            json.dumps(detail or {}, sort_keys=True),
        )

    async def list_audit(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT * FROM audit ORDER BY id DESC LIMIT $1", limit)
        for r in rows:
            r["detail"] = json.loads(r.pop("detail_json"))
        return rows

    # -- enrollment --------------------------------------------------------------------------------

    async def create_enrollment_token(
        self, token_hash: str, created_by: str, ttl_s: float, rekey_kiosk_id: str | None = None
    ) -> float:
        """A one-time token; with `rekey_kiosk_id` it can only give that enrolled kiosk a new key.
        Returns when it expires; NoSuchKiosk when the kiosk to re-key is not enrolled."""
        now = time.time()
        async with self.db.transaction() as tx:
            if rekey_kiosk_id is not None and not await tx.fetchrow(
                "SELECT 1 AS x FROM kiosks WHERE kiosk_id = $1", rekey_kiosk_id
            ):
                raise NoSuchKiosk(rekey_kiosk_id)
            await tx.execute(
                "INSERT INTO enrollment_tokens (token_hash, created_by, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4)",
                token_hash,
                created_by,
                now,
                now + ttl_s,
            )
            if rekey_kiosk_id is not None:
                await tx.execute(
                    "INSERT INTO rekey_tokens (token_hash, kiosk_id) VALUES ($1, $2)",
                    token_hash,
                    rekey_kiosk_id,
                )
        return now + ttl_s

    async def enroll(
        self,
        token_hash: str,
        kiosk_id: str,
        public_key_pem: str,
        key_id: str,
        site: str,
        region: str,
        interval_s: float,
    ) -> Enrolled:
        """Spend a one-time token on one kiosk's key, or raise EnrollmentRefused.

        An ordinary token enrolls a new kiosk. A re-key token (made for one enrolled kiosk)
        replaces that kiosk's key, site and region: from then on only the new key verifies.
        """
        now = time.time()
        async with self.db.transaction() as tx:
            token = await tx.fetchrow(
                "SELECT * FROM enrollment_tokens WHERE token_hash = $1", token_hash
            )
            if token is None:
                raise EnrollmentRefused(EnrollRefusal.TOKEN_UNKNOWN)
            if token["used_at"] is not None:
                raise EnrollmentRefused(EnrollRefusal.TOKEN_USED)
            if token["expires_at"] < now:
                raise EnrollmentRefused(EnrollRefusal.TOKEN_EXPIRED)
            rekey = await tx.fetchrow(
                "SELECT kiosk_id FROM rekey_tokens WHERE token_hash = $1", token_hash
            )
            if rekey is not None and rekey["kiosk_id"] != kiosk_id:
                raise EnrollmentRefused(EnrollRefusal.TOKEN_FOR_OTHER_KIOSK)
            current = await tx.fetchrow("SELECT key_id FROM kiosks WHERE kiosk_id = $1", kiosk_id)
            if current is not None and rekey is None:
                raise EnrollmentRefused(EnrollRefusal.KIOSK_EXISTS)
            if await tx.fetchrow("SELECT 1 AS x FROM kiosks WHERE key_id = $1", key_id):
                raise EnrollmentRefused(EnrollRefusal.KEY_IN_USE)
            n = await tx.execute(
                "UPDATE enrollment_tokens SET used_at = $1, used_by = $2"
                " WHERE token_hash = $3 AND used_at IS NULL",
                now,
                kiosk_id,
                token_hash,
            )
            if n != 1:
                raise EnrollmentRefused(EnrollRefusal.TOKEN_USED)
            if current is not None:
                old_key_id = current["key_id"]
                return await self._rekey(
                    tx, kiosk_id, old_key_id, key_id, public_key_pem, site, region
                )
            await tx.execute(
                "INSERT INTO kiosks (kiosk_id, key_id, public_key_pem, site, region, enrolled_at,"
                " interval_s) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                kiosk_id,
                key_id,
                public_key_pem,
                site,
                region,
                now,
                interval_s,
            )
            await self.audit(
                f"kiosk:{kiosk_id}", "enroll", kiosk_id, "ok", {"site": site, "region": region}, tx
            )
        return Enrolled(kiosk_id, key_id)

    async def _rekey(
        self,
        tx: Connection,
        kiosk_id: str,
        old_key_id: str,
        key_id: str,
        public_key_pem: str,
        site: str,
        region: str,
    ) -> Enrolled:
        """The kiosk keeps its history; its old key stops verifying (kiosk_key finds it no more)."""
        await tx.execute(
            "UPDATE kiosks SET key_id = $1, public_key_pem = $2, site = $3, region = $4"
            " WHERE kiosk_id = $5",
            key_id,
            public_key_pem,
            site,
            region,
            kiosk_id,
        )
        detail = {"old_key_id": old_key_id, "key_id": key_id, "site": site, "region": region}
        await self.audit(f"kiosk:{kiosk_id}", "rekey", kiosk_id, "ok", detail, tx)
        return Enrolled(kiosk_id, key_id, replaced_key_id=old_key_id)

    async def kiosk_key(self, key_id: str) -> dict[str, Any] | None:
        return await self.db.fetchrow(
            "SELECT kiosk_id, public_key_pem FROM kiosks WHERE key_id = $1", key_id
        )

    async def remember_nonce(self, key_id: str, nonce: str, now: float) -> bool:
        """True the first time this key uses this nonce; False for a replay."""
        n = await self.db.execute(
            "INSERT INTO nonces (key_id, nonce, seen_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (key_id, nonce) DO NOTHING",
            key_id,
            nonce,
            now,
        )
        return n == 1

    async def forget_nonces(self, before: float) -> int:
        return await self.db.execute("DELETE FROM nonces WHERE seen_at < $1", before)

    # -- heartbeats, events, goodbyes --------------------------------------------------------------

    async def record_heartbeat(self, hb: Heartbeat, now: float) -> HeartbeatResult:
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "SELECT last_seq, counters_json, alert_keys, offline_alert FROM kiosks"
                " WHERE kiosk_id = $1",
                hb.kiosk_id,
            )
            if row is None:
                raise KeyError(hb.kiosk_id)
            for ack in hb.acks:
                await tx.execute(
                    "UPDATE commands SET acked_at = $1, outcome = $2, ack_detail = $3"
                    " WHERE command_id = $4 AND kiosk_id = $5 AND acked_at IS NULL",
                    now,
                    ack.outcome.value,
                    ack.detail[:500],
                    ack.command_id,
                    hb.kiosk_id,
                )
            fresh = hb.seq > row["last_seq"]
            if fresh:
                await self._apply_state(tx, hb, row, now)
            else:
                await tx.execute(
                    "UPDATE kiosks SET last_seen = $1, goodbye_at = NULL WHERE kiosk_id = $2",
                    now,
                    hb.kiosk_id,
                )
            if row["offline_alert"]:
                await tx.execute(
                    "UPDATE alerts SET cleared_at = $1 WHERE kiosk_id = $2 AND kind = $3"
                    " AND cleared_at IS NULL",
                    now,
                    hb.kiosk_id,
                    AlertKind.OFFLINE.value,
                )
                await tx.execute(
                    "UPDATE kiosks SET offline_alert = 0 WHERE kiosk_id = $1", hb.kiosk_id
                )
            pending = await tx.fetch(
                "SELECT command_id, kind, params_json, issued_at, delivered_at FROM commands"
                " WHERE kiosk_id = $1 AND acked_at IS NULL ORDER BY issued_at, command_id",
                hb.kiosk_id,
            )
            if any(p["delivered_at"] is None for p in pending):
                await tx.execute(
                    "UPDATE commands SET delivered_at = $1 WHERE kiosk_id = $2"
                    " AND acked_at IS NULL AND delivered_at IS NULL",
                    now,
                    hb.kiosk_id,
                )
        commands = tuple(
            Command(
                p["command_id"],
                CommandKind(p["kind"]),
                p["issued_at"],
                json.loads(p["params_json"]),
            )
            for p in pending
        )
        return HeartbeatResult(commands, tuple(a.command_id for a in hb.acks), fresh)

    async def _apply_state(
        self, tx: Connection, hb: Heartbeat, row: dict[str, Any], now: float
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
        await tx.execute(
            "UPDATE kiosks SET last_seen = $1, status_at = $2, last_seq = $3, interval_s = $4,"
            " software_version = $5, catalog_version = $6, in_service = $7, devices_json = $8,"
            " attention_json = $9, counters_json = $10, alert_keys = $11,"
            " heartbeats = heartbeats + 1, goodbye_at = NULL, goodbye_reason = ''"
            " WHERE kiosk_id = $12",
            now,
            hb.sent_at,
            hb.seq,
            hb.interval_s,
            hb.software_version[:100],
            hb.catalog_version[:100],
            1 if hb.in_service else 0,
            json.dumps([d.to_json() for d in hb.devices]),
            json.dumps([a.to_json() for a in hb.attention]),
            json.dumps(dict(hb.counters), sort_keys=True),
            wanted_list,
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
        if wanted_list != row["alert_keys"]:
            await self._reconcile_alerts(tx, hb.kiosk_id, wanted, now)

    async def _reconcile_alerts(
        self, tx: Connection, kiosk_id: str, wanted: dict[tuple[str, str], str], now: float
    ) -> None:
        open_rows = await tx.fetch(
            "SELECT id, kind, subject FROM alerts WHERE kiosk_id = $1 AND cleared_at IS NULL"
            " AND kind != $2",
            kiosk_id,
            AlertKind.OFFLINE.value,
        )
        have = {(r["kind"], r["subject"]): r["id"] for r in open_rows}
        for key, alert_id in have.items():
            if key not in wanted:
                await tx.execute("UPDATE alerts SET cleared_at = $1 WHERE id = $2", now, alert_id)
        for (kind, subject), detail in wanted.items():
            if (kind, subject) not in have:
                await tx.execute(
                    "INSERT INTO alerts (kiosk_id, kind, subject, detail, raised_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    kiosk_id,
                    kind,
                    subject,
                    detail,
                    now,
                )

    async def record_events(self, kiosk_id: str, events: tuple[Event, ...], now: float) -> int:
        """Store events once each (a resend of the same event_id is ignored); returns how many new."""
        new = 0
        async with self.db.transaction() as tx:
            for e in events:
                new += await tx.execute(
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
            if new:
                await tx.execute(
                    "UPDATE kiosks SET events = events + $1, last_seen = $2 WHERE kiosk_id = $3",
                    new,
                    now,
                    kiosk_id,
                )
        return new

    async def record_goodbye(self, kiosk_id: str, reason: str, now: float) -> None:
        await self.db.execute(
            "UPDATE kiosks SET goodbye_at = $1, goodbye_reason = $2, last_seen = $1"
            " WHERE kiosk_id = $3",
            now,
            reason[:100] or "shutdown",
            kiosk_id,
        )

    async def store_log_upload(self, kiosk_id: str, command_id: str, content: str) -> int:
        row = await self.db.fetchrow(
            "INSERT INTO log_uploads (kiosk_id, command_id, uploaded_at, size, content)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            kiosk_id,
            command_id,
            time.time(),
            len(content),
            content,
        )
        assert row is not None
        return int(row["id"])

    async def list_log_uploads(self, kiosk_id: str) -> list[dict[str, Any]]:
        return await self.db.fetch(
            "SELECT id, command_id, uploaded_at, size FROM log_uploads WHERE kiosk_id = $1"
            " ORDER BY id DESC",
            kiosk_id,
        )

    async def get_log_upload(self, kiosk_id: str, upload_id: int) -> dict[str, Any] | None:
        return await self.db.fetchrow(
            "SELECT * FROM log_uploads WHERE kiosk_id = $1 AND id = $2", kiosk_id, upload_id
        )

    # -- reading the fleet -------------------------------------------------------------------------

    async def list_kiosks(self) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT * FROM kiosks ORDER BY region, site, kiosk_id")
        return [_decode_kiosk(r) for r in rows]

    async def get_kiosk(self, kiosk_id: str) -> dict[str, Any] | None:
        row = await self.db.fetchrow("SELECT * FROM kiosks WHERE kiosk_id = $1", kiosk_id)
        return _decode_kiosk(row) if row else None

    async def recent_events(self, kiosk_id: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT event_id, kind, severity, device, reason, detail_json, at, received_at"
            " FROM events WHERE kiosk_id = $1 ORDER BY id DESC LIMIT $2",
            kiosk_id,
            limit,
        )
        for r in rows:
            r["detail"] = json.loads(r.pop("detail_json"))
        return rows

    async def daily_counters(self, kiosk_id: str, since_day: str) -> list[dict[str, Any]]:
        return await self.db.fetch(
            "SELECT day, name, value FROM daily_counters WHERE kiosk_id = $1 AND day >= $2"
            " ORDER BY day, name",
            kiosk_id,
            since_day,
        )

    # -- commands ----------------------------------------------------------------------------------

    async def queue_command(
        self, kiosk_id: str, kind: CommandKind, params: dict[str, Any], issued_by: str
    ) -> Command:
        command = Command(f"cmd-{secrets.token_hex(8)}", kind, time.time(), params)
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO commands (command_id, kiosk_id, kind, params_json, issued_by,"
                " issued_at) VALUES ($1, $2, $3, $4, $5, $6)",
                command.command_id,
                kiosk_id,
                kind.value,
                json.dumps(params, sort_keys=True),
                issued_by,
                command.issued_at,
            )
            await self.audit(
                issued_by,
                "command",
                kiosk_id,
                "queued",
                {"command_id": command.command_id, "kind": kind.value},
                tx,
            )
        return command

    async def list_commands(self, kiosk_id: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT * FROM commands WHERE kiosk_id = $1 ORDER BY issued_at DESC LIMIT $2",
            kiosk_id,
            limit,
        )
        for r in rows:
            r["params"] = json.loads(r.pop("params_json"))
        return rows

    # -- alerts ------------------------------------------------------------------------------------

    async def list_alerts(
        self, open_only: bool = True, kiosk_id: str | None = None
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT a.*, k.site, k.region FROM alerts a JOIN kiosks k ON k.kiosk_id = a.kiosk_id"
            " WHERE 1 = 1"
        )
        args: list[Any] = []
        if open_only:
            sql += " AND a.cleared_at IS NULL"
        if kiosk_id is not None:
            args.append(kiosk_id)
            sql += f" AND a.kiosk_id = ${len(args)}"
        sql += " ORDER BY a.id DESC LIMIT 500"
        return await self.db.fetch(sql, *args)

    async def ack_alert(self, alert_id: int, username: str) -> bool:
        async with self.db.transaction() as tx:
            n = await tx.execute(
                "UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL",
                time.time(),
                username,
                alert_id,
            )
            await self.audit(
                username, "ack_alert", str(alert_id), "ok" if n else "not_found", None, tx
            )
        return n == 1

    async def alert_candidates(self) -> list[dict[str, Any]]:
        """Kiosks that have spoken, not said goodbye, and have no offline alert open."""
        return await self.db.fetch(
            "SELECT kiosk_id, last_seen, interval_s, goodbye_at FROM kiosks"
            " WHERE offline_alert = 0 AND goodbye_at IS NULL AND last_seen IS NOT NULL"
        )

    async def raise_offline_alerts(self, silent_kiosks: list[str], now: float) -> int:
        """Open an offline alert for each kiosk gone silent that does not have one yet."""
        raised = 0
        for kiosk_id in silent_kiosks:
            async with self.db.transaction() as tx:
                n = await tx.execute(
                    "UPDATE kiosks SET offline_alert = 1 WHERE kiosk_id = $1 AND offline_alert = 0",
                    kiosk_id,
                )
                if n:
                    await tx.execute(
                        "INSERT INTO alerts (kiosk_id, kind, subject, detail, raised_at)"
                        " VALUES ($1, $2, $3, $4, $5)",
                        kiosk_id,
                        AlertKind.OFFLINE.value,
                        "heartbeat",
                        "no heartbeat",
                        now,
                    )
                    raised += 1
        return raised


def _decode_kiosk(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["devices"] = json.loads(row.pop("devices_json"))
    row["attention"] = json.loads(row.pop("attention_json"))
    row["counters"] = json.loads(row.pop("counters_json"))
    row["in_service"] = bool(row["in_service"])
    row.pop("alert_keys", None)
    row.pop("public_key_pem", None)
    return row
