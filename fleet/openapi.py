"""The OpenAPI 3.1 document of the fleet server's `/api/v1/`, served at /api/v1/openapi.json:
the parts each API's module describes, merged."""

from __future__ import annotations

from fleet.call_openapi import CALL_PATHS, CALL_SCHEMAS
from fleet.kiosk_openapi import KIOSK_PATHS, KIOSK_SCHEMAS
from fleet.operator_openapi import OPERATOR_PATHS, OPERATOR_SCHEMAS
from fleet.report_openapi import REPORT_PATHS, REPORT_SCHEMAS
from fleet.rollout_openapi import ROLLOUT_PATHS, ROLLOUT_SCHEMAS
from fleet.village_agent_openapi import AGENT_PATHS
from wire.fields import JsonObject
from wire.fleet import (
    HEADER_DIGEST,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WIRE_VERSION,
)


def openapi_document() -> JsonObject:
    """The whole document: every API module's paths and schemas, and the security schemes."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kiosk fleet server",
            "version": f"1.{WIRE_VERSION}",
            "description": (
                "Kiosk-facing API (enrollment, signed heartbeats, events, goodbyes, logs) and the "
                "operators' API behind the dashboard. Kiosk requests are signed with the kiosk's "
                "Ed25519 device key: see wire/signing.py for the canonical string."
            ),
        },
        "paths": {
            **KIOSK_PATHS, **OPERATOR_PATHS, **REPORT_PATHS, **CALL_PATHS, **ROLLOUT_PATHS,
            **AGENT_PATHS,
        },
        "components": {
            "schemas": {
                **KIOSK_SCHEMAS, **OPERATOR_SCHEMAS, **REPORT_SCHEMAS, **CALL_SCHEMAS,
                **ROLLOUT_SCHEMAS,
            },
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
