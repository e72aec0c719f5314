"""The OpenAPI description of the kiosk-facing API: the wire schema's messages (wire.fleet) and
enrollment, heartbeats, events, goodbyes and log uploads; fleet.openapi merges it into its
document."""

from __future__ import annotations

from fleet.openapi_blocks import (
    BOOL,
    INT,
    KIOSK_ID,
    KIOSK_SEC,
    NUM,
    REF,
    STR,
    answer,
    json_body,
    obj,
    op,
    values,
)
from wire.fields import JsonObject
from wire.fleet import (
    READABLE_VERSIONS,
    AckOutcome,
    CommandKind,
    DeviceHealth,
    EventKind,
    ServiceState,
    Severity,
    SupplyLevel,
)

_SCALARS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_VERSION = {"enum": sorted(READABLE_VERSIONS), "description": "the sender's wire version"}

KIOSK_SCHEMAS: JsonObject = {
    "Error": obj(["error"], error=STR, reason=STR, field=STR),
    "Supply": obj(
        ["name", "level"],
        name=STR,
        level={"enum": values(SupplyLevel)},
        remaining={"type": ["integer", "null"]},
    ),
    "DeviceStatus": obj(
        ["device", "health"],
        device=STR,
        health={"enum": values(DeviceHealth)},
        reason=STR,
        supplies={"type": "array", "items": {"$ref": REF + "Supply"}},
    ),
    "AttentionItem": obj(["ref", "state", "since"], ref=STR, state=STR, since=NUM, reason=STR),
    "CommandAck": obj(
        ["command_id", "outcome"],
        command_id=STR,
        outcome={"enum": values(AckOutcome)},
        detail=STR,
        at=NUM,
    ),
    "ServiceOrder": obj(
        ["state", "revision"], state={"enum": values(ServiceState)}, revision=INT
    ),
    "Heartbeat": obj(
        ["kiosk_id", "seq", "sent_at", "interval_s"],
        wire_version=_VERSION,
        kiosk_id=STR,
        seq=INT,
        sent_at=NUM,
        interval_s=NUM,
        software_version=STR,
        catalog_version=STR,
        in_service=BOOL,
        devices={"type": "array", "items": {"$ref": REF + "DeviceStatus"}},
        counters={"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        attention={"type": "array", "items": {"$ref": REF + "AttentionItem"}},
        acks={"type": "array", "items": {"$ref": REF + "CommandAck"}},
        service_state={"enum": values(ServiceState), "description": "v2: the order it holds"},
        service_revision={**INT, "description": "v2: the service order's revision applied"},
        started_at={**NUM, "description": "v2: when the kiosk process started"},
        boot_id={**STR, "description": "v2: the machine's boot id"},
        restarts={"type": ["integer", "null"], "description": "v2: systemd's NRestarts"},
        items={
            "type": "array",
            "items": {"$ref": REF + "ItemAvailability"},
            "description": "optional: the menu's items and whether each is offered now",
        },
        update={"$ref": REF + "UpdateStatus", "description": "optional: software updates"},
    ),
    "Command": obj(
        ["command_id", "kind", "issued_at"],
        command_id=STR,
        kind={"enum": values(CommandKind)},
        issued_at=NUM,
        params=_SCALARS,
    ),
    "HeartbeatReply": obj(
        ["server_time", "interval_s", "commands", "acked"],
        wire_version={**_VERSION, "description": "the version the kiosk spoke"},
        server_time=NUM,
        interval_s=NUM,
        commands={"type": "array", "items": {"$ref": REF + "Command"}},
        acked={"type": "array", "items": STR},
        service={"$ref": REF + "ServiceOrder", "description": "v2: on every reply"},
    ),
    "Event": obj(
        ["event_id", "kind", "at"],
        event_id=STR,
        kind={"enum": values(EventKind)},
        at=NUM,
        severity={"enum": values(Severity)},
        device=STR,
        reason=STR,
        detail=_SCALARS,
    ),
    "EventBatch": obj(
        ["kiosk_id", "events"],
        wire_version=_VERSION,
        kiosk_id=STR,
        events={"type": "array", "items": {"$ref": REF + "Event"}},
    ),
    "Goodbye": obj(["kiosk_id", "at"], wire_version=INT, kiosk_id=STR, at=NUM, reason=STR),
    "EnrollmentRequest": obj(
        ["token", "kiosk_id", "public_key_pem", "site", "region"],
        wire_version=_VERSION,
        token=STR,
        kiosk_id=STR,
        public_key_pem={"type": "string", "description": "Ed25519 SubjectPublicKeyInfo PEM"},
        site=STR,
        region=STR,
    ),
    "Enrolled": obj(
        ["kiosk_id", "key_id", "interval_s", "server_time"],
        wire_version=INT,
        kiosk_id=STR,
        key_id=STR,
        interval_s=NUM,
        server_time=NUM,
        replaced_key_id={
            "type": "string",
            "description": "re-key only: the kiosk's previous key, which no longer verifies",
        },
    ),
}

REFUSED = {
    "400": answer("does not follow the wire schema", "Error"),
    "401": answer("unsigned, unknown key, forged, stale or replayed", "Error"),
    "403": answer("signed by another kiosk's key", "Error"),
}

KIOSK_PATHS: JsonObject = {
    "/api/v1/openapi.json": {
        "get": op("This document", "meta", [], {"200": answer("the OpenAPI document")})
    },
    "/api/v1/enroll": {
        "post": op(
            "Register a kiosk's public key with a one-time token (signed by that key). A re-key"
            " token (kiosk-fleet create-token --rekey KIOSK_ID) instead replaces the key, site"
            " and region of that enrolled kiosk; its old key stops verifying (audited: rekey)",
            "kiosk",
            [],
            {
                "201": answer("enrolled, or re-keyed", "Enrolled"),
                "403": answer(
                    "token unknown, used or expired, or a re-key token for another kiosk", "Error"
                ),
                "409": answer("kiosk id or key already enrolled", "Error"),
                "400": REFUSED["400"],
                "401": REFUSED["401"],
            },
            requestBody=json_body("EnrollmentRequest"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/heartbeat": {
        "post": op(
            "A kiosk's heartbeat; the reply carries queued commands and recorded acks",
            "kiosk",
            KIOSK_SEC,
            {"200": answer("recorded", "HeartbeatReply"), **REFUSED},
            parameters=[KIOSK_ID],
            requestBody=json_body("Heartbeat"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/events": {
        "post": op(
            "A batch of a kiosk's events (resends with the same event_id are ignored)",
            "kiosk",
            KIOSK_SEC,
            {"200": answer("recorded"), **REFUSED},
            parameters=[KIOSK_ID],
            requestBody=json_body("EventBatch"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/goodbye": {
        "post": op(
            "A clean shutdown: the kiosk is shown offline at once",
            "kiosk",
            KIOSK_SEC,
            {"200": answer("recorded"), **REFUSED},
            parameters=[KIOSK_ID],
            requestBody=json_body("Goodbye"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/logs": {
        "post": op(
            "Upload a (masked) log bundle for an upload_logs command",
            "kiosk",
            KIOSK_SEC,
            {"201": answer("stored"), "413": answer("too large", "Error"), **REFUSED},
            parameters=[
                KIOSK_ID,
                {"name": "command_id", "in": "query", "required": False, "schema": STR},
            ],
            requestBody={"content": {"text/plain": {"schema": STR}}},
        )
    },
}
