"""The versioned wire schema between a kiosk's fleet agent and the fleet server.

One place for both sides: the messages (enrollment, heartbeat, event, command, acknowledgement),
their JSON form, and the request-signing scheme. The fleet server imports this module; nothing
here imports the fleet server. Bump WIRE_VERSION on any change a peer of the previous version
could not read.

Signing: every kiosk request after enrollment carries the headers below. The signature is
Ed25519 over the canonical string

    kiosk-fleet-sig-v1\\n{METHOD}\\n{path}\\n{timestamp}\\n{nonce}\\n{sha256(body) hex}\\n{key id}

where the key id is the first 32 hex digits of SHA-256 over the raw 32-byte public key. The
server refuses a request whose timestamp is outside its window (stale), whose nonce it has seen
(replayed), whose signature does not verify (forged), or whose key is not the kiosk's named in
the path (a kiosk can only speak for itself). No personal data travels in any message here.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# Version 2 adds the server's service order on every heartbeat reply (the operators' wanted
# in/out-of-service state, which the kiosk persists), the kiosk's process start, boot id and
# systemd restart count, the `accepted` acknowledgement, and the `unexpected_exit` event.
# Optional fields a peer of the same version ignores when it does not know them (no bump): the
# heartbeat's `items` (which service items the menu offers now), and the business reports of
# wire.reports on their own endpoint (a fleet without it answers 404; the kiosk keeps
# them until one that has it answers), and the heartbeat's `update` (UpdateStatus). The `update`
# command and the `update_result` event are new kinds: only a fleet that knows them sends the
# command, and a fleet that does not refuses the event with a 400, which the kiosk drops.
WIRE_VERSION = 2
# What each side reads. A kiosk speaks its own version and the server answers it in that version,
# so kiosks of the previous release keep working while a fleet is upgraded.
READABLE_VERSIONS = frozenset({1, 2})
API_PREFIX = "/api/v1"

HEADER_KEY_ID = "X-Kiosk-Key-Id"
HEADER_TIMESTAMP = "X-Kiosk-Timestamp"
HEADER_NONCE = "X-Kiosk-Nonce"
HEADER_DIGEST = "X-Kiosk-Content-SHA256"
HEADER_SIGNATURE = "X-Kiosk-Signature"
SIGNATURE_SCHEME = "kiosk-fleet-sig-v1"

MAX_ID_LEN = 64
MAX_TEXT_LEN = 500
MAX_ITEMS = 256


class WireErrorReason(enum.Enum):
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"


class WireError(ValueError):
    """A message that does not follow the schema; `reason` says how, `field` where."""

    def __init__(self, reason: WireErrorReason, field_name: str = "", detail: str = "") -> None:
        super().__init__(f"{reason.value}: {field_name} {detail}".strip())
        self.reason = reason
        self.field = field_name


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


class CommandKind(enum.Enum):
    OUT_OF_SERVICE = "out_of_service"
    BACK_IN_SERVICE = "back_in_service"
    RESTART_APP = "restart_app"
    REBOOT = "reboot"
    REFETCH_CATALOG = "refetch_catalog"
    UPLOAD_LOGS = "upload_logs"
    # Fetch, verify and stage a release bundle (params: url, manifest_digest); the kiosk restarts
    # into it between citizens, and its heartbeats' `update` say how it goes.
    UPDATE = "update"


# Commands after which the kiosk process does not come back to report: their acknowledgement is
# written before they run and sent by the next process.
DISRUPTIVE_COMMANDS = frozenset({CommandKind.RESTART_APP, CommandKind.REBOOT})


class AckOutcome(enum.Enum):
    # The kiosk has started acting on the command; the outcome follows in a later ack, or, for a
    # restart or reboot, the server sees it (a new process, a new boot). v2.
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"


class ServiceState(enum.Enum):
    """The operators' wanted state of a kiosk (the kiosk may still be down for other reasons)."""

    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"


# Commands that set the wanted service state. A v2 kiosk gets that state on every heartbeat reply
# (ServiceOrder) instead; a v1 kiosk gets these as commands.
SERVICE_COMMANDS = {
    CommandKind.OUT_OF_SERVICE: ServiceState.OUT_OF_SERVICE,
    CommandKind.BACK_IN_SERVICE: ServiceState.IN_SERVICE,
}


