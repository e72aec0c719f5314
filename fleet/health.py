"""Fleet health from what kiosks report: availability (fleet.availability), time to repair per
device kind, and when supplies will run out at today's rate.

Repairs: a device is out of use from its fault (a device_fault event, or a heartbeat showing it
unusable) to its recovery (device_recovered, or a heartbeat showing it usable again), whichever
signal comes first; times are the kiosk's. The mean of those spans per device kind is the MTTR.

Supplies: every change of a supply's level is kept with the device's usage total then (the
server's sum of the kiosk's usage counter, e.g. `receipt_printer.receipts_printed`, which
survives the kiosk's restarts). What is left is the device's own count when it reports one;
otherwise an estimate from SUPPLY_MODELS: what a low sensor leaves minus what was used since it
tripped, or a full roll minus what was used since a refill was seen. Divided by today's rate
(usage since local midnight per hour), that is "about N hours left".
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from fleet.availability import observe_service
from fleet.db import Connection, Database
from fleet.kiosk_reports import day_of
from fleet.status import SqlArgs, Thresholds
from wire.fields import JsonObject
from wire.fleet import DeviceHealth, Event, EventKind, Heartbeat

UNUSABLE = {DeviceHealth.FAULT.value}
MAX_KIOSKS = 1000


@dataclass(frozen=True)
class SupplyModel:
    """How a supply is used up: by which usage counter of its device, and rough sizes (data, to
    be set per device model as fleets learn them)."""

    counter: str
    unit: str
    full: int  # units in a new roll / a full hopper
    after_low: int  # units left when the low sensor trips


SUPPLY_MODELS = {
    # A 50 m roll of 80 mm thermal paper: about 600 receipts; the near-end sensor trips with
    # about 1.5 m, some 20 receipts, left.
    "paper": SupplyModel("receipts_printed", "receipts", 600, 20),
    # A dispenser hopper of blank certificates; its low sensor trips with about 30 left.
    "card_stock": SupplyModel("dispensed", "cards", 300, 30),
}


def _place(args: SqlArgs, region: str, site: str) -> str:
    """Conditions on the kiosks table (aliased k) for an operator's region and site filters."""
    sql = ""
    if region:
        sql += f" AND k.region = {args.add(region)}"
    if site:
        sql += f" AND k.site = {args.add(site)}"
    return sql


def _devices(raw: str | None) -> dict[str, JsonObject]:
    return {d["device"]: d for d in json.loads(raw or "[]")}


def _supplies(device: JsonObject) -> dict[str, JsonObject]:
    return {s["name"]: s for s in device.get("supplies", [])}


