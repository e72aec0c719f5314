"""A kiosk's heartbeat and the fleet's reply: what the kiosk says about itself every interval,
and the commands, acknowledgements and service order it gets back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wire.commands import Command, CommandAck, ServiceOrder, ServiceState
from wire.devices import DeviceStatus
from wire.fields import (
    MAX_ID_LEN,
    MAX_SEQ,
    WIRE_VERSION,
    JsonObject,
    WireError,
    WireErrorReason,
    _check_version,
    _enum,
    _epoch,
    _get,
    _ident,
    _int_map,
    _list,
    _obj,
)
from wire.update.status import UpdateStatus


@dataclass(frozen=True)
class AttentionItem:
    """A journal transaction that recovery could not settle: a reference, never a person."""

    ref: str  # the journal's transaction id (a random id, not personal data)
    state: str
    since: float
    reason: str = ""

    def to_json(self) -> JsonObject:
        return {"ref": self.ref, "state": self.state, "since": self.since, "reason": self.reason}

    @classmethod
    def from_json(cls, data: object) -> AttentionItem:
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

    def to_json(self) -> JsonObject:
        return {"code": self.code, "available": self.available, "reason": self.reason}

    @classmethod
    def from_json(cls, data: object) -> ItemAvailability:
        data = _obj(data, "item")
        reason = _get(data, "reason", (str, type(None)), "") or ""
        if len(reason) > MAX_ID_LEN:
            raise WireError(WireErrorReason.TOO_LARGE, "reason")
        return cls(_ident(data, "code"), _get(data, "available", bool), reason)


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

    def to_json(self) -> JsonObject:
        data: JsonObject = {
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
    def from_json(cls, data: object) -> Heartbeat:
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
class HeartbeatReply:
    """The server's answer to a heartbeat: commands to run, the acks it has recorded and (v2)
    the wanted service state, every time, so a kiosk that lost it gets it back."""

    server_time: float
    interval_s: float
    commands: tuple[Command, ...] = ()
    acked: tuple[str, ...] = ()
    service: ServiceOrder | None = None

    def to_json(self, version: int = WIRE_VERSION) -> JsonObject:
        """The reply in the kiosk's own wire version (a v1 kiosk refuses any other)."""
        data: JsonObject = {
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
    def from_json(cls, data: object) -> HeartbeatReply:
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