# -- field readers: every parser below goes through these, so bad input is a WireError ----------


def _obj(data: Any, name: str = "message") -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError(WireErrorReason.NOT_AN_OBJECT, name)
    return data


def _get(
    data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ...
) -> Any:  # a JSON value, checked against `kind` here at run time
    if key not in data:
        if default is ...:
            raise WireError(WireErrorReason.MISSING_FIELD, key)
        return default
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind is not bool and kind != (bool,):
        raise WireError(WireErrorReason.WRONG_TYPE, key)
    if not isinstance(value, kind):
        raise WireError(WireErrorReason.WRONG_TYPE, key)
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(WireErrorReason.BAD_VALUE, key, "not finite")
    if isinstance(value, str) and len(value) > MAX_TEXT_LEN:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return value


# Epoch seconds a kiosk may send: from 1970 to the year 5138. Outside that a timestamp is garbage
# (-1e300 once made the server's day arithmetic fail with a 500).
MAX_EPOCH_S = 1e11
MAX_SEQ = 2**53  # JSON-exact, and within a BIGINT column
_IDENT = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_ID_LEN}}}")


def _epoch(data: Mapping[str, Any], key: str, default: Any = ...) -> float:
    value = _get(data, key, float, default)
    if not 0.0 <= value <= MAX_EPOCH_S:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not a time")
    return float(value)


def _ident(data: Mapping[str, Any], key: str) -> str:
    value: str = _get(data, key, str)
    if not value.isascii():
        raise WireError(WireErrorReason.BAD_VALUE, key, "not ASCII")
    # One regex match, not a Python test per character: the fleet parses thousands a second.
    if _IDENT.fullmatch(value) is None:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not an identifier")
    return value


def _enum(
    data: Mapping[str, Any], key: str, enum_type: type[enum.Enum], default: Any = ...
) -> Any:  # a member of `enum_type`, or `default`
    raw = _get(data, key, str, default)
    if raw is default and default is not ...:
        return default
    try:
        return enum_type(raw)
    except ValueError:
        raise WireError(WireErrorReason.BAD_VALUE, key, f"unknown {enum_type.__name__}") from None


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value: list[Any] = _get(data, key, list, [])
    if len(value) > MAX_ITEMS:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return value


def _int_map(data: Mapping[str, Any], key: str) -> dict[str, int]:
    value = _obj(_get(data, key, Mapping, {}), key)
    if len(value) > MAX_ITEMS:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    out: dict[str, int] = {}
    for name, count in value.items():
        if not isinstance(name, str) or not name or len(name) > MAX_ID_LEN:
            raise WireError(WireErrorReason.BAD_VALUE, key, "counter name")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**53:
            raise WireError(WireErrorReason.BAD_VALUE, key, "counter value")
        out[name] = count
    return out


def _str_map(data: Mapping[str, Any], key: str) -> dict[str, str | int | float | bool]:
    value = _obj(_get(data, key, Mapping, {}), key)
    if len(value) > 32:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    out: dict[str, str | int | float | bool] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or len(name) > MAX_ID_LEN:
            raise WireError(WireErrorReason.BAD_VALUE, key, "detail name")
        if isinstance(item, str) and len(item) <= MAX_TEXT_LEN:
            out[name] = item
        elif isinstance(item, bool | int) or (isinstance(item, float) and math.isfinite(item)):
            out[name] = item
        else:
            raise WireError(WireErrorReason.BAD_VALUE, key, "detail value")
    return out


def parse_params(value: Any) -> dict[str, str | int | float | bool]:
    """A command's parameters: a small flat object of names to scalars."""
    return _str_map({"params": value}, "params")


def _check_version(data: Mapping[str, Any]) -> int:
    """The message's wire version (1 when absent: the first kiosks did not always send it)."""
    version = _get(data, "wire_version", int, 1)
    if version not in READABLE_VERSIONS:
        raise WireError(WireErrorReason.UNSUPPORTED_VERSION, "wire_version", str(version))
    return int(version)


