"""Availability per kiosk and per service item: minutes in service over minutes open.

In service means the kiosk's heartbeat said so (it serves citizens and the operators have not
taken it out of service) and, for an item, that its menu offered the item (heartbeat `items`).
Time between two heartbeats counts in the state the first one reported; time after a kiosk's
last heartbeat before it went silent, restarted or said goodbye does not count as in service.

The state is kept as spells: the open spell sits on the kiosk's row (`avail_since` ..
`avail_until`, the last heartbeat, in `avail_state`); a spell closes when the state changes or
a gap shows, and its seconds are added per local day to `service_time`. So a heartbeat writes
one row, and more only when something changed.

Open time: kiosks are open 24 hours (opening hours per site are a later setting), counted from
the first heartbeat this server version saw (`avail_from`), so history from before it is not
counted as time out of service.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass

from fleet.db import Connection, Database
from fleet.status import SqlArgs
from wire.fields import JsonObject
from wire.fleet import Heartbeat

KIOSK = ""  # service_time's item_code for the kiosk as a whole


def opening_seconds(start: float, end: float) -> float:
    """Seconds a kiosk is open between two moments: all of them (24-hour kiosks)."""
    return max(0.0, end - start)


def spell_state(hb: Heartbeat) -> str:
    """What a heartbeat says about serving, as one canonical string."""
    return json.dumps(
        {"in": hb.in_service, "items": {i.code: i.available for i in hb.items}}, sort_keys=True
    )


def _day_parts(start: float, end: float) -> Iterator[tuple[str, float]]:
    """(local day, seconds of [start, end) in it)."""
    t = start
    while t < end:
        day = datetime.datetime.fromtimestamp(t).date()
        midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
        stop = min(end, midnight.timestamp())
        yield day.isoformat(), stop - t
        t = stop


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _serving(state: str) -> tuple[bool, dict[str, bool]]:
    if not state:
        return False, {}
    parsed = json.loads(state)  # Any: the JSON spell_state wrote
    return bool(parsed["in"]), {str(k): bool(v) for k, v in parsed["items"].items()}


async def close_spell(
    tx: Connection, kiosk_id: str, since: float, until: float, state: str
) -> None:
    """Add a finished spell's seconds in service to its days (kiosk and each item it offered)."""
    serving, items = _serving(state)
    rows = []
    for day, seconds in _day_parts(since, until):
        rows.append((kiosk_id, day, KIOSK, seconds if serving else 0.0))
        for code, offered in items.items():
            rows.append((kiosk_id, day, code, seconds if serving and offered else 0.0))
    if rows:
        await tx.executemany(
            "INSERT INTO service_time (kiosk_id, day, item_code, in_service_s)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (kiosk_id, day, item_code)"
            " DO UPDATE SET in_service_s = service_time.in_service_s + excluded.in_service_s",
            rows,
        )


@dataclass(frozen=True)
class Window:
    """Whole local days from `first_day` to `last_day`, cut at `now`."""

    first_day: str
    last_day: str
    now: float

    @property
    def start(self) -> float:
        day = datetime.date.fromisoformat(self.first_day)
        return datetime.datetime.combine(day, datetime.time()).timestamp()

    @property
    def end(self) -> float:
        day = datetime.date.fromisoformat(self.last_day) + datetime.timedelta(days=1)
        return min(self.now, datetime.datetime.combine(day, datetime.time()).timestamp())


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


@dataclass
class _ItemTotals:
    """One service item's seconds summed over the kiosks that offered it."""

    item_code: str
    kiosks: int = 0
    open_s: float = 0.0
    in_service_s: float = 0.0

    def report(self, name: str) -> JsonObject:
        return {
            "item_code": self.item_code,
            "kiosks": self.kiosks,
            "item_name": name,
            "open_s": round(self.open_s),
            "in_service_s": round(self.in_service_s),
            "availability": _share(self.in_service_s, self.open_s),
        }


