"""The service catalog: items in the standard published form, validated, cached on disk.

A catalog that is malformed, of an unknown schema version, or names a step the kiosk does not
know never replaces the last good one; the refusal is reported with a reason. Version 2 is the
published standard item form (办事指南); a version-1 catalog is still accepted and migrated to
version 2 in memory (`migrate_v1`), so one parser reads both.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from kiosk.backends import CatalogValidators
from kiosk.json_object import JsonObject

log = logging.getLogger(__name__)

SCHEMA_V1 = "kiosk-catalog/1"
SCHEMA_VERSION = "kiosk-catalog/2"


class CatalogReason(StrEnum):
    MALFORMED = "catalog_malformed"  # not JSON, or not the schema's shape
    UNKNOWN_SCHEMA = "catalog_unknown_schema"
    UNKNOWN_STEP = "catalog_unknown_step"
    UNPAID_SUBMISSION = "catalog_unpaid_submission"  # a priced item submits before it pays
    UNREACHABLE = "catalog_unreachable"


class CatalogError(Exception):
    def __init__(self, reason: CatalogReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class StepSpec:
    step: str
    params: JsonObject
    timeout_s: float | None


Text = dict[str, str]  # language -> text


class PowerType(StrEnum):
    """The kind of administrative power an item exercises (事项类型), as halls publish it."""

    LICENSE = "administrative_license"  # 行政许可
    PAYMENT = "administrative_payment"  # 行政给付
    CONFIRMATION = "administrative_confirmation"  # 行政确认
    LEVY = "administrative_levy"  # 行政征收
    ADJUDICATION = "administrative_adjudication"  # 行政裁决
    REWARD = "administrative_reward"  # 行政奖励
    PENALTY = "administrative_penalty"  # 行政处罚
    OTHER = "other_power"  # 其他行政权力
    PUBLIC_SERVICE = "public_service"  # 公共服务


class Delivery(StrEnum):
    IN_PERSON = "in_person"
    POST = "post"
    ELECTRONIC = "electronic"


class MaterialForm(StrEnum):
    ORIGINAL = "original"
    COPY = "copy"
    ORIGINAL_AND_COPY = "original_and_copy"
    ELECTRONIC = "electronic"


class DayUnit(StrEnum):
    WORKING = "working_days"
    CALENDAR = "calendar_days"


@dataclass(frozen=True)
class Department:
    code: str
    name: Text


@dataclass(frozen=True)
class LegalBasis:
    title: str
    clause: str = ""


@dataclass(frozen=True)
class Material:
    name: Text
    required: bool
    form: MaterialForm = MaterialForm.ORIGINAL
    copies: int = 1
    sample: str = ""  # a sample image's path or URL
    notes: Text | None = None


@dataclass(frozen=True)
class ProcedureStage:
    """One box of the flowchart a citizen reads (受理 -> 审查 -> 决定 -> 送达)."""

    title: Text
    actor: str = "department"
    detail: Text | None = None


@dataclass(frozen=True)
class TimeLimit:
    promised: int  # 承诺时限; 0 = done on the spot (即办)
    statutory: int  # 法定时限
    unit: DayUnit = DayUnit.WORKING


@dataclass(frozen=True)
class Fee:
    kind: str  # free, fixed (amount_fen), quoted (the backend names the amount)
    amount_fen: int | None = None
    standard: Text | None = None  # 收费标准
    basis: str = ""  # 收费依据


@dataclass(frozen=True)
class ServiceItem:
    code: str
    service: str
    name: Text
    summary: Text
    keywords: tuple[str, ...]  # what citizens call it besides its name (常用名), for search
    department: Department
    legal_basis: tuple[LegalBasis, ...]
    power_type: PowerType
    handling_level: str
    target_groups: tuple[str, ...]
    life_events: tuple[str, ...]
    conditions: tuple[Text, ...]
    materials: tuple[Material, ...]
    procedure: tuple[ProcedureStage, ...]
    time_limit: TimeLimit
    fee: Fee
    delivery: tuple[Delivery, ...]
    visits: int
    venue: Text | None
    contact_phone: str
    supervision_phone: str
    online_application: bool
    online_application_url: str
    guide_url: str
    popularity: int
    sms: bool
    steps: tuple[StepSpec, ...]
    languages: tuple[str, ...]
    online: bool  # the kiosk needs the backends to run it
    required_devices: frozenset[str]
    optional_devices: frozenset[str]
    elder_first: bool = False       # shown at the top of the menu in elder mode
    # Its submission may wait in the kiosk's outbox (kiosk.outbox) while the backends cannot
    # be reached; never an item that takes payment (`works_offline`).
    offline_capable: bool = False
    in_person_only: bool = False    # a village agent may not run it for a citizen

    def text(self, field: Text, language: str) -> str:
        return field.get(language) or field["zh"]

    @property
    def takes_payment(self) -> bool:
        return any(s.step == "pay" for s in self.steps)

    @property
    def backends(self) -> frozenset[str]:
        """The backends its steps call (by the name their `backend` param gives)."""
        return frozenset(str(s.params["backend"]) for s in self.steps if "backend" in s.params)

    @property
    def works_offline(self) -> bool:
        """Runs with the backends out of reach: its submission waits in the outbox. Money never
        waits: an item that takes payment needs the gateway whatever the catalog says."""
        return not self.online or (self.offline_capable and not self.takes_payment)

    @property
    def runs_on_kiosk(self) -> bool:
        """False for a guide-only item: the kiosk shows its guide; it is done at a window."""
        return bool(self.steps)

    @property
    def rates_itself(self) -> bool:
        """The rating item (好差评 by a receipt's code): no rating is asked after it."""
        return any(spec.step == "rate_service" for spec in self.steps)

    @property
    def fee_kind(self) -> str:
        return self.fee.kind

    @property
    def level(self) -> str:
        return self.handling_level

    @property
    def time_limit_days(self) -> int:
        return self.time_limit.promised


@dataclass(frozen=True)
class Catalog:
    version: str
    items: tuple[ServiceItem, ...]

    _by_code: dict[str, ServiceItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {item.code: item for item in self.items})

    def item(self, code: str) -> ServiceItem:
        return self._by_code[code]


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

# Version 1 had one free-text department-less form; what it could not say gets these values.
_V1_DEPARTMENTS = {
    "CRJ": ("public_security", {"zh": "公安局出入境管理支队", "en": "Exit-Entry Administration"}),
    "GA": ("public_security", {"zh": "公安局", "en": "Public Security Bureau"}),
    "HZ": ("public_security", {"zh": "公安局户政科", "en": "Household Registration"}),
    "BM": ("convenience", {"zh": "便民服务中心", "en": "Convenience Services"}),
    "PD": ("service_center", {"zh": "政务服务中心", "en": "Government Service Center"}),
}
_V1_UNKNOWN_DEPARTMENT = ("service_center", {"zh": "政务服务中心", "en": "Government Service Center"})


def migrate_v1(data: JsonObject) -> JsonObject:
    """A valid version-1 catalog as a version-2 one: every v1 field kept, the new fields given
    the values a v1 item implied (a kiosk item, done in person, one visit at most)."""
    items = []
    for old in data["items"]:
        prefix = old["code"].split("-")[1] if old["code"].count("-") >= 2 else ""
        dept_code, dept_name = _V1_DEPARTMENTS.get(prefix, _V1_UNKNOWN_DEPARTMENT)
        days = old["time_limit_days"]
        item = {
            "code": old["code"],
            "service": old["service"],
            "name": old["name"],
            "department": {"code": dept_code, "name": dept_name},
            "legal_basis": [{"title": old["legal_basis"] or "-"}],
            "power_type": "public_service",
            "handling_level": old["level"],
            "target_groups": ["natural_person"],
            "conditions": old["conditions"],
            "materials": [{"name": m["name"], "required": m["required"]}
                          for m in old["materials"]],
            "procedure": [],
            "time_limit": {"promised": days, "statutory": days, "unit": "working_days"},
            "fee": {"kind": old["fee"]["kind"]},
            "delivery": ["in_person"],
            "visits": 0 if days == 0 else 1,
            "contact_phone": "12345",
            "supervision_phone": "12345",
            "online_application": {"available": False},
            "languages": old["languages"],
            "steps": old["steps"],
        }
        if old.get("elder_first"):
            item["elder_first"] = True
        for key in ("summary", "online", "devices"):
            if key in old:
                item[key] = old[key]
        items.append(item)
    return {"schema": SCHEMA_VERSION, "version": data["version"], "items": items}


def _validate(data: Any, schema: str) -> None:
    try:
        error = next(iter(_VALIDATORS[schema].iter_errors(data)), None)
    except (ValueError, OverflowError) as exc:  # e.g. an integer wider than 64 bits
        raise CatalogError(CatalogReason.MALFORMED, f"unvalidatable value: {exc}"[:120]) from exc
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path)
        raise CatalogError(CatalogReason.MALFORMED, f"{where}: {error.message[:120]}")


