"""The scanner driver against the simulated serial scanner, over a real pty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.barcode_scanner import (
    BarcodeScanner,
    LineDecoder,
    LineNoise,
    MenuReply,
    ScanLine,
    ScannerError,
    ScannerFailure,
)
from simulator.barcode_scanner import BarcodeScannerSimulator

PAYMENT_CODE = "134567890123456789"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[BarcodeScannerSimulator]:
    simulator = BarcodeScannerSimulator(tmp_path / "ttySCAN")
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def scanner(sim) -> AsyncIterator[BarcodeScanner]:
    driver = BarcodeScanner(sim.endpoint["port"], timeout=0.3)
    await asyncio.to_thread(driver.connect)
    yield driver
    await asyncio.to_thread(driver.close)


async def failure_of(fn, *args) -> ScannerFailure:
    with pytest.raises(ScannerError) as caught:
        await asyncio.to_thread(fn, *args)
    return caught.value.reason


def test_decoder_splits_scans_and_menu_replies():
    decoder = LineDecoder(b"\r")
    data = b"APPT-ABC123\rREVINFmodel 1\x06.\n" + PAYMENT_CODE.encode() + b"\r"
    tokens = [t for i in range(len(data)) for t in decoder.feed(data[i : i + 1])]
    assert tokens == [
        ScanLine("APPT-ABC123"),
        MenuReply("REVINF", "model 1", True),
        ScanLine(PAYMENT_CODE),
    ]


def test_decoder_reports_noise_and_overlong_lines():
    decoder = LineDecoder(b"\r", max_line=16)
    assert isinstance(decoder.feed(b"\xff\x00\x1b\r")[0], LineNoise)
    assert isinstance(decoder.feed(b"9" * 40)[0], LineNoise)
    assert decoder.feed(b"123\r") == [ScanLine("123")]


def test_scan_repr_hides_the_code():
    assert PAYMENT_CODE not in repr(ScanLine(PAYMENT_CODE))


@settings(max_examples=400, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=80), max_size=20),
    suffix=st.sampled_from([b"\r", b"\n", b"\r\n", b"\t"]),
)
def test_decoder_survives_any_bytes(chunks, suffix):
    decoder = LineDecoder(suffix, max_line=256)
    started = time.monotonic()
    for chunk in chunks:
        for token in decoder.feed(chunk):
            assert isinstance(token, ScanLine | MenuReply | LineNoise)
            if isinstance(token, ScanLine):
                assert token.data.isprintable()
    assert len(decoder._buffer) <= 256 + len(suffix) + 80
    assert time.monotonic() - started < 2.0


async def test_scans_arrive_in_order(sim, scanner):
    sim.scan(PAYMENT_CODE)
    sim.scan("账单 0012345678")
    scans = []
    while len(scans) < 2:
        scans += await asyncio.to_thread(scanner.read_scans, 0.5)
    assert [s.data for s in scans] == [PAYMENT_CODE, "账单 0012345678"]


async def test_info_query_is_answered(sim, scanner):
    assert "HSM" in await asyncio.to_thread(scanner.query_info)
    assert sim.queries_answered == 1


async def test_scan_waiting_during_a_query_is_kept(sim, scanner):
    sim.scan("YY12345678")
    await asyncio.sleep(0.05)
    await asyncio.to_thread(scanner.query_info)
    assert [s.data for s in await asyncio.to_thread(scanner.read_scans, 0.1)] == ["YY12345678"]


async def test_silent_scanner_does_not_answer(sim, scanner):
    sim.set_fault("silent", True)
    assert await failure_of(scanner.query_info) is ScannerFailure.NO_REPLY
    assert not sim.scan("123")
    sim.set_fault("silent", False)
    assert await asyncio.to_thread(scanner.query_info)


async def test_garbage_is_reported_as_garbled(sim, scanner):
    sim.set_fault("garbage", True)
    assert await failure_of(scanner.query_info) is ScannerFailure.GARBLED
    sim.scan("123456")
    assert await failure_of(scanner.read_scans, 0.5) is ScannerFailure.GARBLED
    sim.set_fault("garbage", False)
    assert await asyncio.to_thread(scanner.query_info)


async def test_unplug_and_replug(sim, scanner):
    sim.unplug()
    assert await failure_of(scanner.query_info) is ScannerFailure.OFFLINE
    sim.plug()
    assert await asyncio.to_thread(scanner.query_info)
