"""What happens on a kiosk, as the fleet wire carries it: events in batches, and the goodbye
of a clean shutdown."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wire.fields import (
    MAX_ID_LEN,
    WIRE_VERSION,
    JsonObject,
    WireError,
    WireErrorReason,
    _check_version,
    _enum,
    _epoch,
    _get,
    _ident,
    _list,
    _obj,
    _str_map,
)


class EventKind(enum.Enum):
    STARTED = "started"
    DEVICE_FAULT = "device_fault"
    DEVICE_RECOVERED = "device_recovered"
    SUPPLY_LOW = "supply_low"
    SUPPLY_EMPTY = "supply_empty"
    SUPPLY_REFILLED = "supply_refilled"
    OUT_OF_SERVICE = "out_of_service"
    BACK_IN_SERVICE = "back_in_service"
    NEEDS_ATTENTION = "needs_attention"
    TRANSACTION_FAILED = "transaction_failed"
    COMMAND_FAILED = "command_failed"
    # The kiosk process ended without a clean stop: an exception escaped (reported by the dying
    # process itself) or it was killed, lost power or hung (reported by the next start). v2.
    UNEXPECTED_EXIT = "unexpected_exit"
    # What became of the last software update changed (installed, refused, rolled back and why).
    UPDATE_RESULT = "update_result"
    TAMPER = "tamper"
    INFO = "info"


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Event:
    """Something that happened on a kiosk. `event_id` makes a resend from the outbox harmless."""

    event_id: str
    kind: EventKind
    at: float
    severity: Severity = Severity.INFO
    device: str = ""
    reason: str = ""
    detail: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    @classmethod
    # Any: the event's other fields, each of its own type.
    def new(cls, kind: EventKind, at: float, **kwargs: Any) -> Event:
        return cls(event_id=secrets.token_hex(12), kind=kind, at=at, **kwargs)

    def to_json(self) -> JsonObject:
        return {
            "event_id": self.event_id,
            "kind": self.kind.value,
            "at": self.at,
            "severity": self.severity.value,
            "device": self.device,
            "reason": self.reason,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_json(cls, data: object) -> Event:
        data = _obj(data, "event")
        device = _get(data, "device", str, "")
        if len(device) > MAX_ID_LEN:
            raise WireError(WireErrorReason.TOO_LARGE, "device")
        return cls(
            event_id=_ident(data, "event_id"),
            kind=_enum(data, "kind", EventKind),
            at=_epoch(data, "at"),
            severity=_enum(data, "severity", Severity, Severity.INFO),
            device=device,
            reason=_get(data, "reason", str, ""),
            detail=_str_map(data, "detail"),
        )


@dataclass(frozen=True)
class EventBatch:
    kiosk_id: str
    events: tuple[Event, ...]

    def to_json(self) -> JsonObject:
        return {
            "wire_version": WIRE_VERSION,
            "kiosk_id": self.kiosk_id,
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, data: object) -> EventBatch:
        data = _obj(data)
        _check_version(data)
        return cls(
            _ident(data, "kiosk_id"), tuple(Event.from_json(e) for e in _list(data, "events"))
        )


@dataclass(frozen=True)
class Goodbye:
    """Sent on a clean shutdown so the fleet shows the kiosk offline at once, not after misses."""

    kiosk_id: str
    at: float
    reason: str = "shutdown"

    def to_json(self) -> JsonObject:
        return {
            "wire_version": WIRE_VERSION,
            "kiosk_id": self.kiosk_id,
            "at": self.at,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: object) -> Goodbye:
        data = _obj(data)
        _check_version(data)
        return cls(_ident(data, "kiosk_id"), _epoch(data, "at"), _get(data, "reason", str, ""))