def _sets_a_price(spec: StepSpec) -> bool:
    """The steps that quote an amount: the citizen confirms a bill, or picks a priced option."""
    return spec.step == "confirm_amount" or (spec.step == "choose_option" and "fee" in spec.params)


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


def parse_catalog(raw: bytes | str, known_steps: frozenset[str]) -> Catalog:
    """Validates and converts a published catalog; raises CatalogError with the reason."""
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
        items.append(_item(raw_item, known_steps))
    return Catalog(data["version"], tuple(items))


def _item(raw_item: JsonObject, known_steps: frozenset[str]) -> ServiceItem:
    steps = tuple(
        StepSpec(s["step"], s.get("params", {}), s.get("timeout_s"))
        for s in raw_item.get("steps", ())
    )
    unknown = [s.step for s in steps if s.step not in known_steps]
    if unknown:
        raise CatalogError(CatalogReason.UNKNOWN_STEP, f"{raw_item['code']}: {unknown[0]}")
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


class CatalogCache:
    """The last good catalog on disk; replaced only by one that parsed and validated. Beside it,
    the validators it was published with (kiosk.backends.CatalogValidators), for the next
    conditional fetch."""

    def __init__(self, path: Path, known_steps: frozenset[str]) -> None:
        self.path = path
        self.known_steps = known_steps

    @property
    def validators_path(self) -> Path:
        return self.path.with_suffix(".validators.json")

    def load(self) -> Catalog | None:
        try:
            return parse_catalog(self.path.read_bytes(), self.known_steps)
        except FileNotFoundError:
            return None
        except CatalogError as exc:
            log.error("cached catalog unusable: %s", exc, extra={"reason": exc.reason.value})
            return None

    def validators(self) -> CatalogValidators | None:
        """What the cached copy was published as; None when unknown (then fetch it whole)."""
        try:
            data = json.loads(self.validators_path.read_text())
            return CatalogValidators(str(data["etag"]), str(data["last_modified"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def accept(self, raw: bytes, validators: CatalogValidators | None = None) -> Catalog:
        """Parses `raw`; if good, makes it the cached catalog (atomically) and returns it."""
        catalog = parse_catalog(raw, self.known_steps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The old validators go first: a crash between the two writes must never leave the
        # new catalog's name on the old copy (a 304 would then keep the wrong one).
        self.validators_path.unlink(missing_ok=True)
        _write_atomically(self.path, raw)
        if validators is not None and (validators.etag or validators.last_modified):
            _write_atomically(self.validators_path, json.dumps(
                {"etag": validators.etag, "last_modified": validators.last_modified}).encode())
        return catalog


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
