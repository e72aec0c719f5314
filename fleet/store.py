"""The fleet's state: kiosks, heartbeats, events, commands, alerts, operators and the audit log,
written once against `fleet.db`'s interface (SQLite and PostgreSQL alike, the same tests)."""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass

from fleet.availability import Availability
from fleet.db import Connection, Database
from fleet.fleet_query import FleetQuery
from fleet.health import FleetHealth
from fleet.kiosk_keys import KioskKeys
from fleet.kiosk_reports import KioskReports
from fleet.notify_queue import NotifyChannel
from fleet.schema import SCHEMA_VERSION, migration_sql, schema_sql
from fleet.statistics import Statistics
from fleet.status import Thresholds
from fleet.supervision import Supervision
from fleet.tx_facts import ReportIngest
from wire.fields import JsonObject


class Role(enum.Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    # A hall window's agent who answers kiosks' video calls (fleet.signalling). Beside the ladder:
    # an agent may look (viewer) but sends no commands; only an agent answers a citizen's call.
    AGENT = "agent"

    def allows(self, needed: Role) -> bool:
        if needed is Role.AGENT:
            return self is Role.AGENT
        if self is Role.AGENT:
            return needed is Role.VIEWER
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class EnrollRefusal(enum.Enum):
    TOKEN_UNKNOWN = "token_unknown"
    TOKEN_USED = "token_used"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_FOR_OTHER_KIOSK = "token_for_other_kiosk"  # a re-key or bound token names another
    TOKEN_FOR_OTHER_SITE = "token_for_other_site"  # a token bound to a site, used for another
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


class FleetStore(
    KioskReports,
    FleetQuery,
    KioskKeys,
    ReportIngest,
    Statistics,
    Supervision,
    Availability,
    FleetHealth,
):
    """Domain operations over the fleet database: operators, audit, enrollment and keys, log
    uploads here; kiosk reports, commands, alerts and notifications, the operators' queries,
    business reports and their figures, and fleet health in the modules it is built from. The
    `thresholds` say when a kiosk is late or offline; alerts go to `notify_channels`."""

    def __init__(self, db: Database, thresholds: Thresholds | None = None,
                 notify_channels: tuple[NotifyChannel, ...] = ()) -> None:
        self.db = db
        self.thresholds = thresholds or Thresholds()
        self.notify_channels = notify_channels

    async def migrate(self) -> None:
        """Bring the database to SCHEMA_VERSION: the first schema, then each migration once."""
        if self.db.dialect != "postgresql":
            # SQLite: one machine; BEGIN IMMEDIATE below serialises processes.
            await self.db.executescript(schema_sql(self.db.dialect))  # type: ignore[attr-defined]
        async with self.db.transaction() as tx:
            if self.db.dialect == "postgresql":
                # Several server processes may start at once on one database. The lock comes
                # before the first CREATE TABLE (CREATE ... IF NOT EXISTS is not safe against a
                # concurrent twin: the loser dies on a duplicate key in pg_type), and the schema
                # is made in the same transaction, so the next process sees all of it or none.
                await tx.execute("SELECT pg_advisory_xact_lock(8470)")
                await tx.execute(schema_sql(self.db.dialect))
            row = await tx.fetchrow("SELECT version FROM schema_info")
            if row is None:
                await tx.execute("INSERT INTO schema_info (version) VALUES (1)")
            version = row["version"] if row else 1
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for sql in migration_sql(target, self.db.dialect):
                    await tx.execute(sql)
                await tx.execute("UPDATE schema_info SET version = $1", target)

    async def schema_version(self) -> int:
        row = await self.db.fetchrow("SELECT version FROM schema_info")
        return int(row["version"]) if row else 0

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

    async def set_password(
        self, username: str, password_hash: str, actor: str, action: str, keep_session: str = ""
    ) -> bool:
        """A new password; every session of the user ends (but `keep_session`, the token hash of
        the one that changed its own password). Audited as `action` by `actor`, in one step."""
        async with self.db.transaction() as tx:
            n = await tx.execute(
                "UPDATE users SET password_hash = $1 WHERE username = $2", password_hash, username
            )
            ended = 0
            if n:
                ended = await tx.execute(
                    "DELETE FROM sessions WHERE username = $1 AND token_hash != $2",
                    username,
                    keep_session,
                )
            outcome = "ok" if n else "no_such_user"
            await self.audit(actor, action, username, outcome, {"sessions_ended": ended}, tx)
        return n > 0

    async def set_disabled(self, username: str, disabled: bool, actor: str) -> bool:
        """Disable (every session ends, sign-in refused) or enable an operator. Audited."""
        async with self.db.transaction() as tx:
            n = await tx.execute(
                "UPDATE users SET disabled_at = $1 WHERE username = $2",
                time.time() if disabled else None,
                username,
            )
            if n and disabled:
                await tx.execute("DELETE FROM sessions WHERE username = $1", username)
            action = "disable_user" if disabled else "enable_user"
            await self.audit(actor, action, username, "ok" if n else "no_such_user", None, tx)
        return n > 0

    async def get_user(self, username: str) -> JsonObject | None:
        return await self.db.fetchrow("SELECT * FROM users WHERE username = $1", username)

    async def list_users(self) -> list[JsonObject]:
        return await self.db.fetch(
            "SELECT username, role, created_at, disabled_at FROM users ORDER BY username"
        )

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

    async def session_user(self, token_hash: str) -> JsonObject | None:
        return await self.db.fetchrow(
            "SELECT u.username, u.role FROM sessions s JOIN users u ON u.username = s.username"
            " WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
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
        detail: JsonObject | None = None,
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

    async def list_audit(self, limit: int = 200) -> list[JsonObject]:
        rows = await self.db.fetch("SELECT * FROM audit ORDER BY id DESC LIMIT $1", limit)
        for r in rows:
            r["detail"] = json.loads(r.pop("detail_json"))
        return rows

    # -- enrollment --------------------------------------------------------------------------------

    async def create_enrollment_token(
        self,
        token_hash: str,
        created_by: str,
        ttl_s: float,
        rekey_kiosk_id: str | None = None,
        for_kiosk_id: str | None = None,
        for_site: str | None = None,
    ) -> float:
        """A one-time token; with `rekey_kiosk_id` it can only give that enrolled kiosk a new key;
        with `for_kiosk_id` / `for_site` it enrolls only that kiosk id / at that site.
        Returns when it expires; NoSuchKiosk when the kiosk to re-key is not enrolled."""
        now = time.time()
        async with self.db.transaction() as tx:
            if rekey_kiosk_id is not None and not await tx.fetchrow(
                "SELECT 1 AS x FROM kiosks WHERE kiosk_id = $1", rekey_kiosk_id
            ):
                raise NoSuchKiosk(rekey_kiosk_id)
            await tx.execute(
                "INSERT INTO enrollment_tokens (token_hash, created_by, created_at, expires_at,"
                " for_kiosk_id, for_site) VALUES ($1, $2, $3, $4, $5, $6)",
                token_hash,
                created_by,
                now,
                now + ttl_s,
                for_kiosk_id,
                for_site,
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
            rekey = await self._usable_token(tx, token_hash, kiosk_id, site, now)
            current = await tx.fetchrow("SELECT key_id FROM kiosks WHERE kiosk_id = $1", kiosk_id)
            if current is not None and not rekey:
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

    async def _usable_token(
        self, tx: Connection, token_hash: str, kiosk_id: str, site: str, now: float
    ) -> bool:
        """Whether the token is a re-key token, once it is known usable by this kiosk at this
        site; else EnrollmentRefused says why not."""
        token = await tx.fetchrow("SELECT * FROM enrollment_tokens WHERE token_hash = $1", token_hash)
        if token is None:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_UNKNOWN)
        if token["used_at"] is not None:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_USED)
        if token["expires_at"] < now:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_EXPIRED)
        rekey = await tx.fetchrow("SELECT kiosk_id FROM rekey_tokens WHERE token_hash = $1", token_hash)
        if rekey is not None and rekey["kiosk_id"] != kiosk_id:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_FOR_OTHER_KIOSK)
        if token["for_kiosk_id"] is not None and token["for_kiosk_id"] != kiosk_id:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_FOR_OTHER_KIOSK)
        if token["for_site"] is not None and token["for_site"] != site:
            raise EnrollmentRefused(EnrollRefusal.TOKEN_FOR_OTHER_SITE)
        return rekey is not None

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
            "UPDATE kiosks SET key_id = $1, public_key_pem = $2, site = $3, region = $4,"
            " key_revoked_at = NULL WHERE kiosk_id = $5",
            key_id,
            public_key_pem,
            site,
            region,
            kiosk_id,
        )
        detail = {"old_key_id": old_key_id, "key_id": key_id, "site": site, "region": region}
        await self.audit(f"kiosk:{kiosk_id}", "rekey", kiosk_id, "ok", detail, tx)
        return Enrolled(kiosk_id, key_id, replaced_key_id=old_key_id)

    # -- log uploads -------------------------------------------------------------------------------

    async def store_log_upload(self, kiosk_id: str, command_id: str, content: str) -> int | None:
        """Keep a log bundle that answers this kiosk's upload_logs command `command_id`, once;
        None (nothing kept) when no such command is out or it was answered already."""
        async with self.db.transaction() as tx:
            command = await tx.fetchrow(
                "SELECT command_id FROM commands WHERE command_id = $1 AND kiosk_id = $2"
                " AND kind = 'upload_logs' AND status IN ('delivered', 'acknowledged', 'done')"
                + (" FOR UPDATE" if self.db.dialect == "postgresql" else ""),
                command_id,
                kiosk_id,
            )
            if command is None or await tx.fetchrow(
                "SELECT id FROM log_uploads WHERE command_id = $1", command_id
            ):
                return None
            row = await tx.fetchrow(
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

    async def list_log_uploads(self, kiosk_id: str) -> list[JsonObject]:
        return await self.db.fetch(
            "SELECT id, command_id, uploaded_at, size FROM log_uploads WHERE kiosk_id = $1"
            " ORDER BY id DESC",
            kiosk_id,
        )

    async def get_log_upload(self, kiosk_id: str, upload_id: int) -> JsonObject | None:
        return await self.db.fetchrow(
            "SELECT * FROM log_uploads WHERE kiosk_id = $1 AND id = $2", kiosk_id, upload_id
        )
