"""What works while the village link is down, and what stays off: through the kiosk core, the
real simulator and its throttling link."""

from __future__ import annotations

import asyncio
import re

import pytest

from kiosk.journal import TxState
from kiosk.service_guide import checklist_receipt, guide_for
from kiosk.viewmodel import ScreenId
from simulator.reference import (
    BILL_PAYMENT,
    CITIZEN_PHONE,
    ENDORSEMENT,
    MATERIALS_PREREVIEW,
    QUEUE_TICKET,
    SERVICE_RATING,
)


async def link_down(village) -> None:
    village.link.configure({"down": True})
    await village.until_true(lambda: not village.session.network_ok, 10, "the kiosk sees it")


async def prereview(village) -> str:
    """One citizen's pre-review (ID card, two pages, phone) to its result screen."""
    await village.start(MATERIALS_PREREVIEW)
    await village.until(ScreenId.READ_IDCARD)
    village.sim.idcard_reader.insert()
    await village.until(ScreenId.SCAN_DOCUMENT)
    village.sim.document_composer.scene = "text_page"
    while village.view.scan_index < 2 and village.view.screen is ScreenId.SCAN_DOCUMENT:
        await asyncio.sleep(0.02)
    village.sim.document_composer.scene = "form"
    await village.until(ScreenId.ENTER_ACCOUNT)
    village.type_digits(CITIZEN_PHONE)
    await village.until(ScreenId.CONFIRM)
    village.session.choose_option("confirm")
    text = await village.result(timeout=60)
    village.sim.document_composer.scene = "empty"
    village.sim.idcard_reader.remove()
    village.session.finish()
    return text


def tiles(village) -> dict[str, tuple[bool, str | None]]:
    return {t.code: (t.available, t.reason_key) for t in village.view.services}


async def test_link_down_keeps_offline_items_and_says_why_the_others_stop(village):
    await link_down(village)
    shown = tiles(village)
    assert shown[MATERIALS_PREREVIEW] == (True, None)
    assert shown[SERVICE_RATING] == (True, None)
    assert shown[BILL_PAYMENT] == (False, "unavailable.network_payment")
    assert shown[ENDORSEMENT][1] in ("unavailable.network_payment", "unavailable.device.permit_reader")
    village.session.choose_service(BILL_PAYMENT)      # a greyed tile starts nothing
    assert not village.session.busy
    village.link.configure({"down": False})
    await village.until_true(lambda: tiles(village)[BILL_PAYMENT] == (True, None), 10,
                             "the bill payment back on by itself")


async def test_a_prereview_accepted_offline_is_sent_once_when_the_link_returns(village):
    await link_down(village)
    text = await prereview(village)
    assert village.view.result_ok and "网络恢复后将自动提交" in text
    receipt = await village.receipt(1)
    assert "网络恢复后自动提交" in receipt and "待发送" in receipt
    assert CITIZEN_PHONE not in receipt
    tx = village.last_tx()
    assert tx.state is TxState.CLOSED and tx.detail["queued"] == "outbox"
    assert village.sim.backends.services.prereviews == {}
    assert village.sim.backends.sms.messages == []
    assert village.outbox_counts()["pending"] == 1
    # Nothing personal lies on the kiosk's disk in clear while it waits.
    outbox_bytes = b"".join(p.read_bytes() for p in village.ctx.config.state_dir.glob("outbox*"))
    assert CITIZEN_PHONE.encode() not in outbox_bytes and b"%PDF" not in outbox_bytes

    village.link.configure({"down": False})
    await village.until_true(lambda: village.outbox_counts()["pending"] == 0, 30, "delivered")
    (review,) = village.sim.backends.services.prereviews.values()
    (sms,) = village.sim.backends.sms.messages
    assert sms["to"] == CITIZEN_PHONE and review["prereview_id"] in sms["text"]
    noted = village.ctx.journal.get(tx.tx_id).detail
    assert noted["queued"] == "delivered" and noted["result"] == {
        "prereview_id": review["prereview_id"]}
    await asyncio.sleep(3 * 0.3)
    assert len(village.sim.backends.services.prereviews) == 1
    assert len(village.sim.backends.sms.messages) == 1


@pytest.mark.parametrize("village", [{"on_site": ("queue_url",),
                                      "backends": {"site_backends": ["queue"]}}], indirect=True)
async def test_a_site_with_its_own_queue_hands_out_numbers_while_the_link_is_down(village):
    await link_down(village)
    assert tiles(village)[QUEUE_TICKET] == (True, None)
    assert tiles(village)[BILL_PAYMENT] == (False, "unavailable.network_payment")
    await village.start(QUEUE_TICKET)
    await village.until(ScreenId.CHOOSE)
    village.session.choose_option("B")
    text = await village.result()
    number = re.search(r"B\d{3}", text)
    assert village.view.result_ok and number, text
    assert number.group() in await village.receipt(1)


async def test_without_a_local_queue_the_ticket_waits_for_the_link(village):
    await link_down(village)
    assert tiles(village)[QUEUE_TICKET] == (False, "unavailable.network")


async def test_the_guide_and_its_materials_checklist_print_with_the_link_down(village):
    await link_down(village)
    item = village.session.catalog.item(MATERIALS_PREREVIEW)   # the cached copy
    (materials,) = [s for s in guide_for(item, "zh").sections if s.key == "materials"]
    assert materials.lines
    await village.ctx.devices.receipt_printer.print_receipt(checklist_receipt(
        item, village.ctx.config.kiosk_id, village.ctx.config.flow.office_hotline))
    assert "办事材料清单" in await village.receipt(1)