class FleetHealth:
    """Health bookkeeping on the kiosk-facing path, and the operators' health queries."""

    db: Database
    thresholds: Thresholds = Thresholds()

    # -- taken in with each fresh heartbeat and each new event -------------------------------------

    async def health_before(self, tx: Connection, kiosk_id: str) -> JsonObject | None:
        """What observe_health compares a heartbeat with: read before the row takes it, and
        (PostgreSQL) locked, so two server processes taking the same kiosk's heartbeats at once
        take them one after the other and never close one spell twice."""
        lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
        return await tx.fetchrow(
            "SELECT interval_s, started_at, goodbye_at, devices_json, avail_from, avail_since,"
            f" avail_until, avail_state FROM kiosks WHERE kiosk_id = $1{lock}",
            kiosk_id,
        )

    async def observe_health(
        self, tx: Connection, hb: Heartbeat, prev: JsonObject | None, now: float
    ) -> None:
        """Availability spells, repairs and supply history from one fresh heartbeat, once the
        kiosk's row and daily counters have taken it; `prev` is health_before's reading."""
        if prev is None:
            return
        offline_after = self.thresholds.offline_multiple * prev["interval_s"]
        columns = await observe_service(tx, hb, prev, now, offline_after)
        await tx.execute(
            "UPDATE kiosks SET avail_from = $1, avail_since = $2, avail_until = $3,"
            " avail_state = $4 WHERE kiosk_id = $5",
            columns["avail_from"],
            columns["avail_since"],
            columns["avail_until"],
            columns["avail_state"],
            hb.kiosk_id,
        )
        before = _devices(prev["devices_json"])
        at = hb.sent_at if abs(hb.sent_at - now) < 86400 else now
        for device in hb.devices:
            old = before.get(device.device)
            was_down = old is not None and old["health"] in UNUSABLE
            is_down = device.health.value in UNUSABLE
            if is_down and not was_down:
                await self._repair_starts(tx, hb.kiosk_id, device.device, device.reason, at)
            elif was_down and not is_down:
                await self._repair_ends(tx, hb.kiosk_id, device.device, at)
            old_supplies = _supplies(old) if old else {}
            for supply in device.supplies:
                seen = old_supplies.get(supply.name)
                if seen and (seen["level"], seen.get("remaining")) == (
                    supply.level.value,
                    supply.remaining,
                ):
                    continue
                await self._supply_changed(
                    tx, hb.kiosk_id, device.device, supply.name, supply.level.value,
                    supply.remaining, now,
                )  # fmt: skip

    async def track_repair(self, tx: Connection, kiosk_id: str, event: Event) -> None:
        """A new device_fault or device_recovered event opens or closes a repair."""
        if not event.device:
            return
        if event.kind is EventKind.DEVICE_FAULT:
            await self._repair_starts(tx, kiosk_id, event.device, event.reason, event.at)
        elif event.kind is EventKind.DEVICE_RECOVERED:
            await self._repair_ends(tx, kiosk_id, event.device, event.at)

    async def _repair_starts(
        self, tx: Connection, kiosk_id: str, device: str, reason: str, at: float
    ) -> None:
        lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
        if await tx.fetchrow(
            "SELECT id FROM repairs WHERE kiosk_id = $1 AND device = $2 AND recovered_at IS NULL"
            + lock,
            kiosk_id,
            device,
        ):
            return
        await tx.execute(
            "INSERT INTO repairs (kiosk_id, device, reason, fault_at) VALUES ($1, $2, $3, $4)",
            kiosk_id,
            device,
            reason[:100],
            at,
        )

    async def _repair_ends(self, tx: Connection, kiosk_id: str, device: str, at: float) -> None:
        await tx.execute(
            "UPDATE repairs SET recovered_at = CASE WHEN fault_at > $3 THEN fault_at ELSE $3 END"
            " WHERE kiosk_id = $1 AND device = $2 AND recovered_at IS NULL",
            kiosk_id,
            device,
            at,
        )

    async def _supply_changed(
        self,
        tx: Connection,
        kiosk_id: str,
        device: str,
        supply: str,
        level: str,
        remaining: int | None,
        now: float,
    ) -> None:
        model = SUPPLY_MODELS.get(supply)
        used = None
        if model is not None:
            row = await tx.fetchrow(
                "SELECT COALESCE(SUM(value), 0) AS used FROM daily_counters"
                " WHERE kiosk_id = $1 AND name = $2",
                kiosk_id,
                f"{device}.{model.counter}",
            )
            used = int(row["used"]) if row else 0
        await tx.execute(
            "INSERT INTO supply_history (kiosk_id, device, supply, level, remaining, used_total,"
            " at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            kiosk_id,
            device,
            supply,
            level,
            remaining,
            used,
            now,
        )

    # -- the operators' queries --------------------------------------------------------------------

    async def repairs(
        self, start: float, end: float, now: float, region: str = "", site: str = ""
    ) -> JsonObject:
        """Per device kind: repairs finished in [start, end), their mean and longest time, and
        the faults open now (with the oldest's age)."""
        args = SqlArgs(start, end)
        done = await self.db.fetch(
            "SELECT r.device, COUNT(*) AS repairs, AVG(r.recovered_at - r.fault_at) AS mttr_s,"
            " MAX(r.recovered_at - r.fault_at) AS longest_s FROM repairs r"
            " JOIN kiosks k ON k.kiosk_id = r.kiosk_id"
            f" WHERE r.recovered_at >= $1 AND r.recovered_at < $2{_place(args, region, site)}"
            " GROUP BY r.device",
            *args.values,
        )
        args = SqlArgs()
        still = await self.db.fetch(
            "SELECT r.kiosk_id, r.device, r.reason, r.fault_at FROM repairs r"
            " JOIN kiosks k ON k.kiosk_id = r.kiosk_id"
            f" WHERE r.recovered_at IS NULL{_place(args, region, site)} ORDER BY r.fault_at",
            *args.values,
        )
        kinds: dict[str, JsonObject] = {}
        for r in done:
            kinds[r["device"]] = {
                "device": r["device"],
                "repairs": int(r["repairs"]),
                "mttr_s": round(float(r["mttr_s"]), 1),
                "longest_s": round(float(r["longest_s"]), 1),
                "open": 0,
                "oldest_open_s": None,
            }
        for r in still:
            entry = kinds.setdefault(
                r["device"],
                {"device": r["device"], "repairs": 0, "mttr_s": None, "longest_s": None,
                 "open": 0, "oldest_open_s": None},
            )  # fmt: skip
            entry["open"] += 1
            age = round(max(0.0, now - r["fault_at"]), 1)
            entry["oldest_open_s"] = max(entry["oldest_open_s"] or 0.0, age)
        return {
            "device_kinds": sorted(kinds.values(), key=lambda e: e["device"]),
            "open": still[:200],
        }

    async def supply_forecasts(
        self, now: float, region: str = "", site: str = "", limit: int = MAX_KIOSKS
    ) -> list[JsonObject]:
        """Each supply of each kiosk (of the first `limit` matching): level, what is left
        (reported or estimated, and how), today's rate, and the hours left at that rate."""
        args = SqlArgs()
        where = f"1 = 1{_place(args, region, site)}"
        kiosks = await self.db.fetch(
            f"SELECT k.kiosk_id, k.region, k.site, k.devices_json FROM kiosks k WHERE {where}"
            f" ORDER BY k.region, k.site, k.kiosk_id LIMIT {args.add(limit)}",
            *args.values,
        )
        if not kiosks:
            return []
        ids_args = SqlArgs(day_of(now))
        ids = ", ".join(ids_args.add(k["kiosk_id"]) for k in kiosks)
        usage: dict[tuple[str, str], tuple[int, int]] = {}
        for r in await self.db.fetch(
            "SELECT kiosk_id, name, SUM(value) AS total,"
            " SUM(CASE WHEN day = $1 THEN value ELSE 0 END) AS today FROM daily_counters"
            f" WHERE kiosk_id IN ({ids}) GROUP BY kiosk_id, name",
            *ids_args.values,
        ):
            usage[(r["kiosk_id"], r["name"])] = (int(r["total"]), int(r["today"]))
        hist_args = SqlArgs(now - 60 * 86400)
        ids = ", ".join(hist_args.add(k["kiosk_id"]) for k in kiosks)
        history: dict[tuple[str, str, str], list[JsonObject]] = {}
        for r in await self.db.fetch(
            "SELECT kiosk_id, device, supply, level, used_total, at FROM supply_history"
            f" WHERE at >= $1 AND kiosk_id IN ({ids}) ORDER BY id",
            *hist_args.values,
        ):
            history.setdefault((r["kiosk_id"], r["device"], r["supply"]), []).append(r)
        midnight = datetime.datetime.combine(
            datetime.datetime.fromtimestamp(now).date(), datetime.time()
        ).timestamp()
        hours_today = max(1.0, (now - midnight) / 3600)
        out = []
        for k in kiosks:
            for device in json.loads(k["devices_json"]):
                for supply in device.get("supplies", []):
                    entry = _forecast(
                        k, device["device"], supply, usage,
                        history.get((k["kiosk_id"], device["device"], supply["name"]), []),
                        hours_today, now,
                    )  # fmt: skip
                    out.append(entry)
        out.sort(key=lambda e: (e["hours_left"] is None, e["hours_left"] or 0, e["kiosk_id"]))
        return out


