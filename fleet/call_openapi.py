"""The OpenAPI description of video help from the hall (fleet.signalling); fleet.openapi merges
it into its document. The two WebSockets carry wire.videocall's messages."""

from __future__ import annotations

from typing import Any

from wire.videocall import (
    AGENT_CALLS_PATH,
    CALL_POLICY_PATH,
    KIOSK_CALL_PATH,
    EndReason,
    MessageType,
)

_REF = "#/components/schemas/"
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_KIOSK = [{"kioskSignature": []}]
_OPERATOR = [{"operatorSession": []}]
_KIOSK_ID = {"name": "kiosk_id", "in": "path", "required": True, "schema": _STR}


def _answer(description: str, schema: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": {"$ref": _REF + schema}}}
    return out


def _op(summary: str, security: list[Any], responses: dict[str, Any], **more: Any):
    return {"summary": summary, "tags": ["video calls"], "security": security,
            "responses": responses, **more}


CALL_SCHEMAS: dict[str, Any] = {
    "CallPolicy": {"type": "object", "required": ["calls_allowed", "recording"],
                   "properties": {"calls_allowed": _BOOL, "recording": _BOOL,
                                  "site": _STR}},
    "CallMessage": {
        "type": "object", "required": ["v", "type"],
        "description": "one WebSocket text frame (wire/videocall.py)",
        "properties": {
            "v": {"const": 1}, "type": {"enum": [m.value for m in MessageType]},
            "call_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "sdp": _STR,
            "reason": {"description": f"on hangup: one of {[r.value for r in EndReason]}",
                       **_STR},
            "item_code": _STR, "agent": _STR, "level": _STR, "recording": _BOOL,
            "seq": {"type": "integer", "description": "the relay's number of the message"},
            "tracks": {"type": "object"}, "items": {"type": "array"},
            "ice_servers": {"type": "array"}, "calls": {"type": "array"},
        },
    },
}
_UPGRADE = {"101": _answer("WebSocket of CallMessage frames", "CallMessage")}

CALL_PATHS: dict[str, Any] = {
    KIOSK_CALL_PATH: {"get": _op(
        "The kiosk's call socket (a signed GET upgrade): ring or resume, offer, hang up",
        _KIOSK, {**_UPGRADE, "401": _answer("not signed by an enrolled key"),
                 "403": _answer("signed by another kiosk's key")},
        parameters=[_KIOSK_ID])},
    CALL_POLICY_PATH: {"get": _op(
        "Whether the kiosk's site allows video calls, and records them", _KIOSK,
        {"200": _answer("the site's policy (no decision: no calls)", "CallPolicy"),
         "401": _answer("not signed by an enrolled key")}, parameters=[_KIOSK_ID])},
    AGENT_CALLS_PATH: {"get": _op(
        "The agent's socket: the ringing calls; take, answer, guide, propose, hang up",
        _OPERATOR, {**_UPGRADE, "401": _answer("not signed in"),
                    "403": _answer("not an agent, or another origin")})},
    "/api/v1/call-policy": {"get": _op(
        "Every site's call policy (viewer)", _OPERATOR,
        {"200": _answer("{policies: [...]}")})},
    "/api/v1/call-policy/{site}": {"put": _op(
        "Set a site's call policy (admin; audited)", _OPERATOR,
        {"200": _answer("the policy set", "CallPolicy"), "400": _answer("bad request")},
        parameters=[{"name": "site", "in": "path", "required": True, "schema": _STR}],
        requestBody={"required": True, "content": {"application/json": {
            "schema": {"$ref": _REF + "CallPolicy"}}}})},
    "/api/v1/calls/{call_id}/recording": {"post": _op(
        "The agent's page uploads a call's recording, where the site's policy records (agent)",
        _OPERATOR, {"200": _answer("stored under DATA/recordings"),
                    "403": _answer("this site does not record"),
                    "404": _answer("not this agent's call"), "413": _answer("too large")},
        parameters=[{"name": "call_id", "in": "path", "required": True, "schema": _STR}],
        requestBody={"required": True, "content": {"video/webm": {}}})},
}
