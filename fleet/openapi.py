"""The OpenAPI 3.1 document of the fleet server's `/api/v1/`, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from fleet.call_openapi import CALL_PATHS, CALL_SCHEMAS
from fleet.report_openapi import REPORT_PATHS, REPORT_SCHEMAS
from fleet.rollout_openapi import ROLLOUT_PATHS, ROLLOUT_SCHEMAS
from fleet.village_agent_openapi import AGENT_PATHS
from wire.fleet import (
    HEADER_DIGEST,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    READABLE_VERSIONS,
    WIRE_VERSION,
    AckOutcome,
    CommandKind,
    DeviceHealth,
    EventKind,
    ServiceState,
    Severity,
    SupplyLevel,
)

_REF = "#/components/schemas/"


def _values(enum_type: Any) -> list[str]:
    return [m.value for m in enum_type]


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_SCALARS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_VERSION = {"enum": sorted(READABLE_VERSIONS), "description": "the sender's wire version"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error"], error=_STR, reason=_STR, field=_STR),
    "Supply": _obj(
        ["name", "level"],
        name=_STR,
        level={"enum": _values(SupplyLevel)},
        remaining={"type": ["integer", "null"]},
    ),
    "DeviceStatus": _obj(
        ["device", "health"],
        device=_STR,
        health={"enum": _values(DeviceHealth)},
        reason=_STR,
        supplies={"type": "array", "items": {"$ref": _REF + "Supply"}},
    ),
    "AttentionItem": _obj(["ref", "state", "since"], ref=_STR, state=_STR, since=_NUM, reason=_STR),
    "CommandAck": _obj(
        ["command_id", "outcome"],
        command_id=_STR,
        outcome={"enum": _values(AckOutcome)},
        detail=_STR,
        at=_NUM,
    ),
    "ServiceOrder": _obj(
        ["state", "revision"], state={"enum": _values(ServiceState)}, revision=_INT
    ),
    "Heartbeat": _obj(
        ["kiosk_id", "seq", "sent_at", "interval_s"],
        wire_version=_VERSION,
        kiosk_id=_STR,
        seq=_INT,
        sent_at=_NUM,
        interval_s=_NUM,
        software_version=_STR,
        catalog_version=_STR,
        in_service=_BOOL,
        devices={"type": "array", "items": {"$ref": _REF + "DeviceStatus"}},
        counters={"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        attention={"type": "array", "items": {"$ref": _REF + "AttentionItem"}},
        acks={"type": "array", "items": {"$ref": _REF + "CommandAck"}},
        service_state={"enum": _values(ServiceState), "description": "v2: the order it holds"},
        service_revision={**_INT, "description": "v2: the service order's revision applied"},
        started_at={**_NUM, "description": "v2: when the kiosk process started"},
        boot_id={**_STR, "description": "v2: the machine's boot id"},
        restarts={"type": ["integer", "null"], "description": "v2: systemd's NRestarts"},
        items={
            "type": "array",
            "items": {"$ref": _REF + "ItemAvailability"},
            "description": "optional: the menu's items and whether each is offered now",
        },
        update={"$ref": _REF + "UpdateStatus", "description": "optional: software updates"},
    ),
    "Command": _obj(
        ["command_id", "kind", "issued_at"],
        command_id=_STR,
        kind={"enum": _values(CommandKind)},
        issued_at=_NUM,
        params=_SCALARS,
    ),
    "HeartbeatReply": _obj(
        ["server_time", "interval_s", "commands", "acked"],
        wire_version={**_VERSION, "description": "the version the kiosk spoke"},
        server_time=_NUM,
        interval_s=_NUM,
        commands={"type": "array", "items": {"$ref": _REF + "Command"}},
        acked={"type": "array", "items": _STR},
        service={"$ref": _REF + "ServiceOrder", "description": "v2: on every reply"},
    ),
    "Event": _obj(
        ["event_id", "kind", "at"],
        event_id=_STR,
        kind={"enum": _values(EventKind)},
        at=_NUM,
        severity={"enum": _values(Severity)},
        device=_STR,
        reason=_STR,
        detail=_SCALARS,
    ),
    "EventBatch": _obj(
        ["kiosk_id", "events"],
        wire_version=_VERSION,
        kiosk_id=_STR,
        events={"type": "array", "items": {"$ref": _REF + "Event"}},
    ),
    "Goodbye": _obj(["kiosk_id", "at"], wire_version=_INT, kiosk_id=_STR, at=_NUM, reason=_STR),
    "EnrollmentRequest": _obj(
        ["token", "kiosk_id", "public_key_pem", "site", "region"],
        wire_version=_VERSION,
        token=_STR,
        kiosk_id=_STR,
        public_key_pem={"type": "string", "description": "Ed25519 SubjectPublicKeyInfo PEM"},
        site=_STR,
        region=_STR,
    ),
    "Enrolled": _obj(
        ["kiosk_id", "key_id", "interval_s", "server_time"],
        wire_version=_INT,
        kiosk_id=_STR,
        key_id=_STR,
        interval_s=_NUM,
        server_time=_NUM,
        replaced_key_id={
            "type": "string",
            "description": "re-key only: the kiosk's previous key, which no longer verifies",
        },
    ),
    "SignIn": _obj(["username", "password"], username=_STR, password=_STR),
    "Operator": _obj(
        ["username", "role"], username=_STR, role={"enum": ["viewer", "operator", "admin"]}
    ),
    "NewUser": _obj(
        ["username", "password", "role"],
        username=_STR,
        password={"type": "string", "minLength": 10},
        role={"enum": ["viewer", "operator", "admin"]},
    ),
    "NewCommand": _obj(["kind"], kind={"enum": _values(CommandKind)}, params=_SCALARS),
    "BulkCommand": _obj(
        ["kind", "filter", "expect"],
        kind={"enum": _values(CommandKind)},
        params=_SCALARS,
        filter={"type": "object", "description": "the same filters as GET /kiosks"},
        expect={**_INT, "description": "how many kiosks the operator saw match"},
    ),
    "Tags": _obj(["tags"], tags={"type": "array", "items": _STR, "maxItems": 20}),
    "CommandStatus": {
        "enum": ["queued", "delivered", "acknowledged", "done", "failed"],
        "description": "done: the kiosk's state was seen to change",
    },
    "Kiosk": {
        "type": "object",
        "description": "A kiosk's last reported state with the server's judgement of it",
        "properties": {
            "kiosk_id": _STR,
            "site": _STR,
            "region": _STR,
            "connectivity": {"enum": ["online", "late", "offline"]},
            "state": {"enum": ["up", "degraded", "down", "offline"]},
            "problems": {"type": "array", "items": _STR},
            "last_seen": {"type": ["number", "null"]},
            "in_service": _BOOL,
            "devices": {"type": "array", "items": {"$ref": _REF + "DeviceStatus"}},
            "counters": {"type": "object"},
            "tags": {"type": "array", "items": _STR},
            "wanted_service": {"enum": _values(ServiceState)},
            "service_state": {"enum": _values(ServiceState)},
            "next_heartbeat_due": {"type": ["number", "null"]},
            "restarts": {"type": ["integer", "null"]},
            "update": {"anyOf": [{"$ref": _REF + "UpdateStatus"}, {"type": "null"}],
                       "description": "software updates, as the last heartbeat told them"},
        },
    },
}


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}


def _answer(description: str, schema: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": {"$ref": _REF + schema}}}
    return out


_REFUSED = {
    "400": _answer("does not follow the wire schema", "Error"),
    "401": _answer("unsigned, unknown key, forged, stale or replayed", "Error"),
    "403": _answer("signed by another kiosk's key", "Error"),
}
_KIOSK_SEC: list[dict[str, list[str]]] = [{"kioskSignature": []}]
_OP_SEC: list[dict[str, list[str]]] = [{"operatorSession": []}]
_KIOSK_ID = {"name": "kiosk_id", "in": "path", "required": True, "schema": _STR}
_USERNAME = {"name": "username", "in": "path", "required": True, "schema": _STR}
_FILTERS = ("search", "region", "site", "tag", "state", "software_version", "alert")


def _op(summary: str, tag: str, security: list[Any], responses: dict[str, Any], **more: Any):
    return {"summary": summary, "tags": [tag], "security": security, "responses": responses, **more}


PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": _op("This document", "meta", [], {"200": _answer("the OpenAPI document")})
    },
    "/api/v1/enroll": {
        "post": _op(
            "Register a kiosk's public key with a one-time token (signed by that key). A re-key"
            " token (kiosk-fleet create-token --rekey KIOSK_ID) instead replaces the key, site"
            " and region of that enrolled kiosk; its old key stops verifying (audited: rekey)",
            "kiosk",
            [],
            {
                "201": _answer("enrolled, or re-keyed", "Enrolled"),
                "403": _answer(
                    "token unknown, used or expired, or a re-key token for another kiosk", "Error"
                ),
                "409": _answer("kiosk id or key already enrolled", "Error"),
                "400": _REFUSED["400"],
                "401": _REFUSED["401"],
            },
            requestBody=_json_body("EnrollmentRequest"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/heartbeat": {
        "post": _op(
            "A kiosk's heartbeat; the reply carries queued commands and recorded acks",
            "kiosk",
            _KIOSK_SEC,
            {"200": _answer("recorded", "HeartbeatReply"), **_REFUSED},
            parameters=[_KIOSK_ID],
            requestBody=_json_body("Heartbeat"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/events": {
        "post": _op(
            "A batch of a kiosk's events (resends with the same event_id are ignored)",
            "kiosk",
            _KIOSK_SEC,
            {"200": _answer("recorded"), **_REFUSED},
            parameters=[_KIOSK_ID],
            requestBody=_json_body("EventBatch"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/goodbye": {
        "post": _op(
            "A clean shutdown: the kiosk is shown offline at once",
            "kiosk",
            _KIOSK_SEC,
            {"200": _answer("recorded"), **_REFUSED},
            parameters=[_KIOSK_ID],
            requestBody=_json_body("Goodbye"),
        )
    },
    "/api/v1/kiosks/{kiosk_id}/logs": {
        "post": _op(
            "Upload a (masked) log bundle for an upload_logs command",
            "kiosk",
            _KIOSK_SEC,
            {"201": _answer("stored"), "413": _answer("too large", "Error"), **_REFUSED},
            parameters=[
                _KIOSK_ID,
                {"name": "command_id", "in": "query", "required": False, "schema": _STR},
            ],
            requestBody={"content": {"text/plain": {"schema": _STR}}},
        )
    },
    "/api/v1/kiosks/{kiosk_id}/logs/{upload_id}": {
        "get": _op(
            "One uploaded log bundle (operator)",
            "operator",
            _OP_SEC,
            {"200": {"description": "the log text", "content": {"text/plain": {"schema": _STR}}}},
            parameters=[
                _KIOSK_ID,
                {"name": "upload_id", "in": "path", "required": True, "schema": _INT},
                {"name": "download", "in": "query", "schema": _STR},
            ],
        )
    },
    "/api/v1/kiosks/{kiosk_id}/tags": {
        "put": _op(
            "Replace a kiosk's tags (operator role; audited)",
            "operator",
            _OP_SEC,
            {"200": _answer("the tags"), "400": _answer("bad tags", "Error")},
            parameters=[_KIOSK_ID],
            requestBody=_json_body("Tags"),
        )
    },
    "/api/v1/commands/bulk": {
        "post": _op(
            "One command to every kiosk the filters match; each kiosk's result (operator)",
            "operator",
            _OP_SEC,
            {
                "201": _answer("queued, per kiosk"),
                "409": _answer("the match count changed since the operator looked", "Error"),
            },
            requestBody=_json_body("BulkCommand"),
        )
    },
    "/api/v1/commands/bulk/{bulk_id}": {
        "get": _op(
            "Each kiosk's command of one bulk send, with its status now",
            "operator",
            _OP_SEC,
            {"200": _answer("commands"), "404": _answer("no such bulk", "Error")},
            parameters=[{"name": "bulk_id", "in": "path", "required": True, "schema": _STR}],
        )
    },
    "/api/v1/session": {
        "post": _op(
            "Sign in; sets an HttpOnly SameSite=Strict session cookie",
            "operator",
            [],
            {
                "200": _answer("signed in", "Operator"),
                "401": _answer("bad credentials", "Error"),
                "403": _answer("cross-origin sign-in refused", "Error"),
                "429": _answer("throttled: address, user at this address, or slow down", "Error"),
            },
            requestBody=_json_body("SignIn"),
        ),
        "get": _op("Who is signed in", "operator", _OP_SEC, {"200": _answer("", "Operator")}),
        "delete": _op("Sign out", "operator", _OP_SEC, {"200": _answer("signed out")}),
    },
    "/api/v1/fleet": {
        "get": _op(
            "Counts of kiosks up, degraded, down and offline; the filters' values",
            "operator",
            _OP_SEC,
            {"200": _answer("summary")},
            parameters=[{"name": n, "in": "query", "schema": _STR} for n in _FILTERS],
        )
    },
    "/api/v1/kiosks": {
        "get": _op(
            "One page of kiosks with their state, searched and filtered; and how many match",
            "operator",
            _OP_SEC,
            {"200": _answer("kiosks"), "400": _answer("unknown state or alert kind", "Error")},
            parameters=[
                {"name": n, "in": "query", "schema": _STR} for n in (*_FILTERS, "limit", "offset")
            ],
        )
    },
    "/api/v1/kiosks/{kiosk_id}": {
        "get": _op(
            "One kiosk: devices, supplies, recent events, per-day counters, commands, alerts",
            "operator",
            _OP_SEC,
            {"200": _answer("detail"), "404": _answer("no such kiosk", "Error")},
            parameters=[_KIOSK_ID, {"name": "days", "in": "query", "schema": _INT}],
        )
    },
    "/api/v1/kiosks/{kiosk_id}/commands": {
        "get": _op(
            "Commands of a kiosk",
            "operator",
            _OP_SEC,
            {"200": _answer("commands")},
            parameters=[_KIOSK_ID],
        ),
        "post": _op(
            "Queue a remote command (operator role; audited)",
            "operator",
            _OP_SEC,
            {"201": _answer("queued", "Command"), "400": _answer("bad kind", "Error")},
            parameters=[_KIOSK_ID],
            requestBody=_json_body("NewCommand"),
        ),
    },
    "/api/v1/alerts": {
        "get": _op(
            "Open alerts (all=1: also cleared ones)",
            "operator",
            _OP_SEC,
            {"200": _answer("alerts")},
            parameters=[
                {"name": "all", "in": "query", "schema": _STR},
                {"name": "kiosk", "in": "query", "schema": _STR},
            ],
        )
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": _op(
            "Acknowledge an alert (operator role; audited)",
            "operator",
            _OP_SEC,
            {"200": _answer("acknowledged"), "404": _answer("no such open alert", "Error")},
            parameters=[{"name": "alert_id", "in": "path", "required": True, "schema": _INT}],
        )
    },
    "/api/v1/enrollment-tokens": {
        "post": _op(
            "Create a one-time enrollment token (admin; shown once)",
            "operator",
            _OP_SEC,
            {"201": _answer("the token and when it expires")},
        )
    },
    "/api/v1/audit": {
        "get": _op("The audit log (admin)", "operator", _OP_SEC, {"200": _answer("entries")})
    },
    "/api/v1/users": {
        "get": _op("Operator accounts (admin)", "operator", _OP_SEC, {"200": _answer("users")}),
        "post": _op(
            "Create an operator account (admin; audited)",
            "operator",
            _OP_SEC,
            {"201": _answer("created", "Operator"), "409": _answer("exists", "Error")},
            requestBody=_json_body("NewUser"),
        ),
    },
    **{
        f"/api/v1/users/{{username}}/{action}": {
            "post": _op(
                summary,
                "operator",
                _OP_SEC,
                {"200": _answer("done"), "404": _answer("no such user", "Error")},
                parameters=[_USERNAME],
            )
        }
        for action, summary in (
            ("password", "Set an operator's password; their sessions end (admin; audited)"),
            ("disable", "Disable an operator: sign-in refused, sessions ended (admin; audited)"),
            ("enable", "Enable a disabled operator (admin; audited)"),
        )
    },
    "/api/v1/users/{username}/lockout": {
        "delete": _op(
            "Lift an operator's sign-in throttling from every address (admin; audited)",
            "operator",
            _OP_SEC,
            {"200": _answer("unlocked")},
            parameters=[_USERNAME],
        )
    },
    "/api/v1/session/password": {
        "put": _op(
            "Change one's own password (current one required); other sessions end (audited)",
            "operator",
            _OP_SEC,
            {"200": _answer("changed"), "403": _answer("wrong current password", "Error")},
        )
    },
    **{
        f"/api/v1/kiosks/{{kiosk_id}}/{action}": {
            "post": _op(
                summary,
                "operator",
                _OP_SEC,
                {"200": _answer("done"), "404": _answer("no such kiosk", "Error")},
                parameters=[_KIOSK_ID],
            )
        }
        for action, summary in (
            ("revoke-key", "Revoke a kiosk's key on every server process (admin; audited)"),
            ("retire", "Retire a kiosk: key refused, alerts closed (admin; audited)"),
        )
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kiosk fleet server",
            "version": f"1.{WIRE_VERSION}",
            "description": (
                "Kiosk-facing API (enrollment, signed heartbeats, events, goodbyes, logs) and the "
                "operators' API behind the dashboard. Kiosk requests are signed with the kiosk's "
                "Ed25519 device key: see wire/fleet.py for the canonical string."
            ),
        },
        "paths": {**PATHS, **REPORT_PATHS, **CALL_PATHS, **ROLLOUT_PATHS, **AGENT_PATHS},
        "components": {
            "schemas": {**SCHEMAS, **REPORT_SCHEMAS, **CALL_SCHEMAS, **ROLLOUT_SCHEMAS},
            "securitySchemes": {
                "operatorSession": {"type": "apiKey", "in": "cookie", "name": "fleet_session"},
                "kioskSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": HEADER_SIGNATURE,
                    "description": (
                        f"Ed25519 signature; with {HEADER_KEY_ID}, {HEADER_TIMESTAMP}, "
                        f"{HEADER_NONCE} and {HEADER_DIGEST}"
                    ),
                },
            },
        },
    }
