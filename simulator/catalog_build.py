"""Builds the reference catalog (kiosk-catalog/2) from its data table, deterministically.

The table lives in `simulator/catalog_source/`: `departments.toml` (the hall and its
departments), `materials.toml` (every material once: form, copies, notes, sample image),
`items/<department>.csv` (one row per item in the published standard form, in the words a
hall publishes them) and `kiosk/<PREFIX-NNNN>.json` (the kiosk steps of the items that run on
the machine). Everything else on the guide (flowchart, venue, URLs) is derived here, the same
way for every item.

    python -m simulator.catalog_build            # rewrite simulator/assets/reference_catalog.json
    python -m simulator.catalog_build --check    # exit 1 if the committed catalog is stale
    python -m simulator.catalog_build --items 3000 --out /tmp/big.json   # a bench-size catalog
    python -m simulator.catalog_build --list     # every item: how far it runs on the kiosk
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).parent / "catalog_source"
REFERENCE = Path(__file__).parent / "assets" / "reference_catalog.json"
VERSION = "2026.12.01-2"

POWER = {"许可": "administrative_license", "给付": "administrative_payment",
         "确认": "administrative_confirmation", "征收": "administrative_levy",
         "裁决": "administrative_adjudication", "奖励": "administrative_reward",
         "处罚": "administrative_penalty", "其他": "other_power", "服务": "public_service"}
LEVEL = {"省": "province", "市": "city", "区": "county", "镇": "township", "村": "village"}
TARGETS = {"个人": ["natural_person"], "法人": ["legal_person"],
           "个人法人": ["natural_person", "legal_person"],
           "法人个人": ["natural_person", "legal_person"]}
DELIVERY = {"现场": "in_person", "邮寄": "post", "电子": "electronic"}
FORMS = ("original", "copy", "original_and_copy", "electronic")

# Life events (主题): the menu's second way in, beside departments.
LIFE_EVENTS = {
    "出生": ("birth", "Birth"), "入学": ("school", "Going to school"),
    "就业": ("employment", "Work"), "婚育": ("marriage", "Marriage and children"),
    "出行": ("travel", "Travel"), "退休": ("retirement", "Retirement"),
    "住房": ("housing", "Housing"), "车辆": ("vehicles", "Vehicles and driving"),
    "创业": ("business", "Starting a business"), "就医": ("medical", "Medical care"),
    "救助": ("assistance", "Social assistance"), "身后": ("bereavement", "After a death"),
    "纳税": ("tax", "Taxes"),
}

# The flowchart a citizen reads, by kind of power: (zh, en, who acts).
_ACCEPT = ("申请", "Apply", "applicant")
_RECEIVE = ("受理", "Acceptance", "window")
PROCEDURES = {
    "administrative_license": [_ACCEPT, _RECEIVE, ("审查", "Review", "department"),
                               ("决定", "Decision", "department"), ("送达", "Delivery", "window")],
    "administrative_confirmation": [_ACCEPT, _RECEIVE, ("审核", "Verification", "department"),
                                    ("确认", "Confirmation", "department"),
                                    ("送达", "Delivery", "window")],
    "administrative_payment": [_ACCEPT, _RECEIVE, ("审核", "Verification", "department"),
                               ("公示", "Public notice", "department"),
                               ("发放", "Payment", "department")],
    "administrative_levy": [("申报", "Declare", "applicant"), ("核定", "Assessment", "department"),
                            ("缴纳", "Payment", "applicant"), ("开具凭证", "Voucher", "window")],
    "administrative_adjudication": [_ACCEPT, _RECEIVE, ("审理", "Hearing", "department"),
                                    ("裁决", "Ruling", "department"),
                                    ("送达", "Delivery", "post")],
    "administrative_penalty": [("告知", "Notice", "department"),
                               ("陈述申辩", "Statement", "applicant"),
                               ("决定", "Decision", "department"), ("缴纳", "Payment", "applicant")],
    "administrative_reward": [_ACCEPT, ("审核", "Verification", "department"),
                              ("发放", "Payment", "department")],
    "other_power": [_ACCEPT, _RECEIVE, ("办理", "Processing", "department"),
                    ("办结", "Done", "window")],
    "public_service": [_ACCEPT, _RECEIVE, ("办结", "Done", "window")],
}


class SourceError(ValueError):
    """A row of the data table that cannot become an item; says which and why."""


def _split(value: str, sep: str = " ") -> list[str]:
    return [part.strip() for part in value.split(sep) if part.strip()]


def _legal_basis(value: str) -> list[dict[str, str]]:
    bases = []
    for entry in _split(value, ";"):
        if entry.startswith("《") and "》" in entry:
            title, _, clause = entry.partition("》")
            basis = {"title": title + "》"}
            if clause:
                basis["clause"] = clause
        else:
            basis = {"title": entry}
        bases.append(basis)
    return bases


def _material(token: str, vocabulary: dict[str, dict], guide_base: str) -> dict[str, Any]:
    key = token.rstrip("?")
    known = vocabulary.get(key)
    if known is None:
        raise SourceError(f"material {key!r} is not in materials.toml")
    material: dict[str, Any] = {"name": {"zh": key, "en": known["en"]},
                                "required": not token.endswith("?"),
                                "form": known.get("form", "original"),
                                "copies": known.get("copies", 1)}
    if material["form"] not in FORMS:
        raise SourceError(f"material {key!r}: form {material['form']!r}")
    if "sample" in known:
        material["sample"] = guide_base + known["sample"]
    if "notes" in known:
        material["notes"] = {"zh": known["notes"]}
    return material


def _fee(value: str, basis: str) -> dict[str, Any]:
    if value == "免费":
        return {"kind": "free"}
    fee: dict[str, Any]
    if value.endswith("元"):
        yuan = value[:-1]
        fee = {"kind": "fixed", "amount_fen": round(float(yuan) * 100),
               "standard": {"zh": f"每证 {yuan} 元", "en": f"CNY {yuan} each"}}
    elif value == "按标准":
        fee = {"kind": "quoted", "standard": {"zh": "按收费标准计收，以系统核定金额为准",
                                              "en": "As the published tariff; the system quotes it"}}
    else:
        raise SourceError(f"fee {value!r}")
    if basis:
        fee["basis"] = basis
    return fee


def _procedure(power: str, promised: int, unit: str) -> list[dict[str, Any]]:
    days = "即时办结" if promised == 0 else f"{promised} 个{'工作日' if unit == 'working_days' else '自然日'}"
    stages = []
    for zh, en, actor in PROCEDURES[power]:
        stage: dict[str, Any] = {"title": {"zh": zh, "en": en}, "actor": actor}
        if zh in ("决定", "确认", "办结", "裁决", "发放"):
            stage["detail"] = {"zh": f"承诺时限：{days}"}
        stages.append(stage)
    return stages


def _item(row: dict[str, str], dept_code: str, dept: dict, hall: dict,
          vocabulary: dict[str, dict], kiosk: dict[str, Any] | None) -> dict[str, Any]:
    area, prefix = hall["area_code"], dept["prefix"]
    code = f"{area}-{prefix}-{int(row['seq']):04d}"
    try:
        power = POWER[row["power"]]
        promised = int(row["promised"])
        statutory = int(row["statutory"] or promised)
        unit = "calendar_days" if row["unit"] == "自" else "working_days"
        events = [LIFE_EVENTS[e][0] for e in _split(row["events"])]
        item: dict[str, Any] = {
            "code": code,
            "service": "guide",
            "name": {"zh": row["name_zh"], "en": row["name_en"]},
            "department": {"code": dept_code, "name": dept["name"]},
            "legal_basis": _legal_basis(row["basis"]),
            "power_type": power,
            "handling_level": LEVEL[row["level"]],
            "target_groups": TARGETS[row["targets"]],
            "life_events": events,
            "conditions": [{"zh": c} for c in _split(row["conditions"], ";") if c != "无"],
            "materials": [_material(t, vocabulary, hall["guide_base"])
                          for t in _split(row["materials"])],
            "procedure": _procedure(power, promised, unit),
            "time_limit": {"promised": promised, "statutory": statutory, "unit": unit},
            "fee": _fee(row["fee"], row["fee_basis"]),
            "delivery": [DELIVERY[d] for d in _split(row["delivery"])],
            "visits": int(row["visits"]),
            "venue": {"zh": f"{hall['name']['zh']} {dept['window']} 号窗口",
                      "en": f"{hall['name']['en']}, counters {dept['window']}"},
            "contact_phone": dept["phone"],
            "supervision_phone": hall["supervision_phone"],
            "online_application": {"available": row["online"] == "Y"},
            "guide_url": hall["guide_base"] + code,
            "popularity": int(row["popularity"] or 0),
            "languages": ["zh", "en"],
        }
    except (KeyError, ValueError) as exc:
        raise SourceError(f"{code}: {exc!r}") from exc
    if item["online_application"]["available"]:
        item["online_application"]["url"] = hall["online_base"] + code
    if kiosk is not None:
        # The kiosk's own part: its service kind, steps and devices; its procedure starts here.
        item.update(_fill(kiosk, _facts(item)))
        item["procedure"] = [{"title": {"zh": "在自助终端办理", "en": "At the self-service kiosk"},
                              "actor": "kiosk"}, *item["procedure"][1:]]
    return item


def _facts(item: dict[str, Any]) -> dict[str, Any]:
    """What a kiosk step's params may quote of its own item's row, as `$item.NAME`: so the
    time limit on a pre-review receipt is the item's, never a second copy typed by hand."""
    limit = item["time_limit"]
    days, working = limit["promised"], limit["unit"] == "working_days"
    return {
        "code": item["code"], "name_zh": item["name"]["zh"], "name_en": item["name"]["en"],
        "time_limit_days": days,
        "time_limit_zh": "即时办结" if days == 0 else f"{days}个{'工作日' if working else '自然日'}",
        "time_limit_en": "on the spot" if days == 0 else
        f"{days} {'working' if working else 'calendar'} days",
    }


