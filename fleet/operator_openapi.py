"""The OpenAPI description of the operators' API behind the dashboard: sign-in, the fleet's
kiosks, commands, alerts, users and audit; fleet.openapi merges it into its document."""

from __future__ import annotations

from fleet.openapi_blocks import (
    BOOL,
    INT,
    KIOSK_ID,
    OP_SEC,
    REF,
    STR,
    answer,
    json_body,
    obj,
    op,
    values,
)
from wire.fields import JsonObject
from wire.fleet import CommandKind, ServiceState

_SCALARS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_USERNAME = {"name": "username", "in": "path", "required": True, "schema": STR}
_FILTERS = ("search", "region", "site", "tag", "state", "software_version", "alert")

OPERATOR_SCHEMAS: JsonObject = {
    "SignIn": obj(["username", "password"], username=STR, password=STR),
    "Operator": obj(
        ["username", "role"], username=STR, role={"enum": ["viewer", "operator", "admin"]}
    ),
    "NewUser": obj(
        ["username", "password", "role"],
        username=STR,
        password={"type": "string", "minLength": 10},
        role={"enum": ["viewer", "operator", "admin"]},
    ),
    "NewCommand": obj(["kind"], kind={"enum": values(CommandKind)}, params=_SCALARS),
    "BulkCommand": obj(
        ["kind", "filter", "expect"],
        kind={"enum": values(CommandKind)},
        params=_SCALARS,
        filter={"type": "object", "description": "the same filters as GET /kiosks"},
        expect={**INT, "description": "how many kiosks the operator saw match"},
    ),
    "Tags": obj(["tags"], tags={"type": "array", "items": STR, "maxItems": 20}),
    "CommandStatus": {
        "enum": ["queued", "delivered", "acknowledged", "done", "failed"],
        "description": "done: the kiosk's state was seen to change",
    },
    "Kiosk": {
        "type": "object",
        "description": "A kiosk's last reported state with the server's judgement of it",
        "properties": {
            "kiosk_id": STR,
            "site": STR,
            "region": STR,
            "connectivity": {"enum": ["online", "late", "offline"]},
            "state": {"enum": ["up", "degraded", "down", "offline"]},
            "problems": {"type": "array", "items": STR},
            "last_seen": {"type": ["number", "null"]},
            "in_service": BOOL,
            "devices": {"type": "array", "items": {"$ref": REF + "DeviceStatus"}},
            "counters": {"type": "object"},
            "tags": {"type": "array", "items": STR},
            "wanted_service": {"enum": values(ServiceState)},
            "service_state": {"enum": values(ServiceState)},
            "next_heartbeat_due": {"type": ["number", "null"]},
            "restarts": {"type": ["integer", "null"]},
            "update": {"anyOf": [{"$ref": REF + "UpdateStatus"}, {"type": "null"}],
                       "description": "software updates, as the last heartbeat told them"},
        },
    },
}


