"""The receipt printer driver over each transport (TCP, serial pty, USB through pyusb with the
simulator's backend), against one simulated printer, and its status decoding under fuzz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import usb.core
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drivers.escpos_usb import UsbReceiptPrinter
from drivers.receipt_layout import CjkMode, ReceiptDocument, ReceiptLine
from drivers.receipt_printer import (
    EscposReceiptPrinter,
    PrinterError,
    PrinterFailure,
    ReceiptPrinter,
    SerialReceiptPrinter,
    decode_paper_sensor,
    decode_status,
)
from simulator.escpos_printer import EscposPrinterSimulator

DOC = ReceiptDocument((ReceiptLine("收据 Receipt"), ReceiptLine("No. 42")), qr="TX-42")


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[EscposPrinterSimulator]:
    simulator = EscposPrinterSimulator(tmp_path / "receipts", serial_link=tmp_path / "ttyPRN")
    await simulator.start()
    yield simulator
    await simulator.stop()


def make_printer(sim: EscposPrinterSimulator, transport: str) -> ReceiptPrinter:
    if transport == "tcp":
        return EscposReceiptPrinter("127.0.0.1", sim.port, timeout=0.5)
    if transport == "serial":
        return SerialReceiptPrinter(sim.endpoint["serial_port"], timeout=0.5)
    usb = sim.endpoint["usb"]
    return UsbReceiptPrinter(usb["vendor_id"], usb["product_id"], 0.5, sim.usb_backend)


@pytest.fixture(params=["tcp", "serial", "usb"])
async def printer(request, sim) -> AsyncIterator[ReceiptPrinter]:
    driver = make_printer(sim, request.param)
    yield driver
    await asyncio.to_thread(driver.close)


async def failure_of(fn, *args) -> PrinterFailure:
    with pytest.raises(PrinterError) as caught:
        await asyncio.to_thread(fn, *args)
    return caught.value.reason


async def test_prints_over_each_transport(sim, printer):
    await asyncio.to_thread(printer.print_document, DOC)
    (receipt,) = await sim.wait_for_receipts(1)
    assert receipt.text.splitlines() == ["收据 Receipt", "No. 42"]
    assert receipt.qr_payloads == ("TX-42",)


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ("paper_out", "paper_out"),
        ("paper_near_end", "paper_near_end"),
        ("cover_open", "cover_open"),
        ("cutter_error", "cutter_error"),
    ],
)
async def test_sensor_faults_show_in_the_status(sim, printer, fault, field):
    assert not getattr(await asyncio.to_thread(printer.status), field)
    sim.set_fault(fault, True)
    assert getattr(await asyncio.to_thread(printer.status), field)
    sim.set_fault(fault, False)
    assert not getattr(await asyncio.to_thread(printer.status), field)


async def test_cutter_error_refuses_printing(sim, printer):
    sim.set_fault("cutter_error", True)
    assert await failure_of(printer.print_document, DOC) is PrinterFailure.CUTTER_ERROR
    assert sim.receipts == []


async def test_silent_printer_is_no_reply_until_it_answers_again(sim, printer):
    sim.set_fault("silent", True)
    assert await failure_of(printer.status) is PrinterFailure.NO_REPLY
    sim.set_fault("silent", False)
    assert (await asyncio.to_thread(printer.status)).online


async def test_garbage_status_is_an_io_error(sim, printer):
    sim.set_fault("garbage", True)
    assert await failure_of(printer.status) is PrinterFailure.IO_ERROR
    sim.set_fault("garbage", False)
    assert (await asyncio.to_thread(printer.status)).online


async def test_unplug_then_replug(sim, printer):
    assert (await asyncio.to_thread(printer.status)).online
    sim.unplug()
    assert await failure_of(printer.status) is PrinterFailure.OFFLINE
    sim.plug()
    await asyncio.to_thread(printer.print_document, DOC)
    assert len(await sim.wait_for_receipts(1)) == 1


async def test_the_paper_roll_runs_down_to_near_end_then_out(tmp_path):
    sim = EscposPrinterSimulator(tmp_path, roll_mm=200, near_end_mm=120)
    await sim.start()
    printer = EscposReceiptPrinter("127.0.0.1", sim.port, timeout=0.5)
    try:
        states = []
        for count in range(1, 6):
            try:
                await asyncio.to_thread(printer.print_document, DOC)
            except PrinterError as error:
                states.append(error.reason)
                break
            await sim.wait_for_receipts(count)
            states.append((await asyncio.to_thread(printer.status)).paper_near_end)
        assert states[0] is False and True in states
        assert states[-1] is PrinterFailure.PAPER_OUT and sim.paper_remaining_mm == 0
        sim.load_paper()
        assert not (await asyncio.to_thread(printer.status)).paper_out
    finally:
        await asyncio.to_thread(printer.close)
        await sim.stop()


async def test_usb_device_disappears_from_the_bus_when_unplugged(sim):
    found = usb.core.find(idVendor=0x0416, idProduct=0x5011, backend=sim.usb_backend)
    assert found is not None and found.bDeviceClass == 0
    sim.unplug()
    assert usb.core.find(idVendor=0x0416, backend=sim.usb_backend) is None


async def test_cjk_lines_as_raster_draw_about_the_ink_the_code_page_draws(sim, tmp_path):
    line = ReceiptDocument((ReceiptLine("出入境签注"),))
    for mode in (CjkMode.RASTER, CjkMode.CODE_PAGE):
        printer = SerialReceiptPrinter(sim.endpoint["serial_port"], timeout=0.5, cjk=mode)
        try:
            await asyncio.to_thread(printer.print_document, line)
        finally:
            await asyncio.to_thread(printer.close)
    raster, text = await sim.wait_for_receipts(2)
    assert raster.text == "" and text.text == "出入境签注"  # the bitmap carries no text
    inks = [
        int((np.asarray(Image.open(r.png_path).convert("L")) < 128).sum()) for r in (raster, text)
    ]
    assert inks[0] > 200 and 0.4 < inks[0] / inks[1] < 2.5


status_bytes = st.one_of(st.binary(max_size=3), st.integers(0, 255).map(lambda b: bytes([b])))


@settings(max_examples=500, deadline=None)
@given(r1=status_bytes, r2=status_bytes, r3=status_bytes, r4=status_bytes)
def test_status_decoding_accepts_valid_bytes_and_rejects_the_rest(r1, r2, r3, r4):
    replies = {1: r1, 2: r2, 3: r3, 4: r4}
    valid = all(len(r) == 1 and r[0] & 0x93 == 0x12 for r in replies.values())
    try:
        status = decode_status(replies)
    except PrinterError as error:
        assert error.reason is PrinterFailure.IO_ERROR and not valid
    else:
        assert valid and status.paper_out == (r4[0] & 0x60 == 0x60)


@settings(max_examples=200, deadline=None)
@given(reply=st.binary(max_size=3))
def test_gs_r_decoding_never_raises_anything_else(reply):
    try:
        near_end, out = decode_paper_sensor(reply)
    except PrinterError as error:
        assert error.reason is PrinterFailure.IO_ERROR
    else:
        assert len(reply) == 1 and out == bool(reply[0] & 0x0C)