_FACT = re.compile(r"\$item\.([a-z_]+)")


def _fill(value: Any, facts: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, facts) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, facts) for v in value]
    if not isinstance(value, str):
        return value
    whole = _FACT.fullmatch(value)
    if whole:
        return facts[whole.group(1)]  # a number stays a number
    return _FACT.sub(lambda m: str(facts[m.group(1)]), value)


def build_catalog(source: Path = SOURCE) -> dict[str, Any]:
    """The reference catalog as a JSON-ready dict; the same source gives the same catalog."""
    config = tomllib.loads((source / "departments.toml").read_text(encoding="utf-8"))
    vocabulary = tomllib.loads((source / "materials.toml").read_text(encoding="utf-8"))
    hall, departments = config["hall"], config["departments"]
    kiosk_parts = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                   for path in sorted((source / "kiosk").glob("*.json"))}
    keywords = tomllib.loads((source / "keywords.toml").read_text(encoding="utf-8"))
    items = []
    for dept_code, dept in departments.items():
        table = source / "items" / f"{dept_code}.csv"
        with table.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                key = f"{dept['prefix']}-{int(row['seq']):04d}"
                item = _item(row, dept_code, dept, hall, vocabulary, kiosk_parts.pop(key, None))
                if key in keywords:
                    item["keywords"] = keywords.pop(key)
                items.append(item)
    if kiosk_parts or keywords:
        raise SourceError(f"items not in the table: {sorted(kiosk_parts) + sorted(keywords)}")
    return {"schema": "kiosk-catalog/2", "version": VERSION, "issuer": hall["name"],
            "items": items}


