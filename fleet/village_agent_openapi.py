"""The OpenAPI description of the village agents' routes (fleet.village_agent_api)."""

from __future__ import annotations

from fleet.openapi_blocks import KIOSK_ID, KIOSK_SEC, OP_SEC, STR, op, ref
from wire.agents import AgentCredential, AgentRefusal
from wire.fields import JsonObject

_ERROR = ref("Error")
_AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": STR}


def _json(schema: JsonObject) -> JsonObject:
    return {"content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: JsonObject | None = None) -> JsonObject:
    """A response whose schema is written inline (fleet.openapi_blocks.answer names one)."""
    return {"description": description, **(_json(schema) if schema else {})}


_SIGN_IN = {
    "type": "object",
    "required": ["kiosk_id", "credential"],
    "properties": {
        "kiosk_id": STR,
        "credential": {"enum": [c.value for c in AgentCredential]},
        "id_number": {**STR, "description": "the agent's own ID card (id_card_pin)"},
        "pin": {**STR, "pattern": "^[0-9]{6}$"},
        "code": {**STR, "description": "a dashboard sign-in code (sign_in_code)"},
    },
}
_REFUSAL = {**_ERROR, "description": f"error: one of {[r.value for r in AgentRefusal]}"}

AGENT_PATHS: JsonObject = {
    "/api/v1/village-agents": {
        "get": op("Village agents, with how many transactions each assisted (operator)",
                   "operator", OP_SEC, {"200": _answer("agents")}),
        "post": op(
            "Register a village agent: agent_id (VA-...), site, their ID number (kept as a keyed"
            " hash) and a 6-digit PIN (scrypt) (admin; audited)", "operator", OP_SEC,
            {"201": _answer("created"), "400": _answer("bad field", _ERROR),
             "409": _answer("agent id or ID card already registered", _ERROR)},
            requestBody={"required": True, **_json({"type": "object"})},
        ),
    },
    "/api/v1/village-agents/{agent_id}/disable": {
        "post": op("Disable a village agent (admin; audited)", "operator", OP_SEC,
                    {"200": _answer("disabled, or already")}, parameters=[_AGENT_ID]),
    },
    "/api/v1/village-agents/{agent_id}/sign-in-code": {
        "post": op("A one-time sign-in code (5 minutes) and its QR code as SVG (operator;"
                    " audited)", "operator", OP_SEC,
                    {"201": _answer("issued"), "404": _answer("no such enabled agent", _ERROR)},
                    parameters=[_AGENT_ID]),
    },
    "/api/v1/village-agents/{agent_id}/acts": {
        "get": op("The transactions an agent ran for citizens (operator)", "operator", OP_SEC,
                   {"200": _answer("acts")}, parameters=[_AGENT_ID]),
    },
    "/api/v1/kiosks/{kiosk_id}/agent-sign-in": {
        "post": op(
            "Is this a village agent of the kiosk's site? By ID card and PIN (five wrong PINs"
            " lock for 15 minutes) or by a sign-in code (audited)", "kiosk", KIOSK_SEC,
            {"200": _answer("signed in: agent_id, session_s"),
             "403": _answer("refused", _REFUSAL), "423": _answer("locked", _REFUSAL),
             "400": _answer("does not follow the wire schema", _ERROR),
             "401": _answer("unsigned, unknown key, forged, stale or replayed", _ERROR)},
            parameters=[KIOSK_ID], requestBody={"required": True, **_json(_SIGN_IN)},
        ),
    },
}
