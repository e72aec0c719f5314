"""The catalog's schema versions, and the migration of a version-1 catalog to version 2 (in
memory, after it validated as version 1), so that one parser (kiosk.catalog) reads both."""

from __future__ import annotations

from kiosk.json_object import JsonObject

SCHEMA_V1 = "kiosk-catalog/1"
SCHEMA_VERSION = "kiosk-catalog/2"

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
