"""The receipt printer driver against the simulated network printer, over real TCP."""

import asyncio
import logging
import socket

import numpy as np
import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from drivers.receipt_layout import Align, ReceiptDocument, ReceiptLine, compose
from drivers.receipt_printer import (
    EscposReceiptPrinter,
    PrinterError,
    PrinterFailure,
    PrinterOffline,
    PrinterStatus,
)
from simulator.escpos_printer import EscposPrinterSimulator

DOCUMENT = ReceiptDocument(
    lines=(
        ReceiptLine("出入境签注 自助办理回执", align="center", bold=True, double=True),
        ReceiptLine("Exit-Entry Endorsement Receipt", align=Align.CENTER),
        ReceiptLine(""),
        ReceiptLine("证件号码 Permit No.: C1234****"),
        ReceiptLine("姓名 Name: 张*"),
        ReceiptLine("Fee 费用: CNY 15.00", align="right", bold=True),
        ReceiptLine("2024-05-01 03:12  Kiosk ZS-0042"),
    ),
    qr="https://kiosk.example/r/7f3a9c",
    qr_caption="扫码查询办理进度 Scan to track",
)


@pytest.fixture
async def simulator(tmp_path):
    sim = EscposPrinterSimulator(tmp_path / "receipts")
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def printer(simulator):
    driver = EscposReceiptPrinter("127.0.0.1", simulator.port, timeout=2.0)
    yield driver
    await asyncio.to_thread(driver.close)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_printed_receipt_has_the_lines_and_a_scannable_qr(simulator, printer):
    await asyncio.to_thread(printer.print_document, DOCUMENT)
    (receipt,) = await simulator.wait_for_receipts(1)

    expected = [line.text for line in DOCUMENT.lines] + [DOCUMENT.qr_caption]
    assert receipt.text.splitlines() == expected
    assert receipt.txt_path.read_text(encoding="utf-8").splitlines() == expected
    assert receipt.qr_payloads == (DOCUMENT.qr,)
    assert receipt.txt_path.name == "receipt-0001.txt"

    png = Image.open(receipt.png_path)
    assert png.width == 576
    ink = np.asarray(png.convert("L")) < 128
    assert ink.mean() > 0.02
    assert [symbol.data.decode() for symbol in decode(png)] == [DOCUMENT.qr]


async def test_receipts_accumulate_across_connections(simulator):
    for _ in range(2):
        driver = EscposReceiptPrinter("127.0.0.1", simulator.port)
        await asyncio.to_thread(driver.print_document, ReceiptDocument((ReceiptLine("hi"),)))
        await asyncio.to_thread(driver.close)
    receipts = await simulator.wait_for_receipts(2)
    assert [r.index for r in receipts] == [1, 2]
    assert receipts[1].png_path.name == "receipt-0002.png"


async def test_status_reports_a_healthy_printer(printer):
    status = await asyncio.to_thread(printer.status)
    assert status == PrinterStatus(
        online=True, cover_open=False, paper_near_end=False, paper_out=False
    )


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("paper_out", PrinterStatus(False, False, False, True)),
        ("paper_near_end", PrinterStatus(True, False, True, False)),
        ("cover_open", PrinterStatus(False, True, False, False)),
    ],
)
async def test_status_reports_each_fault_switch(simulator, printer, flag, expected):
    setattr(simulator, flag, True)
    assert await asyncio.to_thread(printer.status) == expected
    setattr(simulator, flag, False)
    assert (await asyncio.to_thread(printer.status)).online


@pytest.mark.parametrize(
    ("flag", "reason"),
    [("paper_out", PrinterFailure.PAPER_OUT), ("cover_open", PrinterFailure.COVER_OPEN)],
)
async def test_printing_is_refused_when_the_printer_cannot_print(simulator, printer, flag, reason):
    setattr(simulator, flag, True)
    with pytest.raises(PrinterError) as caught:
        await asyncio.to_thread(printer.print_document, DOCUMENT)
    assert caught.value.reason is reason
    assert simulator.receipts == []


async def test_near_end_still_prints(simulator, printer):
    simulator.paper_near_end = True
    await asyncio.to_thread(printer.print_document, DOCUMENT)
    assert len(await simulator.wait_for_receipts(1)) == 1


def test_offline_when_nothing_listens():
    driver = EscposReceiptPrinter("127.0.0.1", free_port(), timeout=1.0)
    with pytest.raises(PrinterOffline) as caught:
        driver.status()
    assert caught.value.reason is PrinterFailure.OFFLINE
    with pytest.raises(PrinterOffline):
        driver.print_document(DOCUMENT)


async def test_offline_when_the_printer_goes_away_and_back_after_it_returns(tmp_path, caplog):
    sim = EscposPrinterSimulator(tmp_path)
    await sim.start()
    driver = EscposReceiptPrinter("127.0.0.1", sim.port, timeout=1.0)
    assert (await asyncio.to_thread(driver.status)).online
    port = sim.port
    await sim.stop()  # hangs up on the connected driver
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with pytest.raises(PrinterOffline):
        await asyncio.to_thread(driver.status)
    assert not driver.connected

    sim = EscposPrinterSimulator(tmp_path, port=port)
    await sim.start()
    try:
        assert (await asyncio.to_thread(driver.status)).online  # reconnects by itself
    finally:
        await asyncio.to_thread(driver.close)
        await sim.stop()


def test_lines_cannot_smuggle_control_bytes():
    with pytest.raises(ValueError):
        ReceiptLine("total\x1bi")


def test_chinese_lines_are_sent_in_kanji_mode():
    data = compose(ReceiptDocument((ReceiptLine("签注"), ReceiptLine("plain"))))
    assert b"\x1c&" + "签注".encode("gb18030") + b"\x1c.\n" in data
    assert b"plain\n" in data and data.endswith(b"\x1dV\x00")
