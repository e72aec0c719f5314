"""How the fleet server judges a kiosk: connectivity from its heartbeat age, state at a glance.

The judgement is one SQL expression (`judgement_sql`), so the dashboard's list, its filters and
paging, the counts at a glance, `/metrics` and the offline sweeper all read the same verdict
from the database; `problems()` only words it for operators.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from wire.fields import JsonObject


class Connectivity(enum.Enum):
    ONLINE = "online"
    LATE = "late"
    OFFLINE = "offline"


class FleetState(enum.Enum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Thresholds:
    """Multiples of a kiosk's own heartbeat interval after which it is late, then offline.

    A kiosk that misses one heartbeat (age up to two intervals plus jitter) must still be online,
    so `late_multiple` is at least 2.5.
    """

    late_multiple: float = 2.5
    offline_multiple: float = 5.0

    def __post_init__(self) -> None:
        if self.late_multiple < 2.5:
            raise ValueError("late_multiple must be at least 2.5: one missed heartbeat is normal")
        if self.offline_multiple <= self.late_multiple:
            raise ValueError("offline_multiple must be greater than late_multiple")


class SqlArgs:
    """Positional arguments of one statement: `add(value)` returns its `$n` placeholder."""

    # Any: SQL parameters (fleet.db.SqlValue).
    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)  # Any: ditto

    def add(self, value: Any) -> str:  # Any: a SQL parameter
        self.values.append(value)
        return f"${len(self.values)}"


def judgement_sql(args: SqlArgs, now: float, thresholds: Thresholds, table: str = "k") -> str:
    """`connectivity` and `state` columns for the kiosks table aliased `table`, judged at `now`.

    Offline: never heard from, said goodbye, or silent for more than `offline_multiple`
    intervals. Late: silent for more than `late_multiple`. Down: reachable but not in service.
    Degraded: late, or its last heartbeat showed a problem (problem_count).
    """
    t = table
    n = args.add(float(now))
    late = args.add(float(thresholds.late_multiple))
    off = args.add(float(thresholds.offline_multiple))
    offline = (
        f"({t}.last_seen IS NULL OR {t}.goodbye_at IS NOT NULL"
        f" OR {t}.last_seen < {n} - {off} * {t}.interval_s)"
    )
    is_late = f"({t}.last_seen < {n} - {late} * {t}.interval_s)"
    return (
        f"CASE WHEN {offline} THEN 'offline' WHEN {is_late} THEN 'late' ELSE 'online' END"
        " AS connectivity,"
        f" CASE WHEN {offline} THEN 'offline' WHEN {t}.in_service = 0 THEN 'down'"
        f" WHEN {is_late} OR {t}.problem_count > 0 THEN 'degraded' ELSE 'up' END AS state"
    )


def problems(kiosk: JsonObject) -> list[str]:
    """Short operator-facing reasons why a reachable kiosk is not fully up (from its heartbeat)."""
    found = []
    for device in kiosk.get("devices", []):
        if device["health"] != "ok":
            found.append(f"{device['device']}: {device['health']}")
        for supply in device.get("supplies", []):
            if supply["level"] in ("low", "empty"):
                found.append(f"{device['device']}/{supply['name']}: {supply['level']}")
    if kiosk.get("attention"):
        found.append(f"{len(kiosk['attention'])} need attention")
    return found


def describe(kiosk: JsonObject) -> JsonObject:
    """A kiosk row read with `judgement_sql`, with its problems worded and when the next
    heartbeat is due (commands ride on heartbeats, so that is when a queued one goes out)."""
    out = dict(kiosk)
    out["problems"] = problems(kiosk)
    if kiosk["connectivity"] == Connectivity.LATE.value:
        out["problems"].append("heartbeat late")
    if kiosk.get("goodbye_at") is not None:
        out["problems"].append(f"said goodbye: {kiosk.get('goodbye_reason') or 'shutdown'}")
    wanted = kiosk.get("wanted_service", "in_service")
    # A v1 kiosk cannot say which state it holds, only whether it serves (it may be down for
    # its devices): there only "out of service wanted, still serving" is a sure mismatch.
    sure = kiosk.get("wire_version", 1) >= 2 or wanted == "out_of_service"
    if sure and wanted != kiosk.get("service_state", "in_service"):
        out["problems"].append(f"{wanted.replace('_', ' ')} wanted, not yet applied")
    seen = kiosk.get("last_seen")
    out["next_heartbeat_due"] = (
        seen + kiosk["interval_s"] if seen is not None and kiosk.get("goodbye_at") is None else None
    )
    return out
