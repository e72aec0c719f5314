"""The OpenAPI description of video help from the hall (fleet.signalling); fleet.openapi merges
it into its document. The two WebSockets carry wire.videocall's messages."""

from __future__ import annotations

from typing import Any

from fleet.openapi_blocks import BOOL, KIOSK_ID, KIOSK_SEC, OP_SEC, REF, STR, answer, op
from wire.fields import JsonObject
from wire.videocall import (
    AGENT_CALLS_PATH,
    CALL_POLICY_PATH,
    KIOSK_CALL_PATH,
    EndReason,
    MessageType,
)

CALL_SCHEMAS: JsonObject = {
    "CallPolicy": {"type": "object", "required": ["calls_allowed", "recording"],
                   "properties": {"calls_allowed": BOOL, "recording": BOOL,
                                  "site": STR}},
    "CallMessage": {
        "type": "object", "required": ["v", "type"],
        "description": "one WebSocket text frame (wire/videocall.py)",
        "properties": {
            "v": {"const": 1}, "type": {"enum": [m.value for m in MessageType]},
            "call_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "sdp": STR,
            "reason": {"description": f"on hangup: one of {[r.value for r in EndReason]}",
                       **STR},
            "item_code": STR, "agent": STR, "level": STR, "recording": BOOL,
            "seq": {"type": "integer", "description": "the relay's number of the message"},
            "tracks": {"type": "object"}, "items": {"type": "array"},
            "ice_servers": {"type": "array"}, "calls": {"type": "array"},
        },
    },
}


def _op(
    summary: str, security: list[dict[str, list[str]]], responses: JsonObject, **more: Any  # Any: more OpenAPI operation fields
) -> JsonObject:
    return op(summary, "video calls", security, responses, **more)


_UPGRADE = {"101": answer("WebSocket of CallMessage frames", "CallMessage")}

CALL_PATHS: JsonObject = {
    KIOSK_CALL_PATH: {"get": _op(
        "The kiosk's call socket (a signed GET upgrade): ring or resume, offer, hang up",
        KIOSK_SEC, {**_UPGRADE, "401": answer("not signed by an enrolled key"),
                 "403": answer("signed by another kiosk's key")},
        parameters=[KIOSK_ID])},
    CALL_POLICY_PATH: {"get": _op(
        "Whether the kiosk's site allows video calls, and records them", KIOSK_SEC,
        {"200": answer("the site's policy (no decision: no calls)", "CallPolicy"),
         "401": answer("not signed by an enrolled key")}, parameters=[KIOSK_ID])},
    AGENT_CALLS_PATH: {"get": _op(
        "The agent's socket: the ringing calls; take, answer, guide, propose, hang up",
        OP_SEC, {**_UPGRADE, "401": answer("not signed in"),
                    "403": answer("not an agent, or another origin")})},
    "/api/v1/call-policy": {"get": _op(
        "Every site's call policy (viewer)", OP_SEC,
        {"200": answer("{policies: [...]}")})},
    "/api/v1/call-policy/{site}": {"put": _op(
        "Set a site's call policy (admin; audited)", OP_SEC,
        {"200": answer("the policy set", "CallPolicy"), "400": answer("bad request")},
        parameters=[{"name": "site", "in": "path", "required": True, "schema": STR}],
        requestBody={"required": True, "content": {"application/json": {
            "schema": {"$ref": REF + "CallPolicy"}}}})},
    "/api/v1/calls/{call_id}/recording": {"post": _op(
        "The agent's page uploads a call's recording, where the site's policy records (agent)",
        OP_SEC, {"200": answer("stored under DATA/recordings"),
                    "403": answer("this site does not record"),
                    "404": answer("not this agent's call"), "413": answer("too large")},
        parameters=[{"name": "call_id", "in": "path", "required": True, "schema": STR}],
        requestBody={"required": True, "content": {"video/webm": {}}})},
}
