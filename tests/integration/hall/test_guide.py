"""Every item's guide in plain words, and the materials checklist printed on the receipt
printer (the simulator's ESC/POS printer over TCP) with the guide's QR code."""

from __future__ import annotations

import pytest

from kiosk.catalog import parse_catalog
from kiosk.service_guide import checklist_receipt, guide_for
from kiosk.step_library import STEP_LIBRARY
from simulator.backends import reference_catalog


@pytest.fixture(scope="module")
def catalog():
    return parse_catalog(reference_catalog(), STEP_LIBRARY)


def test_every_item_has_a_readable_guide_in_both_languages(catalog):
    for item in catalog.items:
        for language in ("zh", "en"):
            guide = guide_for(item, language)
            keys = [s.key for s in guide.sections]
            assert keys == ["basics", "conditions", "materials", "procedure", "time_limit",
                            "fee", "where"]
            assert all(s.lines and all(s.lines) for s in guide.sections), item.code
            assert guide.guide_url.endswith(item.code)


def test_the_passport_guide_says_what_a_hall_publishes(catalog):
    guide = guide_for(catalog.item("442000-CRJ-0001"))
    text = {s.key: "\n".join(s.lines) for s in guide.sections}
    assert "《中华人民共和国护照法》第五条" in text["basics"] and "行政许可" in text["basics"]
    assert "照片  原件 2份  必需（近期免冠彩色证件照）" in text["materials"]
    assert "户口簿  原件及复印件 1份  视情况" in text["materials"]
    assert "承诺时限：7个工作日" in text["time_limit"] and "法定时限：15个工作日" in text["time_limit"]
    assert text["fee"].startswith("120.00 元（《国家发展改革委")
    assert "A1-A8" in text["where"] and "邮寄送达" in text["where"]
    assert "1. 申请" in text["procedure"] and "承诺时限：7 个工作日" in text["procedure"]


async def test_print_the_checklist_on_the_receipt_printer(rig, catalog):
    item = catalog.item("442000-HZ-0006")   # 夫妻投靠落户
    await rig.ctx.devices.receipt_printer.print_receipt(
        checklist_receipt(item, rig.ctx.config.kiosk_id, rig.ctx.config.flow.office_hotline))
    text = await rig.receipt(1)
    assert "办事材料清单" in text and "夫妻投靠落户" in text
    assert "[ ] 结婚证" in text and "承诺时限" in text
    assert rig.sim.printer.receipts[0].qr_payloads == (item.guide_url,)
