"""The service catalog: a published catalog parsed into items (kiosk.catalog_model) and
validated; kiosk.catalog_cache keeps the last good one on disk.

A catalog that is malformed, of an unknown schema version, or names a step the kiosk does not
know never replaces the last good one; the refusal is reported with a reason. Version 2 is the
published standard item form (办事指南); a version-1 catalog is still accepted and migrated to
version 2 in memory (kiosk.catalog_migration), so one parser reads both.
"""

from __future__ import annotations

import json
from enum import StrEnum
from importlib import resources

import jsonschema_rs

from kiosk.catalog_migration import SCHEMA_V1, SCHEMA_VERSION, migrate_v1
from kiosk.catalog_model import (
    Catalog,
    DayUnit,
    Delivery,
    Department,
    Fee,
    LegalBasis,
    Material,
    MaterialForm,
    PowerType,
    ProcedureStage,
    ServiceItem,
    StepSpec,
    Text,
    TimeLimit,
)
from kiosk.json_object import JsonObject, JsonValue
from kiosk.step_params import ParamsError, StepLibrary

# The catalog's model and schema versions are named here too: what reads a catalog imports it
# from kiosk.catalog, where it is made.
__all__ = [
    "SCHEMA_V1", "SCHEMA_VERSION", "Catalog", "CatalogError", "CatalogReason", "DayUnit",
    "Delivery", "Department", "Fee", "LegalBasis", "Material", "MaterialForm", "PowerType",
    "ProcedureStage", "ServiceItem", "StepSpec", "Text", "TimeLimit", "migrate_v1",
    "parse_catalog",
]


class CatalogReason(StrEnum):
    MALFORMED = "catalog_malformed"  # not JSON, or not the schema's shape
    UNKNOWN_SCHEMA = "catalog_unknown_schema"
    UNKNOWN_STEP = "catalog_unknown_step"
    BAD_STEP_PARAMS = "catalog_bad_step_params"  # a step's params do not fit its declaration
    UNPAID_SUBMISSION = "catalog_unpaid_submission"  # a priced item submits before it pays
    UNREACHABLE = "catalog_unreachable"


class CatalogError(Exception):
    def __init__(self, reason: CatalogReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def _schema(name: str) -> JsonObject:
    schema: JsonObject = json.loads(
        resources.files("kiosk").joinpath(f"schemas/{name}").read_text())
    return schema


# jsonschema-rs rather than the pure-Python validator: a province's 3,000-item catalog validates
# in about 20 ms instead of 3.6 s (bench.menu reports the whole load).
_VALIDATORS = {
    SCHEMA_V1: jsonschema_rs.Draft202012Validator(_schema("catalog-1.json")),
    SCHEMA_VERSION: jsonschema_rs.Draft202012Validator(_schema("catalog-2.json")),
}

def _validate(data: JsonValue, schema: str) -> None:
    try:
        error = next(iter(_VALIDATORS[schema].iter_errors(data)), None)
    except (ValueError, OverflowError) as exc:  # e.g. an integer wider than 64 bits
        raise CatalogError(CatalogReason.MALFORMED, f"unvalidatable value: {exc}"[:120]) from exc
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path)
        raise CatalogError(CatalogReason.MALFORMED, f"{where}: {error.message[:120]}")


def _sets_a_price(spec: StepSpec) -> bool:
    """The steps that quote an amount: the citizen confirms a bill, or picks a priced option."""
    return spec.step == "confirm_amount" or (spec.step == "choose_option" and "fee" in spec.raw)


def _check_money_order(code: str, fee_kind: str, steps: tuple[StepSpec, ...]) -> None:
    """A priced item quotes, then pays, then submits: never a side effect before the money.
    An item without steps is a guide only (done at the counter): nothing runs, nothing to check."""
    if not steps:
        return
    quotes = [i for i, s in enumerate(steps) if _sets_a_price(s)]
    pays = [i for i, s in enumerate(steps) if s.step == "pay"]
    submits = [i for i, s in enumerate(steps) if s.step == "submit"]
    if fee_kind == "free":
        if quotes:
            raise CatalogError(CatalogReason.UNPAID_SUBMISSION, f"{code}: free, but priced")
        return
    if not quotes or not pays:
        raise CatalogError(CatalogReason.UNPAID_SUBMISSION, f"{code}: priced, but never paid")
    if max(quotes) > pays[0] or any(s < pays[0] for s in submits):
        raise CatalogError(CatalogReason.UNPAID_SUBMISSION, f"{code}: submits before it pays")