def _kiosk_share(
    k: JsonObject, window: Window, closed: dict[tuple[str, str], float],
    per_item: dict[str, _ItemTotals],
) -> JsonObject:
    """One kiosk's line of the report; adds its items' seconds to `per_item`."""
    start, end = window.start, window.end
    open_s = opening_seconds(max(start, k["avail_from"]), end)
    serving, items = _serving(k["avail_state"])
    spell = 0.0
    if k["avail_since"] is not None and k["avail_until"] is not None:
        spell = _overlap(k["avail_since"], k["avail_until"], start, end)
    in_s = closed.get((k["kiosk_id"], KIOSK), 0.0) + (spell if serving else 0.0)
    codes = {c for (kid, c) in closed if kid == k["kiosk_id"] and c != KIOSK} | set(items)
    for code in codes:
        item_in = closed.get((k["kiosk_id"], code), 0.0)
        if serving and items.get(code):
            item_in += spell
        totals = per_item.setdefault(code, _ItemTotals(code))
        totals.kiosks += 1
        totals.open_s += open_s
        totals.in_service_s += item_in
    return {
        "kiosk_id": k["kiosk_id"],
        "region": k["region"],
        "site": k["site"],
        "open_s": round(open_s),
        "in_service_s": round(in_s),
        "availability": _share(in_s, open_s),
    }


class Availability:
    """The store's availability query (mixed into FleetStore)."""

    db: Database

    async def availability(
        self, window: Window, region: str = "", site: str = "", limit: int = 1000
    ) -> JsonObject:
        """Per kiosk and per item: seconds open, seconds in service, and their share, over the
        first `limit` kiosks matching (`kiosks_matching` says how many match in all)."""
        args = SqlArgs()
        where = ["k.avail_from IS NOT NULL", f"k.avail_from < {args.add(window.end)}"]
        if region:
            where.append(f"k.region = {args.add(region)}")
        if site:
            where.append(f"k.site = {args.add(site)}")
        matching = await self.db.fetchrow(
            f"SELECT COUNT(*) AS n FROM kiosks k WHERE {' AND '.join(where)}", *args.values
        )
        kiosks = await self.db.fetch(
            "SELECT k.kiosk_id, k.region, k.site, k.avail_from, k.avail_since, k.avail_until,"
            f" k.avail_state FROM kiosks k WHERE {' AND '.join(where)}"
            f" ORDER BY k.region, k.site, k.kiosk_id LIMIT {args.add(limit)}",
            *args.values,
        )
        closed = await self._closed_seconds(window, [k["kiosk_id"] for k in kiosks])
        per_item: dict[str, _ItemTotals] = {}
        per_kiosk = [_kiosk_share(k, window, closed, per_item) for k in kiosks]
        names = {
            r["item_code"]: r["name"]
            for r in await self.db.fetch("SELECT item_code, name FROM service_items")
        }
        return {
            "from": window.first_day,
            "to": window.last_day,
            "kiosks": per_kiosk,
            "items": [per_item[code].report(names.get(code, "")) for code in sorted(per_item)],
            "kiosks_matching": int(matching["n"]) if matching else 0,
        }

    async def _closed_seconds(
        self, window: Window, kiosk_ids: list[str]
    ) -> dict[tuple[str, str], float]:
        """Seconds in service of the window's closed spells, per (kiosk, item)."""
        closed: dict[tuple[str, str], float] = {}
        if not kiosk_ids:
            return closed
        args = SqlArgs(window.first_day, window.last_day)
        ids = ", ".join(args.add(kiosk_id) for kiosk_id in kiosk_ids)
        for r in await self.db.fetch(
            "SELECT kiosk_id, item_code, SUM(in_service_s) AS s FROM service_time"
            f" WHERE day >= $1 AND day <= $2 AND kiosk_id IN ({ids})"
            " GROUP BY kiosk_id, item_code",
            *args.values,
        ):
            closed[(r["kiosk_id"], r["item_code"])] = float(r["s"])
        return closed


async def observe_service(
    tx: Connection, hb: Heartbeat, prev: JsonObject, now: float, offline_after_s: float
) -> JsonObject:
    """The availability columns of the kiosk's row after this heartbeat, closing the open spell
    when the state changed or a gap (silence, a restart, a goodbye) came before it."""
    state = spell_state(hb)
    since, until = prev["avail_since"], prev["avail_until"]
    restarted = (
        bool(prev["started_at"])
        and bool(hb.started_at)
        and (abs(prev["started_at"] - hb.started_at) > 1e-3)
    )
    gap = (
        until is None
        or now - until > offline_after_s
        or prev["goodbye_at"] is not None
        or restarted
    )
    if since is not None and until is not None and (gap or state != prev["avail_state"]):
        await close_spell(tx, hb.kiosk_id, since, until if gap else now, prev["avail_state"])
        since = None
    return {
        "avail_from": prev["avail_from"] if prev["avail_from"] is not None else now,
        "avail_since": now if since is None else since,
        "avail_until": now,
        "avail_state": state,
    }