def scale_catalog(catalog: dict[str, Any], size: int) -> dict[str, Any]:
    """A catalog of `size` items the way a province publishes one: the city's items again for
    each district (area codes 442001, 442002...), guide-only, with their own codes."""
    base = catalog["items"]
    items = list(base)
    district = 0
    while len(items) < size:
        district += 1
        for item in base:
            if len(items) >= size:
                break
            area = f"{int(item['code'][:6]) + district:06d}"
            copy = {key: value for key, value in item.items()
                    if key not in ("steps", "devices", "online", "elder_first",
                                   "in_person_only")}
            copy.update(code=area + item["code"][6:], service="guide",
                        guide_url=item["guide_url"].rsplit("/", 1)[0] + "/" + area + item["code"][6:],
                        name={"zh": f"{item['name']['zh']}（{district}区）",
                              "en": f"{item['name']['en']} (district {district})"},
                        handling_level="county", popularity=item["popularity"] // (district + 1))
            items.append(copy)
    return {**catalog, "version": f"{catalog['version']}-x{size}", "items": items}


def dumps(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.add_argument("--items", type=int, default=0, help="scale to this many items")
    parser.add_argument("--out", type=Path, default=REFERENCE)
    parser.add_argument("--list", action="store_true", help="list items: full or guide only")
    args = parser.parse_args(argv)
    catalog = build_catalog()
    if args.list:
        for item in catalog["items"]:
            reach = f"full ({item['service']})" if item.get("steps") else "guide only"
            print(f"{item['code']}\t{reach}\t{item['department']['name']['zh']}\t"
                  f"{item['name']['zh']}")
        return 0
    if args.items:
        catalog = scale_catalog(catalog, args.items)
    text = dumps(catalog)
    if args.check:
        if args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out} is stale: run python -m simulator.catalog_build", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(catalog['items'])} items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