# -- messages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateResult:
    """What became of one software update on the kiosk (kiosk.update: the updater's or the slot
    guard's last result). `reason` is a code (e.g. "not_healthy_in_time", "bad_signature")."""

    result_id: str
    outcome: str  # staged, refused, installed, updated, rolled_back
    version: str
    at: float
    reason: str = ""
    detail: str = ""
    from_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.result_id, "outcome": self.outcome, "version": self.version,
                "at": self.at, "reason": self.reason, "detail": self.detail,
                "from_version": self.from_version}

    @classmethod
    def from_json(cls, data: Any) -> UpdateResult:
        data = _obj(data, "last_result")
        return cls(_ident(data, "id"), _ident(data, "outcome"), _version(data, "version"),
                   _epoch(data, "at"), _get(data, "reason", str, ""),
                   _get(data, "detail", str, ""), _version(data, "from_version", ""))

    @classmethod
    def from_status(cls, data: Mapping[str, Any] | None) -> UpdateResult | None:
        """From the update agent's status (kiosk.update.agent); None if it has no usable one."""
        if not data:
            return None
        try:
            return cls.from_json({**data, "detail": str(data.get("detail") or "")[:MAX_TEXT_LEN],
                                  "from_version": data.get("from_version")
                                  or data.get("back_to") or ""})
        except WireError:
            return None


@dataclass(frozen=True)
class UpdateStatus:
    """Software updates as the kiosk sees them, on every heartbeat (optional: a peer that does
    not know it ignores it): the version and slot running, the updater's phase for the request
    `request_id` (the fleet's command id), its progress, and the last result."""

    running_version: str
    slot: str = ""
    phase: str = "idle"
    request_id: str = ""
    target_version: str = ""
    bytes_done: int | None = None
    bytes_total: int | None = None
    waiting_for: str = ""
    last_result: UpdateResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {"running_version": self.running_version, "slot": self.slot, "phase": self.phase,
                "request_id": self.request_id, "target_version": self.target_version,
                "bytes_done": self.bytes_done, "bytes_total": self.bytes_total,
                "waiting_for": self.waiting_for,
                "last_result": self.last_result.to_json() if self.last_result else None}

    @classmethod
    def from_json(cls, data: Any) -> UpdateStatus:
        data = _obj(data, "update")
        sizes = [_get(data, k, (int, type(None)), None) for k in ("bytes_done", "bytes_total")]
        if any(s is not None and not 0 <= s < MAX_SEQ for s in sizes):
            raise WireError(WireErrorReason.BAD_VALUE, "bytes_done/bytes_total")
        request_id = _get(data, "request_id", str, "")
        if request_id and _IDENT.fullmatch(request_id) is None:
            raise WireError(WireErrorReason.BAD_VALUE, "request_id")
        last = _get(data, "last_result", (Mapping, type(None)), None)
        return cls(
            _version(data, "running_version"),
            _short(data, "slot"),
            _short(data, "phase", "idle"),
            request_id,
            _version(data, "target_version", ""),
            sizes[0],
            sizes[1],
            _short(data, "waiting_for"),
            UpdateResult.from_json(last) if last is not None else None,
        )

    @classmethod
    def from_agent(cls, status: Mapping[str, Any]) -> UpdateStatus:
        """From the update agent's status() (kiosk.update.agent)."""
        progress = status.get("progress") or {}
        return cls(
            str(status.get("running_version") or "")[:MAX_ID_LEN],
            str(status.get("slot") or ""),
            str(status.get("updater_phase") or "idle"),
            str(status.get("request_id") or "")[:MAX_ID_LEN],
            str(status.get("target_version") or "")[:MAX_ID_LEN],
            progress.get("bytes"),
            progress.get("total"),
            str(status.get("waiting_for") or ""),
            UpdateResult.from_status(status.get("last_result")),
        )


def _version(data: Mapping[str, Any], key: str, default: Any = ...) -> str:
    value = _get(data, key, str, default)
    if len(value) > MAX_ID_LEN:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return str(value)