OPERATOR_PATHS: JsonObject = {
    "/api/v1/kiosks/{kiosk_id}/logs/{upload_id}": {
        "get": op(
            "One uploaded log bundle (operator)",
            "operator",
            OP_SEC,
            {"200": {"description": "the log text", "content": {"text/plain": {"schema": STR}}}},
            parameters=[
                KIOSK_ID,
                {"name": "upload_id", "in": "path", "required": True, "schema": INT},
                {"name": "download", "in": "query", "schema": STR},
            ],
        )
    },
    "/api/v1/kiosks/{kiosk_id}/tags": {
        "put": op(
            "Replace a kiosk's tags (operator role; audited)",
            "operator",
            OP_SEC,
            {"200": answer("the tags"), "400": answer("bad tags", "Error")},
            parameters=[KIOSK_ID],
            requestBody=json_body("Tags"),
        )
    },
    "/api/v1/commands/bulk": {
        "post": op(
            "One command to every kiosk the filters match; each kiosk's result (operator)",
            "operator",
            OP_SEC,
            {
                "201": answer("queued, per kiosk"),
                "409": answer("the match count changed since the operator looked", "Error"),
            },
            requestBody=json_body("BulkCommand"),
        )
    },
    "/api/v1/commands/bulk/{bulk_id}": {
        "get": op(
            "Each kiosk's command of one bulk send, with its status now",
            "operator",
            OP_SEC,
            {"200": answer("commands"), "404": answer("no such bulk", "Error")},
            parameters=[{"name": "bulk_id", "in": "path", "required": True, "schema": STR}],
        )
    },
    "/api/v1/session": {
        "post": op(
            "Sign in; sets an HttpOnly SameSite=Strict session cookie",
            "operator",
            [],
            {
                "200": answer("signed in", "Operator"),
                "401": answer("bad credentials", "Error"),
                "403": answer("cross-origin sign-in refused", "Error"),
                "429": answer("throttled: address, user at this address, or slow down", "Error"),
            },
            requestBody=json_body("SignIn"),
        ),
        "get": op("Who is signed in", "operator", OP_SEC, {"200": answer("", "Operator")}),
        "delete": op("Sign out", "operator", OP_SEC, {"200": answer("signed out")}),
    },
    "/api/v1/fleet": {
        "get": op(
            "Counts of kiosks up, degraded, down and offline; the filters' values",
            "operator",
            OP_SEC,
            {"200": answer("summary")},
            parameters=[{"name": n, "in": "query", "schema": STR} for n in _FILTERS],
        )
    },
    "/api/v1/kiosks": {
        "get": op(
            "One page of kiosks with their state, searched and filtered; and how many match",
            "operator",
            OP_SEC,
            {"200": answer("kiosks"), "400": answer("unknown state or alert kind", "Error")},
            parameters=[
                {"name": n, "in": "query", "schema": STR} for n in (*_FILTERS, "limit", "offset")
            ],
        )
    },
    "/api/v1/kiosks/{kiosk_id}": {
        "get": op(
            "One kiosk: devices, supplies, recent events, per-day counters, commands, alerts",
            "operator",
            OP_SEC,
            {"200": answer("detail"), "404": answer("no such kiosk", "Error")},
            parameters=[KIOSK_ID, {"name": "days", "in": "query", "schema": INT}],
        )
    },
    "/api/v1/kiosks/{kiosk_id}/commands": {
        "get": op(
            "Commands of a kiosk",
            "operator",
            OP_SEC,
            {"200": answer("commands")},
            parameters=[KIOSK_ID],
        ),
        "post": op(
            "Queue a remote command (operator role; audited)",
            "operator",
            OP_SEC,
            {"201": answer("queued", "Command"), "400": answer("bad kind", "Error")},
            parameters=[KIOSK_ID],
            requestBody=json_body("NewCommand"),
        ),
    },
    "/api/v1/alerts": {
        "get": op(
            "Open alerts (all=1: also cleared ones)",
            "operator",
            OP_SEC,
            {"200": answer("alerts")},
            parameters=[
                {"name": "all", "in": "query", "schema": STR},
                {"name": "kiosk", "in": "query", "schema": STR},
            ],
        )
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": op(
            "Acknowledge an alert (operator role; audited)",
            "operator",
            OP_SEC,
            {"200": answer("acknowledged"), "404": answer("no such open alert", "Error")},
            parameters=[{"name": "alert_id", "in": "path", "required": True, "schema": INT}],
        )
    },
    "/api/v1/enrollment-tokens": {
        "post": op(
            "Create a one-time enrollment token (admin; shown once)",
            "operator",
            OP_SEC,
            {"201": answer("the token and when it expires")},
        )
    },
    "/api/v1/audit": {
        "get": op("The audit log (admin)", "operator", OP_SEC, {"200": answer("entries")})
    },
    "/api/v1/users": {
        "get": op("Operator accounts (admin)", "operator", OP_SEC, {"200": answer("users")}),
        "post": op(
            "Create an operator account (admin; audited)",
            "operator",
            OP_SEC,
            {"201": answer("created", "Operator"), "409": answer("exists", "Error")},
            requestBody=json_body("NewUser"),
        ),
    },
    **{
        f"/api/v1/users/{{username}}/{action}": {
            "post": op(
                summary,
                "operator",
                OP_SEC,
                {"200": answer("done"), "404": answer("no such user", "Error")},
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
        "delete": op(
            "Lift an operator's sign-in throttling from every address (admin; audited)",
            "operator",
            OP_SEC,
            {"200": answer("unlocked")},
            parameters=[_USERNAME],
        )
    },
    "/api/v1/session/password": {
        "put": op(
            "Change one's own password (current one required); other sessions end (audited)",
            "operator",
            OP_SEC,
            {"200": answer("changed"), "403": answer("wrong current password", "Error")},
        )
    },
    **{
        f"/api/v1/kiosks/{{kiosk_id}}/{action}": {
            "post": op(
                summary,
                "operator",
                OP_SEC,
                {"200": answer("done"), "404": answer("no such kiosk", "Error")},
                parameters=[KIOSK_ID],
            )
        }
        for action, summary in (
            ("revoke-key", "Revoke a kiosk's key on every server process (admin; audited)"),
            ("retire", "Retire a kiosk: key refused, alerts closed (admin; audited)"),
        )
    },
}
