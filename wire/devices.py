"""A kiosk's peripherals as the fleet wire carries them: health, supplies, their levels."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wire.fields import JsonObject, WireError, WireErrorReason, _enum, _get, _ident, _list, _obj


class DeviceHealth(enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"
    FAULT = "fault"
    ABSENT = "absent"


class SupplyLevel(enum.Enum):
    OK = "ok"
    LOW = "low"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Supply:
    """One consumable of a device: paper, blank certificates, ribbon."""

    name: str
    level: SupplyLevel
    remaining: int | None = None

    def to_json(self) -> JsonObject:
        return {"name": self.name, "level": self.level.value, "remaining": self.remaining}

    @classmethod
    def from_json(cls, data: object) -> Supply:
        data = _obj(data, "supply")
        remaining = _get(data, "remaining", (int, type(None)), None)
        if remaining is not None and remaining < 0:
            raise WireError(WireErrorReason.BAD_VALUE, "remaining")
        return cls(_ident(data, "name"), _enum(data, "level", SupplyLevel), remaining)


@dataclass(frozen=True)
class DeviceStatus:
    """The health of one peripheral as the kiosk's device manager sees it."""

    device: str
    health: DeviceHealth
    reason: str = ""
    supplies: tuple[Supply, ...] = ()

    def to_json(self) -> JsonObject:
        return {
            "device": self.device,
            "health": self.health.value,
            "reason": self.reason,
            "supplies": [s.to_json() for s in self.supplies],
        }

    @classmethod
    def from_json(cls, data: object) -> DeviceStatus:
        data = _obj(data, "device")
        return cls(
            _ident(data, "device"),
            _enum(data, "health", DeviceHealth),
            _get(data, "reason", str, ""),
            tuple(Supply.from_json(s) for s in _list(data, "supplies")),
        )
