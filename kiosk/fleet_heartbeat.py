"""What a kiosk's heartbeat says, in the fleet wire's form (wire.fleet.Heartbeat).

`status_source()` returns a dict with any of these keys (values in fleet_wire's JSON form or as
fleet_wire objects): software_version, catalog_version, in_service, devices (DeviceStatus),
counters (totals since installation), attention (AttentionItem), service_state,
service_revision, started_at, boot_id, restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from kiosk.json_object import JsonObject, JsonValue
from wire.fleet import WIRE_VERSION, CommandAck, Heartbeat, WireError

log = logging.getLogger(__name__)


def _jsonable(value: object) -> JsonValue:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def heartbeat_json(
    status_source: Callable[[], Mapping[str, object]],
    kiosk_id: str,
    seq: int,
    now: Callable[[], float],
    interval_s: float,
    acks: list[CommandAck],
    dropped: int,
) -> JsonObject:
    """The heartbeat `seq` in its wire form: the status source's answer, the acks still to be
    confirmed and the outbox's dropped count. A status that does not fit the schema (or a status
    source that fails) costs the heartbeat its status, never the heartbeat itself."""
    try:
        status = {k: _jsonable(v) for k, v in dict(status_source()).items()}
    except Exception:
        log.exception("status source failed; sending a bare heartbeat")
        status = {}
    counters = dict(status.get("counters") or {})
    if dropped:
        counters["outbox_dropped"] = dropped
    data = {
        **status,
        "wire_version": WIRE_VERSION,
        "kiosk_id": kiosk_id,
        "seq": seq,
        "sent_at": now(),
        "interval_s": interval_s,
        "counters": counters,
        "acks": [a.to_json() for a in acks],
    }
    try:
        return Heartbeat.from_json(data).to_json()
    except WireError as exc:
        log.error("status does not fit the heartbeat schema", extra={"reason": str(exc)})
        keep = ("wire_version", "kiosk_id", "seq", "sent_at", "interval_s", "acks")
        return Heartbeat.from_json({k: data[k] for k in keep}).to_json()