def _short(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = _get(data, key, str, default)
    if value and _IDENT.fullmatch(value) is None:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not an identifier")
    return str(value)


@dataclass(frozen=True)
class Supply:
    """One consumable of a device: paper, blank certificates, ribbon."""

    name: str
    level: SupplyLevel
    remaining: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level.value, "remaining": self.remaining}

    @classmethod
    def from_json(cls, data: Any) -> Supply:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "health": self.health.value,
            "reason": self.reason,
            "supplies": [s.to_json() for s in self.supplies],
        }

    @classmethod
    def from_json(cls, data: Any) -> DeviceStatus:
        data = _obj(data, "device")
        return cls(
            _ident(data, "device"),
            _enum(data, "health", DeviceHealth),
            _get(data, "reason", str, ""),
            tuple(Supply.from_json(s) for s in _list(data, "supplies")),
        )


@dataclass(frozen=True)
class AttentionItem:
    """A journal transaction that recovery could not settle: a reference, never a person."""

    ref: str  # the journal's transaction id (a random id, not personal data)
    state: str
    since: float
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "state": self.state, "since": self.since, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any) -> AttentionItem:
        data = _obj(data, "attention")
        return cls(
            _ident(data, "ref"),
            _ident(data, "state"),
            _get(data, "since", float),
            _get(data, "reason", str, ""),
        )


@dataclass(frozen=True)
class ItemAvailability:
    """Whether the menu offers one service item now (the fleet's availability per item).
    `reason` is the kiosk's reason key when it does not, never anything about a citizen."""

    code: str
    available: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "available": self.available, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any) -> ItemAvailability:
        data = _obj(data, "item")
        reason = _get(data, "reason", (str, type(None)), "") or ""
        if len(reason) > MAX_ID_LEN:
            raise WireError(WireErrorReason.TOO_LARGE, "reason")
        return cls(_ident(data, "code"), _get(data, "available", bool), reason)


@dataclass(frozen=True)
class CommandAck:
    """The kiosk's answer to one command, carried on a later heartbeat."""

    command_id: str
    outcome: AckOutcome
    detail: str = ""
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Any) -> CommandAck:
        data = _obj(data, "ack")
        return cls(
            _ident(data, "command_id"),
            _enum(data, "outcome", AckOutcome),
            _get(data, "detail", str, ""),
            _epoch(data, "at", 0.0),
        )


@dataclass(frozen=True)
class ServiceOrder:
    """The server's wanted service state for one kiosk, on every v2 heartbeat reply.

    `revision` rises with every operator change; the kiosk applies a revision once, persists it
    and reports it back (Heartbeat.service_revision), so the server can tell "done" from "sent".
    """

    state: ServiceState
    revision: int

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "revision": self.revision}

    @classmethod
    def from_json(cls, data: Any) -> ServiceOrder:
        data = _obj(data, "service")
        revision = _get(data, "revision", int)
        if not 0 <= revision < 2**53:
            raise WireError(WireErrorReason.BAD_VALUE, "revision")
        return cls(_enum(data, "state", ServiceState), revision)


