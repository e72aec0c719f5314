"""The OpenAPI description of the business reports (kiosk side) and the operators' reports API
(statistics, e-supervision, fleet health); fleet.openapi merges it into its document."""

from __future__ import annotations

from fleet.openapi_blocks import BOOL, INT, NUM, OP_SEC, REF, STR, obj, values
from wire.fields import JsonObject
from wire.reports import (
    READABLE_REPORT_VERSIONS,
    ApplicationStatus,
    DayUnit,
    TransactionOutcome,
)

REPORT_SCHEMAS: JsonObject = {
    "ItemAvailability": obj(["code", "available"], code=STR, available=BOOL, reason=STR),
    "TransactionSummary": obj(
        ["tx_id", "item_code", "outcome", "revision", "started_at", "ended_at"],
        tx_id={**STR, "description": "the journal's random transaction id"},
        item_code=STR,
        outcome={"enum": values(TransactionOutcome)},
        revision={**INT, "minimum": 1, "description": "rises with each change; highest kept"},
        started_at=NUM,
        ended_at=NUM,
        amount_fen={**INT, "description": "taken from the citizen (0: nothing paid)"},
        refunded_fen={**INT, "description": "given back; never more than taken"},
        agent_assisted=BOOL,
        time_limit_days={**INT, "description": "promised time limit; 0: done on the spot"},
        time_limit_unit={"enum": values(DayUnit)},
        submitted_at={"type": ["number", "null"], "description": "reached the backend"},
        item_name=STR,
        reason=STR,
    ),
    "EvaluationReport": obj(
        ["evaluation_id", "item_code", "level", "rated_at"],
        evaluation_id=STR,
        item_code=STR,
        level={**INT, "minimum": 1, "maximum": 5},
        rated_at=NUM,
        tx_id=STR,
        tags={"type": "array", "items": STR, "maxItems": 8},
        agent_assisted=BOOL,
    ),
    "ApplicationUpdate": obj(
        ["tx_id", "status", "at", "revision"],
        tx_id=STR,
        status={"enum": values(ApplicationStatus)},
        at=NUM,
        revision=INT,
    ),
    "ReportBatch": obj(
        ["kiosk_id"],
        wire_version=INT,
        report_version={"enum": sorted(READABLE_REPORT_VERSIONS)},
        kiosk_id=STR,
        transactions={"type": "array", "items": {"$ref": REF + "TransactionSummary"}},
        evaluations={"type": "array", "items": {"$ref": REF + "EvaluationReport"}},
        applications={"type": "array", "items": {"$ref": REF + "ApplicationUpdate"}},
    ),
}

def _q(*names: str) -> list[JsonObject]:
    return [{"name": n, "in": "query", "schema": STR} for n in names]


def _get(summary: str, *params: str, content: str = "application/json") -> JsonObject:
    return {
        "get": {
            "summary": summary,
            "tags": ["reports"],
            "security": OP_SEC,
            "parameters": _q(*params),
            "responses": {
                "200": {"description": "figures", "content": {content: {}}},
                "400": {"description": "a parameter the server cannot read (named in reason)"},
            },
        }
    }


_STATS = ("grain", "from", "to", "group", "region", "site", "kiosk", "item")

REPORT_PATHS: JsonObject = {
    "/api/v1/kiosks/{kiosk_id}/reports": {
        "post": {
            "summary": "A kiosk's transaction summaries, evaluations and application decisions;"
            " each counted once per id (highest revision kept)",
            "tags": ["kiosk"],
            "security": [{"kioskSignature": []}],
            "parameters": [{"name": "kiosk_id", "in": "path", "required": True, "schema": STR}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF + "ReportBatch"}}},
            },
            "responses": {
                "200": {"description": "new, updated and duplicate counts"},
                "400": {"description": "does not follow the wire schema"},
                "401": {"description": "unsigned, unknown key, forged, stale or replayed"},
                "403": {"description": "signed by another kiosk's key"},
            },
        }
    },
    "/api/v1/statistics": _get(
        "Transactions, yuan, success rate, refunds, satisfaction and agent-assisted share per"
        " item, kiosk, site, region or period (grain day or month)",
        *_STATS,
    ),
    "/api/v1/statistics.csv": _get("The same figures as CSV", *_STATS, content="text/csv"),
    "/api/v1/supervision": _get(
        "E-supervision lights of applications with a promised time limit, submitted from..to,"
        " as at a date (look-ahead)",
        "from",
        "to",
        "at",
        "region",
        "site",
        "item",
    ),
    "/api/v1/health/availability": _get(
        "Minutes in service over minutes open, per kiosk and per item",
        "from",
        "to",
        "region",
        "site",
    ),
    "/api/v1/health/repairs": _get(
        "Mean time to repair per device kind, and faults open now", "from", "to", "region", "site"
    ),
    "/api/v1/health/supplies": _get(
        "Supplies: what is left (reported or estimated), today's rate, hours left", "region", "site"
    ),
}