def parse_catalog(raw: bytes | str, library: StepLibrary) -> Catalog:
    """Validates and converts a published catalog; raises CatalogError with the reason. Every
    step must be in `library` (kiosk.step_library) and its params fit the step's declaration."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(CatalogReason.MALFORMED, "not JSON") from exc
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or schema not in _VALIDATORS:
        if schema is not None:
            raise CatalogError(CatalogReason.UNKNOWN_SCHEMA, str(schema)[:40])
        schema = SCHEMA_VERSION  # the schema's own `required` refuses it with the reason
    _validate(data, schema)
    if schema == SCHEMA_V1:
        data = migrate_v1(data)
        _validate(data, SCHEMA_VERSION)
    items = []
    codes = set()
    for raw_item in data["items"]:
        if raw_item["code"] in codes:
            raise CatalogError(CatalogReason.MALFORMED, f"duplicate code {raw_item['code']}")
        codes.add(raw_item["code"])
        items.append(_item(raw_item, library))
    return Catalog(data["version"], tuple(items))


def _steps(raw_item: JsonObject, library: StepLibrary) -> tuple[StepSpec, ...]:
    """The item's steps, each known to the library, its params made the step's own type."""
    steps = []
    for number, s in enumerate(raw_item.get("steps", ()), start=1):
        definition = library.get(s["step"])
        if definition is None:
            raise CatalogError(CatalogReason.UNKNOWN_STEP, f"{raw_item['code']}: {s['step']}")
        raw = s.get("params", {})
        try:
            params = definition.parse(raw, f"{raw_item['code']} step {number} {s['step']}")
        except ParamsError as exc:
            raise CatalogError(CatalogReason.BAD_STEP_PARAMS, str(exc)) from None
        steps.append(StepSpec(s["step"], params, s.get("timeout_s"), raw))
    return tuple(steps)


def _item(raw_item: JsonObject, library: StepLibrary) -> ServiceItem:
    steps = _steps(raw_item, library)
    _check_money_order(raw_item["code"], raw_item["fee"]["kind"], steps)
    devices = raw_item.get("devices", {})
    fee = raw_item["fee"]
    limit = raw_item["time_limit"]
    online = raw_item["online_application"]
    return ServiceItem(
        code=raw_item["code"],
        service=raw_item["service"],
        name=raw_item["name"],
        summary=raw_item.get("summary", {"zh": ""}),
        keywords=tuple(raw_item.get("keywords", ())),
        department=Department(raw_item["department"]["code"], raw_item["department"]["name"]),
        legal_basis=tuple(LegalBasis(b["title"], b.get("clause", ""))
                          for b in raw_item["legal_basis"]),
        power_type=PowerType(raw_item["power_type"]),
        handling_level=raw_item["handling_level"],
        target_groups=tuple(raw_item["target_groups"]),
        life_events=tuple(raw_item.get("life_events", ())),
        conditions=tuple(raw_item["conditions"]),
        materials=tuple(
            Material(m["name"], m["required"], MaterialForm(m.get("form", "original")),
                     m.get("copies", 1), m.get("sample", ""), m.get("notes"))
            for m in raw_item["materials"]
        ),
        procedure=tuple(ProcedureStage(p["title"], p.get("actor", "department"), p.get("detail"))
                        for p in raw_item["procedure"]),
        time_limit=TimeLimit(limit["promised"], limit["statutory"], DayUnit(limit["unit"])),
        fee=Fee(fee["kind"], fee.get("amount_fen"), fee.get("standard"), fee.get("basis", "")),
        delivery=tuple(Delivery(d) for d in raw_item["delivery"]),
        visits=raw_item["visits"],
        venue=raw_item.get("venue"),
        contact_phone=raw_item["contact_phone"],
        supervision_phone=raw_item["supervision_phone"],
        online_application=online["available"],
        online_application_url=online.get("url", ""),
        guide_url=raw_item.get("guide_url", ""),
        popularity=raw_item.get("popularity", 0),
        sms=raw_item.get("sms", False),
        elder_first=raw_item.get("elder_first", False),
        offline_capable=raw_item.get("offline_capable", False),
        in_person_only=raw_item.get("in_person_only", False),
        steps=steps,
        languages=tuple(raw_item["languages"]),
        # A guide-only item needs nothing: its guide comes from the cached catalog.
        online=raw_item.get("online", bool(steps)),
        required_devices=frozenset(devices.get("required", ())),
        optional_devices=frozenset(devices.get("optional", ())),
    )
