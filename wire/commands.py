"""What the fleet asks of a kiosk: remote commands, the kiosk's acknowledgements, and the
operators' wanted service state (the service order)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from wire.fields import (
    JsonObject,
    WireError,
    WireErrorReason,
    _enum,
    _epoch,
    _get,
    _ident,
    _obj,
    _str_map,
)


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


def parse_params(value: object) -> dict[str, str | int | float | bool]:
    """A command's parameters: a small flat object of names to scalars."""
    return _str_map({"params": value}, "params")


@dataclass(frozen=True)
class CommandAck:
    """The kiosk's answer to one command, carried on a later heartbeat."""

    command_id: str
    outcome: AckOutcome
    detail: str = ""
    at: float = 0.0

    def to_json(self) -> JsonObject:
        return {
            "command_id": self.command_id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: object) -> CommandAck:
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

    def to_json(self) -> JsonObject:
        return {"state": self.state.value, "revision": self.revision}

    @classmethod
    def from_json(cls, data: object) -> ServiceOrder:
        data = _obj(data, "service")
        revision = _get(data, "revision", int)
        if not 0 <= revision < 2**53:
            raise WireError(WireErrorReason.BAD_VALUE, "revision")
        return cls(_enum(data, "state", ServiceState), revision)


@dataclass(frozen=True)
class Command:
    """A remote command queued for one kiosk, delivered on heartbeat responses until acked."""

    command_id: str
    kind: CommandKind
    issued_at: float
    params: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "command_id": self.command_id,
            "kind": self.kind.value,
            "issued_at": self.issued_at,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: object) -> Command:
        data = _obj(data, "command")
        return cls(
            _ident(data, "command_id"),
            _enum(data, "kind", CommandKind),
            _get(data, "issued_at", float),
            _str_map(data, "params"),
        )