@dataclass(frozen=True)
class Heartbeat:
    """What a kiosk says about itself every interval. `counters` are totals since installation.

    v2 adds: `service_state`/`service_revision` (the server's service order as the kiosk holds
    and has applied it), `started_at` (this process's start: a change means a restart),
    `boot_id` (the machine's: a change means a reboot) and `restarts` (systemd's NRestarts for
    the kiosk's unit, None outside systemd). `items` (optional, v2 peers that do not know it
    ignore it): each service item of the menu and whether it is offered now.
    """

    kiosk_id: str
    seq: int
    sent_at: float
    interval_s: float
    software_version: str = ""
    catalog_version: str = ""
    in_service: bool = True
    devices: tuple[DeviceStatus, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    attention: tuple[AttentionItem, ...] = ()
    acks: tuple[CommandAck, ...] = ()
    service_state: ServiceState = ServiceState.IN_SERVICE
    service_revision: int = 0
    started_at: float = 0.0
    boot_id: str = ""
    restarts: int | None = None
    items: tuple[ItemAvailability, ...] = ()
    update: UpdateStatus | None = None
    wire_version: int = WIRE_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "wire_version": self.wire_version,
            "kiosk_id": self.kiosk_id,
            "seq": self.seq,
            "sent_at": self.sent_at,
            "interval_s": self.interval_s,
            "software_version": self.software_version,
            "catalog_version": self.catalog_version,
            "in_service": self.in_service,
            "devices": [d.to_json() for d in self.devices],
            "counters": dict(self.counters),
            "attention": [a.to_json() for a in self.attention],
            "acks": [a.to_json() for a in self.acks],
        }
        if self.wire_version >= 2:
            data.update(
                service_state=self.service_state.value,
                service_revision=self.service_revision,
                started_at=self.started_at,
                boot_id=self.boot_id,
                restarts=self.restarts,
            )
            if self.items:
                data["items"] = [i.to_json() for i in self.items]
            if self.update is not None:
                data["update"] = self.update.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any) -> Heartbeat:
        data = _obj(data)
        version = _check_version(data)
        seq = _get(data, "seq", int)
        interval = _get(data, "interval_s", float)
        if not 0 <= seq < MAX_SEQ or not 0.05 <= interval <= 86400:
            raise WireError(WireErrorReason.BAD_VALUE, "seq/interval_s")
        revision = _get(data, "service_revision", int, 0)
        restarts = _get(data, "restarts", (int, type(None)), None)
        if not 0 <= revision < 2**53 or (restarts is not None and not 0 <= restarts < 2**31):
            raise WireError(WireErrorReason.BAD_VALUE, "service_revision/restarts")
        boot_id = _get(data, "boot_id", str, "")
        if len(boot_id) > MAX_ID_LEN:
            raise WireError(WireErrorReason.TOO_LARGE, "boot_id")
        update = _get(data, "update", (Mapping, type(None)), None)
        return cls(
            kiosk_id=_ident(data, "kiosk_id"),
            seq=seq,
            sent_at=_epoch(data, "sent_at"),
            interval_s=interval,
            software_version=_get(data, "software_version", str, ""),
            catalog_version=_get(data, "catalog_version", str, ""),
            in_service=_get(data, "in_service", bool, True),
            devices=tuple(DeviceStatus.from_json(d) for d in _list(data, "devices")),
            counters=_int_map(data, "counters"),
            attention=tuple(AttentionItem.from_json(a) for a in _list(data, "attention")),
            acks=tuple(CommandAck.from_json(a) for a in _list(data, "acks")),
            service_state=_enum(data, "service_state", ServiceState, ServiceState.IN_SERVICE),
            service_revision=revision,
            started_at=_epoch(data, "started_at", 0.0),
            boot_id=boot_id,
            restarts=restarts,
            items=tuple(ItemAvailability.from_json(i) for i in _list(data, "items")),
            update=UpdateStatus.from_json(update) if update is not None else None,
            wire_version=version,
        )


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
    def new(cls, kind: EventKind, at: float, **kwargs: Any) -> Event:
        return cls(event_id=secrets.token_hex(12), kind=kind, at=at, **kwargs)

    def to_json(self) -> dict[str, Any]:
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
    def from_json(cls, data: Any) -> Event:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "wire_version": WIRE_VERSION,
            "kiosk_id": self.kiosk_id,
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, data: Any) -> EventBatch:
        data = _obj(data)
        _check_version(data)
        return cls(
            _ident(data, "kiosk_id"), tuple(Event.from_json(e) for e in _list(data, "events"))
        )


@dataclass(frozen=True)
class Command:
    """A remote command queued for one kiosk, delivered on heartbeat responses until acked."""

    command_id: str
    kind: CommandKind
    issued_at: float
    params: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "kind": self.kind.value,
            "issued_at": self.issued_at,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Any) -> Command:
        data = _obj(data, "command")
        return cls(
            _ident(data, "command_id"),
            _enum(data, "kind", CommandKind),
            _get(data, "issued_at", float),
            _str_map(data, "params"),
        )


