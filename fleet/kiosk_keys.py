"""Kiosk keys in the fleet store: which key a request names, whether it still counts (revoked,
retired, re-keyed away), and single use of each signed request's nonce."""

from __future__ import annotations

import enum
import time

from fleet.db import Connection, Database
from wire.fields import JsonObject


class KeyStanding(enum.Enum):
    """What the database says of a signed request's key and nonce."""

    ADMITTED = "admitted"
    REPLAYED = "replayed"
    UNKNOWN = "unknown"  # no kiosk holds it (re-keyed away, or never enrolled)
    REVOKED = "revoked"
    RETIRED = "retired"


class KioskKeys:
    """The key half of the fleet store."""

    db: Database

    async def kiosk_key(self, key_id: str) -> JsonObject | None:
        return await self.db.fetchrow(
            "SELECT kiosk_id, public_key_pem FROM kiosks WHERE key_id = $1", key_id
        )

    async def remember_nonce(self, key_id: str, nonce: str, now: float) -> bool:
        """True the first time this key uses this nonce; False for a replay. For enrollment,
        whose key is not the fleet's yet; signed kiosk requests go through `admit`."""
        n = await self.db.run_unit(
            lambda tx: tx.execute(
                "INSERT INTO nonces (key_id, nonce, seen_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (key_id, nonce) DO NOTHING",
                key_id,
                nonce,
                now,
            ),
            key_id,
        )
        return bool(n == 1)

    async def admit(self, tx: Connection, key_id: str, nonce: str, now: float) -> KeyStanding:
        """Spend the nonce if the key is a live kiosk's, in the caller's transaction. Read from
        the database on every request, so a key revoked through any process is refused by all."""
        n = await tx.execute(
            "INSERT INTO nonces (key_id, nonce, seen_at)"
            " SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS DOUBLE PRECISION) WHERE EXISTS"
            " (SELECT 1 FROM kiosks WHERE key_id = $1 AND key_revoked_at IS NULL"
            " AND retired_at IS NULL) ON CONFLICT (key_id, nonce) DO NOTHING",
            key_id,
            nonce,
            now,
        )
        if n == 1:
            return KeyStanding.ADMITTED
        row = await tx.fetchrow(
            "SELECT key_revoked_at, retired_at FROM kiosks WHERE key_id = $1", key_id
        )
        if row is None:
            return KeyStanding.UNKNOWN
        if row["retired_at"] is not None:
            return KeyStanding.RETIRED
        if row["key_revoked_at"] is not None:
            return KeyStanding.REVOKED
        return KeyStanding.REPLAYED

    async def revoke_key(self, kiosk_id: str, actor: str, retire: bool = False) -> bool:
        """Stop the kiosk's key verifying (a re-key token gives it a new one); `retire` takes
        the kiosk out of the fleet for good: no alerts, no sign-in. Audited."""
        now = time.time()
        async with self.db.transaction() as tx:
            row = await tx.fetchrow("SELECT key_id FROM kiosks WHERE kiosk_id = $1", kiosk_id)
            if row is None:
                return False
            await tx.execute(
                "UPDATE kiosks SET key_revoked_at = COALESCE(key_revoked_at, $1),"
                " retired_at = CASE WHEN CAST($2 AS INTEGER) = 1 THEN COALESCE(retired_at, $1) ELSE retired_at END"
                " WHERE kiosk_id = $3",
                now,
                1 if retire else 0,
                kiosk_id,
            )
            if retire:
                await tx.execute(
                    "UPDATE alerts SET cleared_at = $1 WHERE kiosk_id = $2 AND cleared_at IS NULL",
                    now,
                    kiosk_id,
                )
            action = "retire_kiosk" if retire else "revoke_key"
            await self.audit(  # type: ignore[attr-defined]
                actor, action, kiosk_id, "ok", {"key_id": row["key_id"]}, tx
            )
        return True

    async def forget_nonces(self, before: float) -> int:
        return await self.db.execute("DELETE FROM nonces WHERE seen_at < $1", before)
