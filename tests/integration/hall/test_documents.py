"""Documents handed to the citizen, through the kiosk core against the simulator: the
无犯罪记录证明 printed on the real ippeveprinter over IPP (the received PDF rendered and read),
a finished document collected from the dispenser (taken, retained, slot empty, jammed), and
the pre-review that promises a text message."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import decode as decode_codes

from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from peripherals.health import Supply
from simulator.hall_services import RESIDENT_ID
from simulator.reference import (
    CERTIFICATE_PRINT,
    CITIZEN_PHONE,
    DOCUMENT_COLLECTION,
    FINE_DECISION_OVERDUE,
    MATERIALS_PREREVIEW,
    PROGRESS_LOOKUP,
    TRAFFIC_FINE,
)


async def identify_with_face(rig):
    await rig.until(ScreenId.READ_IDCARD)
    rig.sim.idcard_reader.insert()
    await rig.until(ScreenId.FACE)
    rig.sim.face_composer.face_visible = True


async def confirm_phone(rig):
    await rig.until(ScreenId.ENTER_ACCOUNT)
    rig.type_digits("1381234")            # too short: refused, typed again
    while rig.view.entry_error_key != "phone.invalid":
        await asyncio.sleep(0.02)
    rig.type_digits(CITIZEN_PHONE)
    await rig.until(ScreenId.CONFIRM)
    assert rig.view.confirm_lines[0][1] == "138****5678"
    rig.session.choose_option("confirm")


def render(pdf: Path, out: Path) -> tuple[Image.Image, str]:
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf), str(out)],
                   check=True)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    return Image.open(out.with_suffix(".png")), text


async def test_the_certificate_prints_on_a4_over_ipp_with_seal_and_verification_code(
        rig, tmp_path):
    assert rig.sim.a4_printer is not None, "ippeveprinter is missing: run scripts/setup.sh"
    await rig.start(CERTIFICATE_PRINT)
    await identify_with_face(rig)
    text = await rig.result(timeout=60)
    assert rig.view.result_ok and "证明已打印" in text
    (job,) = rig.sim.a4_printer.jobs()
    page, words = render(job, tmp_path / "page")
    assert page.size == (827, 1170)  # A4 at 100 dpi
    certificate = next(iter(rig.sim.backends.services.certificates.values()))
    assert "无犯罪记录证明" in words and "林晓明" in words and certificate["certificate_id"] in words
    assert certificate["verify_code"] in words and "中山市公安局石岐分局" in words
    (qr,) = [c for c in decode_codes(page) if c.type == "QRCODE"]
    assert qr.data.decode() == certificate["verify_url"]
    # The seal: a red stamp over the authority's name, bottom right.
    red = sum(1 for r, g, b in page.convert("RGB").getdata() if r > 150 and g < 80 and b < 90)
    assert red > 2000
    tx = rig.last_tx()
    assert tx.state is TxState.CLOSED and tx.detail["a4_print"]["state"] == "completed"
    assert TxState.RECEIPTED in [h[1] for h in rig.ctx.journal.history(tx.tx_id)]
    assert "林晓明" not in str(tx.detail) and RESIDENT_ID not in str(tx.detail)


async def test_a4_printer_out_of_paper_is_its_health_and_the_item_waits(rig):
    await asyncio.to_thread(rig.sim.a4_printer.set_fault, "media_empty", True)
    status = await rig.ctx.devices.a4_printer.refresh()
    assert not status.health.usable and status.reason.value == "paper_out"
    await rig.manager.wait_until(lambda snap: not snap["a4_printer"].health.usable, 8)
    rig.session.refresh_menu()
    tile = next(t for t in rig.view.services if t.code == CERTIFICATE_PRINT)
    assert not tile.available and tile.reason_key == "unavailable.device.a4_printer"
    events = []
    rig.manager.subscribe(events.append)
    await asyncio.to_thread(rig.sim.a4_printer.set_fault, "media_empty", False)
    await rig.manager.wait_until(lambda snap: snap["a4_printer"].health.value == "ok", 8)
    await asyncio.to_thread(rig.sim.a4_printer.set_fault, "toner_low", True)
    await rig.manager.wait_until(
        lambda snap: snap["a4_printer"].reason is not None and
        snap["a4_printer"].reason.value == "toner_low", 8)
    status = rig.manager.snapshot()["a4_printer"]
    assert status.health.usable and status.supplies[Supply.TONER].percent == 3
    # Low toner reaches the operators as a supply event, as low paper does.
    assert ("a4_printer", "supply_low") in [(e.device, str(e.kind)) for e in events]


async def test_a_job_the_printer_aborts_leaves_the_certificate_for_staff(rig):
    await asyncio.to_thread(rig.sim.a4_printer.set_fault, "door_open", True)
    await rig.start(CERTIFICATE_PRINT)
    await identify_with_face(rig)
    text = await rig.result(timeout=60)
    assert not rig.view.result_ok and rig.sim.a4_printer.jobs() == []
    tx = rig.last_tx()
    assert tx.state is TxState.NEEDS_ATTENTION and tx.detail["a4_print"]["state"] == "sent"
    assert ("certificate_not_printed", "job_aborted") in rig.problems
    assert text


async def collect(rig):
    await rig.start(DOCUMENT_COLLECTION)
    await identify_with_face(rig)
    await confirm_phone(rig)


async def test_a_finished_document_is_dispensed_and_taken(rig):
    await collect(rig)
    dispenser = rig.sim.dispenser
    while dispenser.position.name != "MOUTH":
        await asyncio.sleep(0.05)
    # Journaled before the unit moved: the transaction names the document and its slot.
    assert rig.last_tx().state is TxState.SUBMITTED
    assert rig.last_tx().detail["document_no"] == "DOC-RS-000456"
    assert dispenser.take_card()
    text = await rig.result()
    assert rig.view.result_ok and "您已领取：社会保障卡" in text
    assert rig.sim.backends.hall.documents["DOC-RS-000456"]["status"] == "collected"
    assert rig.last_tx().state is TxState.CLOSED
    assert rig.last_tx().detail["handover"] == "taken"
    messages = rig.sim.backends.sms.messages
    assert messages[-1]["to"] == CITIZEN_PHONE and "已于自助终端领取" in messages[-1]["text"]
    assert CITIZEN_PHONE not in str(rig.last_tx().detail)


async def test_a_document_left_at_the_mouth_is_retained_journaled_and_reported(rig):
    await collect(rig)
    text = await rig.result(timeout=30)
    dispenser = rig.sim.dispenser
    assert not rig.view.result_ok and "已安全回收" in text
    assert dispenser.bin_count == 1 and dispenser.position.name == "NONE"
    tx = rig.last_tx()
    assert tx.detail["handover"] == "retained" and tx.state is TxState.CLOSED
    assert ("fulfilled", "document_retained") in [(h[1], h[2]) for h in
                                                  rig.ctx.journal.history(tx.tx_id)]
    assert ("document_retained", "DOC-RS-000456") in rig.problems
    assert rig.sim.backends.hall.documents["DOC-RS-000456"]["status"] == "retained"


@pytest.mark.parametrize("fault,message,problem", [
    ("stock_empty", "证件暂未放入自助取证柜", "document_slot_empty"),
    ("jam", "仍安全保存在机内", "document_jam"),
])
async def test_an_empty_slot_or_a_jam_ends_plainly_and_loses_nothing(rig, fault, message,
                                                                     problem):
    rig.sim.dispenser.set_fault(fault, True)
    await collect(rig)
    text = await rig.result()
    assert not rig.view.result_ok and message in text
    assert rig.sim.backends.hall.documents["DOC-RS-000456"]["status"] == "ready"
    assert rig.sim.dispenser.bin_count == 0
    tx = rig.last_tx()
    assert tx.state is TxState.CANCELLED and tx.detail["document_no"] == "DOC-RS-000456"
    assert problem in [kind for kind, _ in rig.problems]


async def test_prereview_texts_the_citizen_with_the_items_time_limit(rig):
    await rig.start(MATERIALS_PREREVIEW)
    await rig.until(ScreenId.READ_IDCARD)
    rig.sim.idcard_reader.insert()
    await rig.until(ScreenId.SCAN_DOCUMENT)
    rig.sim.document_composer.scene = "text_page"
    while rig.view.scan_index < 2 and rig.view.screen is ScreenId.SCAN_DOCUMENT:
        await asyncio.sleep(0.02)
    rig.sim.document_composer.scene = "form"
    await confirm_phone(rig)
    text = await rig.result(timeout=60)
    rig.sim.document_composer.scene = "empty"
    rig.sim.idcard_reader.remove()
    assert rig.view.result_ok and "3个工作日" in text and "138****5678" in text
    receipt = await rig.receipt(1)
    assert "3个工作日 / 3 working days" in receipt and "138****5678" in receipt
    assert CITIZEN_PHONE not in receipt
    (received,) = rig.sim.backends.sms.messages
    assert received["to"] == CITIZEN_PHONE and "3个工作日内" in received["text"]
    # The receipt's QR code finds the application; three working days later it has passed.
    tx_id = rig.last_tx().tx_id
    rig.sim.backends.hall.advance(3 * 86400 + 60)
    rig.session.finish()
    await rig.start(PROGRESS_LOOKUP)
    await rig.until(ScreenId.READ_IDCARD)
    await rig.scan(tx_id)
    await rig.until(ScreenId.CONFIRM)
    assert "预审通过" in rig.view.confirm_lines[0][1]
    assert "已通过" in rig.sim.backends.sms.messages[-1]["text"]


async def test_a_traffic_fine_is_paid_with_its_late_fee(rig):
    await rig.start(TRAFFIC_FINE)
    await rig.until(ScreenId.ENTER_ACCOUNT)
    await rig.scan(FINE_DECISION_OVERDUE)   # the decision's barcode
    await rig.until(ScreenId.CONFIRM)
    assert rig.view.fee_fen == 7250      # 50 yuan and 15 days' 3% late fee
    rig.session.choose_option("confirm")
    await rig.until(ScreenId.PAY)
    rig.sim.gateway.pay(code_url=rig.view.qr_payload)
    text = await rig.result()
    assert rig.view.result_ok and "72.50" in text
    (payment,) = rig.sim.backends.hall.fine_payments.values()
    assert payment["amount_fen"] == 7250
    assert rig.sim.backends.hall.fines[FINE_DECISION_OVERDUE]["paid"]
    assert "交通违法罚款缴款凭证" in await rig.receipt(1)