@dataclass(frozen=True)
class HeartbeatReply:
    """The server's answer to a heartbeat: commands to run, the acks it has recorded and (v2)
    the wanted service state, every time, so a kiosk that lost it gets it back."""

    server_time: float
    interval_s: float
    commands: tuple[Command, ...] = ()
    acked: tuple[str, ...] = ()
    service: ServiceOrder | None = None

    def to_json(self, version: int = WIRE_VERSION) -> dict[str, Any]:
        """The reply in the kiosk's own wire version (a v1 kiosk refuses any other)."""
        data: dict[str, Any] = {
            "wire_version": version,
            "server_time": self.server_time,
            "interval_s": self.interval_s,
            "commands": [c.to_json() for c in self.commands],
            "acked": list(self.acked),
        }
        if version >= 2 and self.service is not None:
            data["service"] = self.service.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any) -> HeartbeatReply:
        data = _obj(data)
        _check_version(data)
        acked = _list(data, "acked")
        if not all(isinstance(a, str) for a in acked):
            raise WireError(WireErrorReason.WRONG_TYPE, "acked")
        service = _get(data, "service", (Mapping, type(None)), None)
        return cls(
            _get(data, "server_time", float),
            _get(data, "interval_s", float),
            tuple(Command.from_json(c) for c in _list(data, "commands")),
            tuple(acked),
            ServiceOrder.from_json(service) if service is not None else None,
        )


@dataclass(frozen=True)
class Goodbye:
    """Sent on a clean shutdown so the fleet shows the kiosk offline at once, not after misses."""

    kiosk_id: str
    at: float
    reason: str = "shutdown"

    def to_json(self) -> dict[str, Any]:
        return {
            "wire_version": WIRE_VERSION,
            "kiosk_id": self.kiosk_id,
            "at": self.at,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Any) -> Goodbye:
        data = _obj(data)
        _check_version(data)
        return cls(_ident(data, "kiosk_id"), _epoch(data, "at"), _get(data, "reason", str, ""))


@dataclass(frozen=True)
class EnrollmentRequest:
    """A kiosk's registration: the one-time token and the public half of its own device key."""

    token: str
    kiosk_id: str
    public_key_pem: str
    site: str
    region: str

    def to_json(self) -> dict[str, Any]:
        return {
            "wire_version": WIRE_VERSION,
            "token": self.token,
            "kiosk_id": self.kiosk_id,
            "public_key_pem": self.public_key_pem,
            "site": self.site,
            "region": self.region,
        }

    @classmethod
    def from_json(cls, data: Any) -> EnrollmentRequest:
        data = _obj(data)
        _check_version(data)
        token = _get(data, "token", str)
        if not 16 <= len(token) <= 128:
            raise WireError(WireErrorReason.BAD_VALUE, "token")
        pem = _get(data, "public_key_pem", str)
        load_public_key(pem.encode())  # raises WireError if it is not an Ed25519 key
        return cls(
            token, _ident(data, "kiosk_id"), pem, _ident(data, "site"), _ident(data, "region")
        )


# -- keys and signatures --------------------------------------------------------------------------


def load_private_key(private_key: Ed25519PrivateKey | bytes) -> Ed25519PrivateKey:
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key
    key = serialization.load_pem_private_key(private_key, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise WireError(WireErrorReason.BAD_VALUE, "private_key", "not Ed25519")
    return key


def load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise WireError(WireErrorReason.BAD_VALUE, "public_key_pem", "not a PEM key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise WireError(WireErrorReason.BAD_VALUE, "public_key_pem", "not Ed25519")
    return key


def public_key_pem(private_key: Ed25519PrivateKey | bytes) -> bytes:
    return (
        load_private_key(private_key)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    """The short name of a device key that requests carry: 32 hex digits of SHA-256(raw key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def canonical_string(
    method: str, path: str, timestamp: str, nonce: str, body_digest: str, key: str
) -> bytes:
    """The exact bytes a kiosk signs; `path` includes the query string if any."""
    return "\n".join(
        (SIGNATURE_SCHEME, method.upper(), path, timestamp, nonce, body_digest, key)
    ).encode()


def sign_request(
    private_key: Ed25519PrivateKey | bytes,
    method: str,
    path: str,
    body: bytes,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request from a kiosk (see the module docstring)."""
    key = load_private_key(private_key)
    kid = key_id(key.public_key())
    nonce = nonce or secrets.token_hex(16)
    timestamp = f"{now:.3f}"
    digest = hashlib.sha256(body).hexdigest()
    signature = key.sign(canonical_string(method, path, timestamp, nonce, digest, kid))
    return {
        HEADER_KEY_ID: kid,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_DIGEST: digest,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