def _run_start(history: list[JsonObject], level: str) -> tuple[JsonObject | None, str | None]:
    """The history row where the current run of `level` began, and the level before it."""
    start, before = None, None
    for row in history:
        if row["level"] != level:
            start, before = None, row["level"]
        elif start is None:
            start = row
    return start, before if start is not None else None


def _forecast(
    kiosk: JsonObject,
    device: str,
    supply: JsonObject,
    usage: dict[tuple[str, str], tuple[int, int]],
    history: list[JsonObject],
    hours_today: float,
    now: float,
) -> JsonObject:
    level, reported = supply["level"], supply.get("remaining")
    model = SUPPLY_MODELS.get(supply["name"])
    total = today = 0
    if model is not None:
        total, today = usage.get((kiosk["kiosk_id"], f"{device}.{model.counter}"), (0, 0))
    left: int | None = None
    basis = "unknown"
    if reported is not None:
        left, basis = int(reported), "reported by the device"
    elif level == "empty":
        left, basis = 0, "empty"
    elif model is not None:
        start, before = _run_start(history, level)
        used_since = (
            total - start["used_total"] if start and start["used_total"] is not None else None
        )
        if level == "low" and used_since is not None:
            left, basis = max(0, model.after_low - used_since), "low sensor, then usage"
        elif level == "ok" and used_since is not None and before in ("low", "empty"):
            left, basis = max(model.after_low, model.full - used_since), "refill, then usage"
    rate = today / hours_today if model is not None else None
    hours_left = 0.0 if left == 0 else round(left / rate, 1) if left is not None and rate else None
    return {
        "kiosk_id": kiosk["kiosk_id"],
        "region": kiosk["region"],
        "site": kiosk["site"],
        "device": device,
        "supply": supply["name"],
        "level": level,
        "unit": model.unit if model else "",
        "left": left,
        "basis": basis,
        "used_today": today if model else None,
        "rate_per_hour": round(rate, 2) if rate is not None else None,
        "hours_left": hours_left,
        "runs_out_at": now + hours_left * 3600 if hours_left is not None else None,
    }
