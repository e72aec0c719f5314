"""The OpenAPI description of the village agents' routes (fleet.village_agent_api)."""

from __future__ import annotations

from typing import Any

from wire.agents import AgentCredential, AgentRefusal

_ERROR = {"$ref": "#/components/schemas/Error"}
_AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
_KIOSK_ID = {"name": "kiosk_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OP_SEC = [{"operatorSession": []}]
_KIOSK_SEC = [{"kioskSignature": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, **(_json(schema) if schema else {})}


def _op(summary: str, tag: str, security: list[Any], responses: dict[str, Any], **more: Any):
    return {"summary": summary, "tags": [tag], "security": security, "responses": responses, **more}


_STR = {"type": "string"}
_SIGN_IN = {
    "type": "object",
    "required": ["kiosk_id", "credential"],
    "properties": {
        "kiosk_id": _STR,
        "credential": {"enum": [c.value for c in AgentCredential]},
        "id_number": {**_STR, "description": "the agent's own ID card (id_card_pin)"},
        "pin": {**_STR, "pattern": "^[0-9]{6}$"},
        "code": {**_STR, "description": "a dashboard sign-in code (sign_in_code)"},
    },
}
_REFUSAL = {**_ERROR, "description": f"error: one of {[r.value for r in AgentRefusal]}"}

AGENT_PATHS: dict[str, Any] = {
    "/api/v1/village-agents": {
        "get": _op("Village agents, with how many transactions each assisted (operator)",
                   "operator", _OP_SEC, {"200": _answer("agents")}),
        "post": _op(
            "Register a village agent: agent_id (VA-...), site, their ID number (kept as a keyed"
            " hash) and a 6-digit PIN (scrypt) (admin; audited)", "operator", _OP_SEC,
            {"201": _answer("created"), "400": _answer("bad field", _ERROR),
             "409": _answer("agent id or ID card already registered", _ERROR)},
            requestBody={"required": True, **_json({"type": "object"})},
        ),
    },
    "/api/v1/village-agents/{agent_id}/disable": {
        "post": _op("Disable a village agent (admin; audited)", "operator", _OP_SEC,
                    {"200": _answer("disabled, or already")}, parameters=[_AGENT_ID]),
    },
    "/api/v1/village-agents/{agent_id}/sign-in-code": {
        "post": _op("A one-time sign-in code (5 minutes) and its QR code as SVG (operator;"
                    " audited)", "operator", _OP_SEC,
                    {"201": _answer("issued"), "404": _answer("no such enabled agent", _ERROR)},
                    parameters=[_AGENT_ID]),
    },
    "/api/v1/village-agents/{agent_id}/acts": {
        "get": _op("The transactions an agent ran for citizens (operator)", "operator", _OP_SEC,
                   {"200": _answer("acts")}, parameters=[_AGENT_ID]),
    },
    "/api/v1/kiosks/{kiosk_id}/agent-sign-in": {
        "post": _op(
            "Is this a village agent of the kiosk's site? By ID card and PIN (five wrong PINs"
            " lock for 15 minutes) or by a sign-in code (audited)", "kiosk", _KIOSK_SEC,
            {"200": _answer("signed in: agent_id, session_s"),
             "403": _answer("refused", _REFUSAL), "423": _answer("locked", _REFUSAL),
             "400": _answer("does not follow the wire schema", _ERROR),
             "401": _answer("unsigned, unknown key, forged, stale or replayed", _ERROR)},
            parameters=[_KIOSK_ID], requestBody={"required": True, **_json(_SIGN_IN)},
        ),
    },
}
