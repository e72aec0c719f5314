"""Software updates as a kiosk reports them to the fleet on every heartbeat: what runs, what the
updater is doing, and what became of the last update."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wire.fields import (
    _IDENT,
    MAX_ID_LEN,
    MAX_SEQ,
    MAX_TEXT_LEN,
    JsonMapping,
    JsonObject,
    WireError,
    WireErrorReason,
    _epoch,
    _get,
    _ident,
    _obj,
    _short,
    _version,
)


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

    def to_json(self) -> JsonObject:
        return {"id": self.result_id, "outcome": self.outcome, "version": self.version,
                "at": self.at, "reason": self.reason, "detail": self.detail,
                "from_version": self.from_version}

    @classmethod
    def from_json(cls, data: object) -> UpdateResult:
        data = _obj(data, "last_result")
        return cls(_ident(data, "id"), _ident(data, "outcome"), _version(data, "version"),
                   _epoch(data, "at"), _get(data, "reason", str, ""),
                   _get(data, "detail", str, ""), _version(data, "from_version", ""))

    @classmethod
    def from_status(cls, data: JsonMapping | None) -> UpdateResult | None:
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

    def to_json(self) -> JsonObject:
        return {"running_version": self.running_version, "slot": self.slot, "phase": self.phase,
                "request_id": self.request_id, "target_version": self.target_version,
                "bytes_done": self.bytes_done, "bytes_total": self.bytes_total,
                "waiting_for": self.waiting_for,
                "last_result": self.last_result.to_json() if self.last_result else None}

    @classmethod
    def from_json(cls, data: object) -> UpdateStatus:
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
    def from_agent(cls, status: JsonMapping) -> UpdateStatus:
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
