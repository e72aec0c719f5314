"""The building blocks every part of the fleet's OpenAPI document is written with: JSON Schema
types, references, answers, operations and the two security schemes (fleet.openapi)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from wire.fields import JsonObject

# An OpenAPI fragment is JSON: its values are any JSON value, nested as the document needs, so
# its type is JsonObject throughout (JSON has no narrower type mypy can check usefully).
Json = JsonObject

REF = "#/components/schemas/"
STR: Json = {"type": "string"}
NUM: Json = {"type": "number"}
INT: Json = {"type": "integer"}
BOOL: Json = {"type": "boolean"}
KIOSK_SEC: list[dict[str, list[str]]] = [{"kioskSignature": []}]
OP_SEC: list[dict[str, list[str]]] = [{"operatorSession": []}]
KIOSK_ID: Json = {"name": "kiosk_id", "in": "path", "required": True, "schema": STR}


def values(enum_type: Iterable[enum.Enum]) -> list[str]:
    """An enum's wire values, for a schema's `enum`."""
    return [str(m.value) for m in enum_type]


def obj(required: list[str], **props: Any) -> Json:  # Any: OpenAPI property schemas
    """An object schema with its required and described properties."""
    return {"type": "object", "required": required, "properties": props}


def ref(schema: str) -> Json:
    return {"$ref": REF + schema}


def json_body(schema: str) -> Json:
    """A required JSON request body of a named schema."""
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def answer(description: str, schema: str | None = None) -> Json:
    """A response, with a JSON body of a named schema when it has one."""
    out: Json = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": ref(schema)}}
    return out


def op(
    summary: str, tag: str, security: list[dict[str, list[str]]], responses: Json, **more: Any  # Any: more OpenAPI operation fields
) -> Json:
    """One operation: what it does, its group, who may call it, what it answers."""
    return {"summary": summary, "tags": [tag], "security": security, "responses": responses, **more}
