"""Catalog version 2: the published standard form, the migration of version 1, the generator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kiosk.catalog import (
    SCHEMA_VERSION,
    CatalogError,
    CatalogReason,
    DayUnit,
    Delivery,
    MaterialForm,
    PowerType,
    migrate_v1,
    parse_catalog,
)
from kiosk.step_library import STEP_LIBRARY
from simulator import catalog_build
from simulator.backends import reference_catalog

STEPS = STEP_LIBRARY
# The reference catalog as version 1 published it (git show 9451c90:simulator/assets/...).
V1 = Path(__file__).parent / "fixtures" / "reference_catalog_v1.json"


def test_the_real_v1_catalog_is_accepted_and_migrated_to_v2():
    raw = V1.read_bytes()
    old = json.loads(raw)
    catalog = parse_catalog(raw, STEPS)
    assert [i.code for i in catalog.items] == [i["code"] for i in old["items"]]
    for item, before in zip(catalog.items, old["items"], strict=True):
        # Everything version 1 said is still said, in its version-2 place.
        assert item.name == before["name"] and item.service == before["service"]
        assert item.legal_basis[0].title == before["legal_basis"]
        assert item.handling_level == before["level"]
        assert item.time_limit.promised == before["time_limit_days"]
        assert item.fee.kind == before["fee"]["kind"]
        assert [m.name for m in item.materials] == [m["name"] for m in before["materials"]]
        assert [s.step for s in item.steps] == [s["step"] for s in before["steps"]]
        assert item.required_devices == frozenset(before["devices"]["required"])
        assert item.runs_on_kiosk and item.online == before["online"]
    endorsement = catalog.item("442000-CRJ-0007")
    assert endorsement.department.code == "public_security"


def test_migration_output_is_a_valid_v2_document():
    migrated = migrate_v1(json.loads(V1.read_bytes()))
    assert migrated["schema"] == SCHEMA_VERSION
    again = parse_catalog(json.dumps(migrated), STEPS)
    assert again == parse_catalog(V1.read_bytes(), STEPS)


def test_a_v1_catalog_that_is_broken_is_refused_as_v1():
    data = json.loads(V1.read_bytes())
    data["items"][0]["time_limit_days"] = "soon"
    with pytest.raises(CatalogError) as err:
        parse_catalog(json.dumps(data), STEPS)
    assert err.value.reason is CatalogReason.MALFORMED and "time_limit_days" in err.value.detail


def test_the_reference_catalog_is_a_realistic_hall():
    catalog = parse_catalog(reference_catalog(), STEPS)
    assert len(catalog.items) >= 300
    departments = Counter(item.department.code for item in catalog.items)
    assert len(departments) >= 12 and min(departments.values()) >= 9
    guide_only = [i for i in catalog.items if not i.runs_on_kiosk]
    assert len(guide_only) > len(catalog.items) * 0.9
    for item in guide_only:
        # A guide-only item names where it is done instead.
        assert item.venue and item.venue["zh"] and item.guide_url.startswith("https://")
        assert not item.online and not item.required_devices
    events = Counter(e for item in catalog.items for e in item.life_events)
    assert {"birth", "school", "employment", "marriage", "travel", "retirement"} <= set(events)
    assert {item.power_type for item in catalog.items} >= {
        PowerType.LICENSE, PowerType.CONFIRMATION, PowerType.PAYMENT, PowerType.PENALTY}


def test_an_item_carries_the_whole_standard_form():
    passport = parse_catalog(reference_catalog(), STEPS).item("442000-CRJ-0001")
    assert passport.name["zh"] == "普通护照签发"
    assert passport.department.name["zh"] == "市公安局出入境管理支队"
    assert passport.legal_basis[0].title == "《中华人民共和国护照法》" and \
        passport.legal_basis[0].clause == "第五条"
    assert passport.power_type is PowerType.LICENSE and passport.target_groups == (
        "natural_person",)
    assert passport.time_limit.promised == 7 and passport.time_limit.statutory == 15
    assert passport.time_limit.unit is DayUnit.WORKING
    assert passport.fee.kind == "fixed" and passport.fee.amount_fen == 12000 and passport.fee.basis
    assert set(passport.delivery) == {Delivery.IN_PERSON, Delivery.POST}
    photo = next(m for m in passport.materials if m.name["zh"] == "照片")
    assert photo.form is MaterialForm.ORIGINAL and photo.copies == 2 and photo.sample
    register = next(m for m in passport.materials if m.name["zh"] == "户口簿")
    assert not register.required and register.form is MaterialForm.ORIGINAL_AND_COPY
    assert [s.title["zh"] for s in passport.procedure] == ["申请", "受理", "审查", "决定", "送达"]
    assert passport.contact_phone and passport.supervision_phone == "12345"
    assert passport.online_application and passport.online_application_url.startswith("https://")


def test_the_committed_catalog_is_the_generators_output():
    assert reference_catalog().decode() == catalog_build.dumps(catalog_build.build_catalog())


def test_a_bench_catalog_of_3000_items_loads():
    big = catalog_build.scale_catalog(catalog_build.build_catalog(), 3000)
    catalog = parse_catalog(json.dumps(big), STEPS)
    assert len(catalog.items) == 3000 and len({i.code for i in catalog.items}) == 3000


def test_a_row_naming_an_unknown_material_is_refused(tmp_path):
    source = tmp_path / "source"
    import shutil

    shutil.copytree(catalog_build.SOURCE, source)
    table = source / "items" / "justice.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("收入证明", "藏宝图", 1),
                     encoding="utf-8")
    with pytest.raises(catalog_build.SourceError, match="藏宝图"):
        catalog_build.build_catalog(source)
