"""How the fleet server judges a kiosk: connectivity from its heartbeat age, state at a glance."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


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


def connectivity(kiosk: dict[str, Any], now: float, thresholds: Thresholds) -> Connectivity:
    last_seen = kiosk.get("last_seen")
    if last_seen is None or kiosk.get("goodbye_at") is not None:
        return Connectivity.OFFLINE
    age = now - last_seen
    interval = kiosk["interval_s"]
    if age > thresholds.offline_multiple * interval:
        return Connectivity.OFFLINE
    if age > thresholds.late_multiple * interval:
        return Connectivity.LATE
    return Connectivity.ONLINE


def problems(kiosk: dict[str, Any]) -> list[str]:
    """Short operator-facing reasons why a reachable kiosk is not fully up."""
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


def fleet_state(kiosk: dict[str, Any], conn: Connectivity) -> FleetState:
    if conn is Connectivity.OFFLINE:
        return FleetState.OFFLINE
    if not kiosk.get("in_service", True):
        return FleetState.DOWN
    if conn is Connectivity.LATE or problems(kiosk):
        return FleetState.DEGRADED
    return FleetState.UP


def describe(kiosk: dict[str, Any], now: float, thresholds: Thresholds) -> dict[str, Any]:
    """The kiosk row with its judged connectivity, state and problems added."""
    conn = connectivity(kiosk, now, thresholds)
    out = dict(kiosk)
    out["connectivity"] = conn.value
    out["state"] = fleet_state(kiosk, conn).value
    out["problems"] = problems(kiosk)
    if conn is Connectivity.LATE:
        out["problems"].append("heartbeat late")
    if kiosk.get("goodbye_at") is not None:
        out["problems"].append(f"said goodbye: {kiosk.get('goodbye_reason') or 'shutdown'}")
    return out
