"""The service catalog: items in the standard published form, validated, cached on disk.

A catalog that is malformed, of an unknown schema version, or names a step the kiosk does not
know never replaces the last good one; the refusal is reported with a reason.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

log = logging.getLogger(__name__)

SCHEMA_VERSION = "kiosk-catalog/1"


class CatalogReason(StrEnum):
    MALFORMED = "catalog_malformed"  # not JSON, or not the schema's shape
    UNKNOWN_SCHEMA = "catalog_unknown_schema"
    UNKNOWN_STEP = "catalog_unknown_step"
    UNREACHABLE = "catalog_unreachable"


class CatalogError(Exception):
    def __init__(self, reason: CatalogReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class StepSpec:
    step: str
    params: dict[str, Any]
    timeout_s: float | None


@dataclass(frozen=True)
class ServiceItem:
    code: str
    service: str
    name: dict[str, str]
    summary: dict[str, str]
    legal_basis: str
    conditions: tuple[dict[str, str], ...]
    materials: tuple[dict[str, Any], ...]
    steps: tuple[StepSpec, ...]
    time_limit_days: int
    fee_kind: str
    level: str
    languages: tuple[str, ...]
    online: bool
    required_devices: frozenset[str]
    optional_devices: frozenset[str]
    elder_first: bool = False       # shown at the top of the menu in elder mode

    def text(self, field: dict[str, str], language: str) -> str:
        return field.get(language) or field["zh"]

    @property
    def takes_payment(self) -> bool:
        return any(s.step == "pay" for s in self.steps)


@dataclass(frozen=True)
class Catalog:
    version: str
    items: tuple[ServiceItem, ...]

    def item(self, code: str) -> ServiceItem:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)


def _schema() -> dict:
    return json.loads(resources.files("kiosk").joinpath("schemas/catalog-1.json").read_text())


_VALIDATOR = jsonschema.Draft202012Validator(_schema())


def parse_catalog(raw: bytes | str, known_steps: frozenset[str]) -> Catalog:
    """Validates and converts a published catalog; raises CatalogError with the reason."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(CatalogReason.MALFORMED, "not JSON") from exc
    if isinstance(data, dict) and data.get("schema") not in (None, SCHEMA_VERSION):
        raise CatalogError(CatalogReason.UNKNOWN_SCHEMA, str(data.get("schema"))[:40])
    error = next(iter(sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise CatalogError(CatalogReason.MALFORMED, f"{where}: {error.message[:120]}")
    items = []
    codes = set()
    for raw_item in data["items"]:
        if raw_item["code"] in codes:
            raise CatalogError(CatalogReason.MALFORMED, f"duplicate code {raw_item['code']}")
        codes.add(raw_item["code"])
        steps = tuple(
            StepSpec(s["step"], s.get("params", {}), s.get("timeout_s")) for s in raw_item["steps"]
        )
        unknown = [s.step for s in steps if s.step not in known_steps]
        if unknown:
            raise CatalogError(CatalogReason.UNKNOWN_STEP, f"{raw_item['code']}: {unknown[0]}")
        devices = raw_item.get("devices", {})
        items.append(
            ServiceItem(
                code=raw_item["code"],
                service=raw_item["service"],
                name=raw_item["name"],
                summary=raw_item.get("summary", {"zh": ""}),
                legal_basis=raw_item["legal_basis"],
                conditions=tuple(raw_item["conditions"]),
                materials=tuple(raw_item["materials"]),
                steps=steps,
                time_limit_days=raw_item["time_limit_days"],
                fee_kind=raw_item["fee"]["kind"],
                level=raw_item["level"],
                languages=tuple(raw_item["languages"]),
                online=raw_item.get("online", True),
                required_devices=frozenset(devices.get("required", ())),
                optional_devices=frozenset(devices.get("optional", ())),
                elder_first=raw_item.get("elder_first", False),
            )
        )
    return Catalog(data["version"], tuple(items))


class CatalogCache:
    """The last good catalog on disk; replaced only by one that parsed and validated."""

    def __init__(self, path: Path, known_steps: frozenset[str]) -> None:
        self.path = path
        self.known_steps = known_steps

    def load(self) -> Catalog | None:
        try:
            return parse_catalog(self.path.read_bytes(), self.known_steps)
        except FileNotFoundError:
            return None
        except CatalogError as exc:
            log.error("cached catalog unusable: %s", exc, extra={"reason": exc.reason.value})
            return None

    def accept(self, raw: bytes) -> Catalog:
        """Parses `raw`; if good, makes it the cached catalog (atomically) and returns it."""
        catalog = parse_catalog(raw, self.known_steps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
        return catalog
