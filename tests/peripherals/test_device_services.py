"""The device services' own behaviour: a card left at the mouth is retained and recorded, scans
arrive with their kind, printing failures carry their reason, the receipt template prints."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from peripherals.dispenser import Handover
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceEventKind
from peripherals.receipt_printer import (
    Label,
    ReceiptFacts,
    ReceiptPrinterService,
    mask_identifier,
    receipt_document,
)
from peripherals.scan_event import ScanKind

FACTS = ReceiptFacts(
    title=Label("出入境自助签注凭条", "Exit-Entry Self-Service Receipt"),
    transaction_no="ZS0042-20240501-0007",
    kiosk_id="ZS-0042",
    office_hotline="12367",
    issued_at="2024-05-01 03:12:45",
    items=((Label("金额", "Amount"), "15.00 元"),),
    identifiers=((Label("证件号码", "Permit"), "C12345678"),),
)


async def test_card_taken_in_time_is_a_handover(rig):
    await rig.dispenser.dispense()

    async def citizen_takes() -> None:
        await asyncio.sleep(0.15)
        assert rig.dispenser_sim.take_card()

    taker = asyncio.create_task(citizen_takes())
    assert await rig.dispenser.present(take_timeout=2.0) is Handover.TAKEN
    await taker
    assert rig.dispenser_sim.bin_count == 0
    assert rig.dispenser.status().counters["taken"] == 1


async def test_card_left_at_the_mouth_is_retained_and_recorded(rig):
    await rig.dispenser.dispense()
    assert await rig.dispenser.present(take_timeout=0.3) is Handover.RETAINED
    assert rig.dispenser_sim.bin_count == 1 and rig.dispenser_sim.position.name == "NONE"
    assert rig.dispenser.status().counters["retained"] == 1
    retained = [e for e in rig.events if e.kind is DeviceEventKind.CARD_RETAINED]
    assert len(retained) == 1 and retained[0].device == "dispenser"


async def test_card_at_the_mouth_shows_as_degraded(rig):
    rig.dispenser_sim.insert_card()
    await rig.manager.wait_until(
        lambda s: s["dispenser"].reason is DeviceReason.CARD_AT_MOUTH, timeout=5
    )
    await rig.dispenser.accept()
    await rig.manager.wait_until(lambda s: s["dispenser"].reason is None, timeout=5)


async def test_dispense_from_empty_stock_fails_with_its_reason(rig):
    rig.dispenser_sim.load_stock(0)
    with pytest.raises(DeviceError) as caught:
        await rig.dispenser.dispense()
    assert caught.value.reason is DeviceReason.STOCK_EMPTY


async def test_scans_stream_with_their_kind(rig):
    async def collect(n: int):
        out = []
        async for scan in rig.scanner.scans():
            out.append(scan)
            if len(out) == n:
                return out

    collector = asyncio.create_task(collect(2))
    await asyncio.sleep(0.05)
    rig.scanner_sim.scan("134567890123456789")
    rig.scanner_sim.scan("https://yy.example.gov.cn/a?id=88")
    scans = await asyncio.wait_for(collector, 5)
    assert [s.kind for s in scans] == [ScanKind.PAYMENT_CODE, ScanKind.APPOINTMENT]
    assert "134567890123456789" not in repr(scans[0])


async def test_next_scan_filters_by_kind(rig):
    waiter = asyncio.create_task(rig.scanner.next_scan(5, frozenset({ScanKind.PAYMENT_CODE})))
    await asyncio.sleep(0.05)
    rig.scanner_sim.scan("https://yy.example.gov.cn/a?id=88")  # not what is waited for
    rig.scanner_sim.scan("114567890123456789")
    assert (await waiter).data == "114567890123456789"


async def test_print_failure_carries_its_reason_and_is_counted(rig):
    rig.printer_sim.paper_out = True
    with pytest.raises(DeviceError) as caught:
        await rig.printer.print_receipt(receipt_document(FACTS))
    assert caught.value.reason is DeviceReason.PAPER_OUT
    assert rig.printer.status().counters["print_failures"] == 1
    assert rig.printer_sim.receipts == []


def test_identifiers_are_masked_on_the_receipt_and_in_reprs():
    assert mask_identifier("C12345678") == "*******78"
    assert mask_identifier("4405") == "****"
    document = receipt_document(FACTS)
    printed = "\n".join(line.text for line in document.lines)
    assert "C12345678" not in printed and "*******78" in printed
    assert "C12345678" not in repr(FACTS)


@pytest.mark.parametrize("languages", [("zh", "en"), ("zh",), ("en",)])
async def test_template_receipt_prints_as_the_template_says(rig, languages):
    document = receipt_document(FACTS, languages)
    await rig.printer.print_receipt(document)
    (receipt,) = await rig.printer_sim.wait_for_receipts(1)

    lines = receipt.text.splitlines()
    assert lines == [line.text for line in document.lines] + [document.qr_caption]
    assert lines[0] == (FACTS.title.zh if languages[0] == "zh" else FACTS.title.en)
    assert sum(FACTS.transaction_no in line for line in lines) == 2  # its line + the caption
    assert any(line.endswith(FACTS.office_hotline) for line in lines)
    assert ("证件号码" in receipt.text) == ("zh" in languages)
    assert ("Permit" in receipt.text) == ("en" in languages)

    png = Image.open(receipt.png_path)
    assert [s.data.decode() for s in decode(png)] == [FACTS.transaction_no]
    ink_rows = (np.asarray(png.convert("L")) < 128).any(axis=1)
    assert ink_rows.sum() > 24 * len(lines)  # every line left ink


async def test_usb_printer_service_prints_through_the_pyusb_backend(rig):
    service = ReceiptPrinterService.from_endpoint(
        {"usb": rig.printer_sim.endpoint["usb"]}, usb_backend=rig.printer_sim.usb_backend
    )
    try:
        assert (await service.refresh()).health.value == "ok"
        await service.print_receipt(receipt_document(FACTS, ("en",)))
        (receipt,) = await rig.printer_sim.wait_for_receipts(1)
        assert FACTS.transaction_no in receipt.text
        rig.printer_sim.unplug()
        assert (await service.refresh()).reason is DeviceReason.PRINTER_OFFLINE
        rig.printer_sim.plug()
        assert (await service.refresh()).health.value == "ok"
    finally:
        await service.stop()
