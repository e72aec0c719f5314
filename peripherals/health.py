"""The one shape every peripheral shows the rest of the kiosk: identity, connection, health,
supplies, counters, a self-test and events (after Home Assistant's entity availability).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol, runtime_checkable

from peripherals.errors import DeviceReason


class DeviceHealth(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # works, but something needs a technician soon (paper near end)
    FAULT = "fault"  # answers, but cannot do its job (out of paper, jam)
    OFFLINE = "offline"  # does not answer or is not there

    @property
    def usable(self) -> bool:
        return self in (DeviceHealth.OK, DeviceHealth.DEGRADED)


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"


class Supply(StrEnum):
    """A consumable a technician refills (or, for the retain bin, empties)."""

    PAPER = "paper"
    CARD_STOCK = "card_stock"
    RETAIN_BIN = "retain_bin"  # its level is the room left: OUT when full
    TONER = "toner"


class SupplyLevel(StrEnum):
    OK = "ok"
    LOW = "low"  # near its end: the technician's next visit
    OUT = "out"  # none left (the bin: no room left)
    UNKNOWN = "unknown"  # the device did not say (offline)


@dataclass(frozen=True)
class SupplyReading:
    level: SupplyLevel
    percent: int | None = None  # where the device measures it (an IPP printer's toner)


Supplies = Mapping[Supply, SupplyReading]


@dataclass(frozen=True)
class DeviceStatus:
    """One peripheral's state at `changed_at` (monotonic seconds). No personal data."""

    device: str  # the name the kiosk uses: "receipt_printer", "dispenser", ...
    kind: str  # what it is: "escpos_printer", "card_dispenser", ...
    identity: str  # model / transport address, for the technician
    connection: ConnectionState
    health: DeviceHealth
    reason: DeviceReason | None = None
    supplies: dict[Supply, SupplyReading] = field(default_factory=dict)
    # What the device reports beyond its health and supplies, for the technician (the
    # dispenser's card position, the A4 printer's loaded media, a card on the chip reader).
    readings: dict[str, str | int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    changed_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        # Own copies, so a caller's later change to its dict cannot alter a published status.
        object.__setattr__(self, "supplies", dict(self.supplies))
        object.__setattr__(self, "readings", dict(self.readings))
        object.__setattr__(self, "counters", dict(self.counters))

    def same_state(self, other: DeviceStatus | None) -> bool:
        """Equal in everything an observer cares about (counters and time aside)."""
        return other is not None and (
            self.connection,
            self.health,
            self.reason,
            self.supplies,
            self.readings,
        ) == (other.connection, other.health, other.reason, other.supplies, other.readings)

    def with_counters(self, counters: Mapping[str, int]) -> DeviceStatus:
        return replace(self, counters=dict(counters))

    def as_json(self) -> dict[str, object]:
        return {
            "device": self.device,
            "kind": self.kind,
            "identity": self.identity,
            "connection": self.connection.value,
            "health": self.health.value,
            "reason": self.reason.value if self.reason else None,
            "supplies": {supply.value: {"level": reading.level.value, "percent": reading.percent}
                         for supply, reading in self.supplies.items()},
            "readings": dict(self.readings),
            "counters": dict(self.counters),
        }


class DeviceEventKind(StrEnum):
    STATUS_CHANGED = "status_changed"
    LOST = "lost"  # went offline
    RECOVERED = "recovered"  # usable again after a fault or going offline
    SUPPLY_LOW = "supply_low"
    CARD_RETAINED = "card_retained"  # a card left at the mouth was pulled into the bin
    SELF_TEST = "self_test"


@dataclass(frozen=True)
class DeviceEvent:
    """Something the fleet agent and the technician screen want to hear about."""

    device: str
    kind: DeviceEventKind
    status: DeviceStatus
    previous: DeviceStatus | None = None
    detail: str = ""
    at: float = field(default_factory=time.time)  # wall clock, for the fleet


EventSink = Callable[[DeviceEvent], None]


@dataclass(frozen=True)
class SelfTestResult:
    device: str
    passed: bool
    status: DeviceStatus
    detail: str = ""


@runtime_checkable
class Peripheral(Protocol):
    """What the device manager needs from every device service."""

    name: str

    def status(self) -> DeviceStatus:
        """The last known status, without touching the device."""
        ...

    async def refresh(self) -> DeviceStatus:
        """Ask the device now (reconnecting if needed) and return its status; never raises."""
        ...

    async def self_test(self) -> SelfTestResult: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_event_sink(self, sink: EventSink | None) -> None:
        """Where the device's own events (card retained, ...) go; the manager sets it."""
        ...


class StatusKeeper:
    """A peripheral's current status, counters and event sink, kept in one place.

    `update()` keeps `changed_at` while nothing an observer cares about changed, so the age of
    a fault is honest; counters ride along on every status.
    """

    def __init__(self, device: str, kind: str, identity: str) -> None:
        self.counters: dict[str, int] = {}
        self.sink: EventSink | None = None
        self._status = DeviceStatus(
            device, kind, identity, ConnectionState.CONNECTING, DeviceHealth.OFFLINE
        )

    @property
    def current(self) -> DeviceStatus:
        return self._status.with_counters(self.counters)

    def set_identity(self, identity: str) -> None:
        self._status = replace(self._status, identity=identity)

    def count(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    def update(
        self,
        connection: ConnectionState,
        health: DeviceHealth,
        reason: DeviceReason | None = None,
        supplies: Supplies | None = None,
        readings: Mapping[str, str | int] | None = None,
    ) -> DeviceStatus:
        old = self._status
        new = replace(
            old,
            connection=connection,
            health=health,
            reason=reason,
            supplies=dict(old.supplies if supplies is None else supplies),
            readings=dict(old.readings if readings is None else readings),
            counters=dict(self.counters),
            changed_at=time.monotonic(),
        )
        if new.same_state(old):
            new = replace(new, changed_at=old.changed_at)
        self._status = new
        return new

    def emit(self, kind: DeviceEventKind, detail: str = "") -> None:
        if self.sink is not None:
            self.sink(DeviceEvent(self._status.device, kind, self.current, detail=detail))
