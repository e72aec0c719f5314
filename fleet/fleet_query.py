"""Finding kiosks: search, filters, paging, counts at a glance, and tags, all in SQL.

Filters by region, site, tag, software version and open alert use indexes (schema migration 2);
the search matches a substring of the kiosk id, site or region, case-insensitively (a scan of
short columns, fine for a province's few thousand kiosks). The state filter reads the one
judgement in fleet.status.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from fleet.db import Database
from fleet.status import FleetState, SqlArgs, Thresholds, describe, judgement_sql
from wire.fields import JsonObject

MAX_PAGE = 500
TAG_PATTERN = re.compile(r"^[\w.:-]{1,40}$")


@dataclass(frozen=True)
class KioskFilter:
    """What an operator narrowed the fleet to. Empty fields do not filter."""

    search: str = ""
    region: str = ""
    site: str = ""
    tag: str = ""
    state: str = ""
    software_version: str = ""
    alert: str = ""  # "any" or an alert kind: kiosks with such an alert open

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> KioskFilter:
        return cls(**{name: str(query.get(name, ""))[:100] for name in cls.__dataclass_fields__})

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.__dict__.items() if v]
        return " ".join(parts) or "all kiosks"


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _decode_kiosk(row: JsonObject) -> JsonObject:
    row = dict(row)
    row["devices"] = json.loads(row.pop("devices_json"))
    row["attention"] = json.loads(row.pop("attention_json"))
    row["counters"] = json.loads(row.pop("counters_json"))
    row["in_service"] = bool(row["in_service"])
    # Software updates as the last heartbeat told them (None from a kiosk that does not say).
    update = row.pop("update_json", "")
    row["update"] = json.loads(update) if update else None
    row.pop("alert_keys", None)
    row.pop("public_key_pem", None)
    return row


class FleetQuery:
    """The reading half of the fleet store for operators."""

    db: Database
    thresholds: Thresholds = Thresholds()

    def _judged(
        self,
        args: SqlArgs,
        now: float,
        f: KioskFilter,
        with_state: bool = True,
        live_only: bool = True,
    ) -> str:
        """A subquery of kiosks with their judgement, narrowed by every filter. A retired kiosk
        is in no list, count or bulk command (`live_only`), but its own page still shows it."""
        where = ["k.retired_at IS NULL" if live_only else "1 = 1"]
        if f.search:
            p = args.add(_like(f.search))
            where.append(
                f"(LOWER(k.kiosk_id) LIKE {p} ESCAPE '\\' OR LOWER(k.site) LIKE {p} ESCAPE '\\'"
                f" OR LOWER(k.region) LIKE {p} ESCAPE '\\')"
            )
        if f.region:
            where.append(f"k.region = {args.add(f.region)}")
        if f.site:
            where.append(f"k.site = {args.add(f.site)}")
        if f.software_version:
            where.append(f"k.software_version = {args.add(f.software_version)}")
        if f.tag:
            where.append(
                "EXISTS (SELECT 1 FROM kiosk_tags t WHERE t.kiosk_id = k.kiosk_id"
                f" AND t.tag = {args.add(f.tag)})"
            )
        if f.alert:
            kind = "" if f.alert == "any" else f" AND a.kind = {args.add(f.alert)}"
            where.append(
                "EXISTS (SELECT 1 FROM alerts a WHERE a.kiosk_id = k.kiosk_id"
                f" AND a.cleared_at IS NULL{kind})"
            )
        judged = judgement_sql(args, now, self.thresholds)
        sql = f"(SELECT k.*, {judged} FROM kiosks k WHERE {' AND '.join(where)}) j"
        if with_state and f.state:
            sql += f" WHERE j.state = {args.add(f.state)}"
        return sql

    async def find_kiosks(
        self, f: KioskFilter, now: float, limit: int = 100, offset: int = 0
    ) -> tuple[list[JsonObject], int]:
        """One page of the kiosks matching `f` (region, site, id order) and how many match."""
        args = SqlArgs()
        source = self._judged(args, now, f)
        total_row = await self.db.fetchrow(f"SELECT COUNT(*) AS n FROM {source}", *args.values)
        limit = max(1, min(limit, MAX_PAGE))
        page_args = SqlArgs()
        source = self._judged(page_args, now, f)
        rows = await self.db.fetch(
            f"SELECT * FROM {source} ORDER BY region, site, kiosk_id"
            f" LIMIT {page_args.add(limit)} OFFSET {page_args.add(max(0, offset))}",
            *page_args.values,
        )
        kiosks = [describe(_decode_kiosk(r)) for r in rows]
        await self._attach_tags(kiosks)
        return kiosks, int(total_row["n"]) if total_row else 0

    async def matching_ids(self, f: KioskFilter, now: float, cap: int) -> list[str]:
        """Every kiosk id matching `f` (for a bulk command), at most `cap` + 1 of them."""
        args = SqlArgs()
        source = self._judged(args, now, f)
        rows = await self.db.fetch(
            f"SELECT kiosk_id FROM {source} ORDER BY region, site, kiosk_id"
            f" LIMIT {args.add(cap + 1)}",
            *args.values,
        )
        return [r["kiosk_id"] for r in rows]

    async def state_counts(self, f: KioskFilter, now: float) -> dict[str, int]:
        """Kiosks per state at a glance, under every filter but the state itself."""
        args = SqlArgs()
        source = self._judged(args, now, f, with_state=False)
        rows = await self.db.fetch(
            f"SELECT state, COUNT(*) AS n FROM {source} GROUP BY state", *args.values
        )
        counts = {s.value: 0 for s in FleetState}
        counts.update({r["state"]: int(r["n"]) for r in rows})
        return counts

    async def facets(self) -> JsonObject:
        """The values the dashboard's filters offer."""
        places = await self.db.fetch(
            "SELECT DISTINCT region, site FROM kiosks ORDER BY region, site"
        )
        versions = await self.db.fetch(
            "SELECT DISTINCT software_version FROM kiosks WHERE software_version != ''"
            " ORDER BY software_version"
        )
        tags = await self.db.fetch("SELECT DISTINCT tag FROM kiosk_tags ORDER BY tag")
        return {
            "regions": sorted({p["region"] for p in places}),
            "sites": [[p["region"], p["site"]] for p in places],
            "software_versions": [v["software_version"] for v in versions],
            "tags": [t["tag"] for t in tags],
        }

    async def list_kiosks(self, now: float) -> list[JsonObject]:
        """Every kiosk, judged at `now` (for /metrics)."""
        args = SqlArgs()
        rows = await self.db.fetch(
            f"SELECT * FROM {self._judged(args, now, KioskFilter())}"
            " ORDER BY region, site, kiosk_id",
            *args.values,
        )
        return [describe(_decode_kiosk(r)) for r in rows]

    async def get_kiosk(self, kiosk_id: str, now: float | None = None) -> JsonObject | None:
        args = SqlArgs()
        source = self._judged(
            args, time.time() if now is None else now, KioskFilter(), live_only=False
        )
        row = await self.db.fetchrow(
            f"SELECT * FROM {source} WHERE j.kiosk_id = {args.add(kiosk_id)}", *args.values
        )
        if row is None:
            return None
        kiosk = describe(_decode_kiosk(row))
        await self._attach_tags([kiosk])
        return kiosk

    async def daily_counters(self, kiosk_id: str, since_day: str) -> list[JsonObject]:
        return await self.db.fetch(
            "SELECT day, name, value FROM daily_counters WHERE kiosk_id = $1 AND day >= $2"
            " ORDER BY day, name",
            kiosk_id,
            since_day,
        )

    # -- tags --------------------------------------------------------------------------------------

    async def _attach_tags(self, kiosks: list[JsonObject]) -> None:
        if not kiosks:
            return
        args = SqlArgs()
        ids = ", ".join(args.add(k["kiosk_id"]) for k in kiosks)
        rows = await self.db.fetch(
            f"SELECT kiosk_id, tag FROM kiosk_tags WHERE kiosk_id IN ({ids}) ORDER BY tag",
            *args.values,
        )
        by_kiosk: dict[str, list[str]] = {}
        for r in rows:
            by_kiosk.setdefault(r["kiosk_id"], []).append(r["tag"])
        for k in kiosks:
            k["tags"] = by_kiosk.get(k["kiosk_id"], [])

    async def set_tags(self, kiosk_id: str, tags: list[str], username: str) -> list[str]:
        """Replace a kiosk's tags (audited); returns them sorted."""
        clean = sorted(set(tags))
        async with self.db.transaction() as tx:
            before = [
                r["tag"]
                for r in await tx.fetch(
                    "SELECT tag FROM kiosk_tags WHERE kiosk_id = $1 ORDER BY tag", kiosk_id
                )
            ]
            await tx.execute("DELETE FROM kiosk_tags WHERE kiosk_id = $1", kiosk_id)
            if clean:
                await tx.executemany(
                    "INSERT INTO kiosk_tags (kiosk_id, tag) VALUES ($1, $2)",
                    [(kiosk_id, t) for t in clean],
                )
            await self.audit(  # type: ignore[attr-defined]
                username, "set_tags", kiosk_id, "ok", {"before": before, "after": clean}, tx
            )
        return clean
