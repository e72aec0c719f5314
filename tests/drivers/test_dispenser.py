"""The dispenser driver against the simulated CRT-571/591-style unit, over a real pty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.dispenser import (
    ACK,
    ENQ,
    NAK,
    STX,
    CardDispenser,
    CardPosition,
    Control,
    DispenserError,
    DispenserFailure,
    Frame,
    FrameReader,
    Garbage,
    StockLevel,
    bcc,
    encode_frame,
    parse_reply,
)
from simulator.dispenser import DispenserSimulator


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[DispenserSimulator]:
    simulator = DispenserSimulator(tmp_path / "ttyDISP", stock=12, stock_low=10, bin_capacity=2)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def unit(sim: DispenserSimulator) -> AsyncIterator[CardDispenser]:
    driver = CardDispenser(sim.endpoint["port"], ack_timeout=0.3, motion_timeout=0.5)
    yield driver
    await asyncio.to_thread(driver.close)


async def call(fn, *args):
    return await asyncio.to_thread(fn, *args)


async def failure_of(fn) -> DispenserFailure:
    with pytest.raises(DispenserError) as caught:
        await call(fn)
    return caught.value.reason


def test_frames_carry_the_xor_of_stx_to_etx():
    frame = encode_frame(0, b"C10")
    assert frame == bytes([STX, 0, 0, 3]) + b"C10" + bytes([0x03, bcc(frame[:-1])])
    assert FrameReader().feed(frame) == [Frame(0, b"C10")]


def test_reader_splits_controls_frames_and_noise_across_chunks():
    data = bytes([ACK]) + b"zz" + encode_frame(5, b"P10002") + bytes([NAK, ENQ])
    reader = FrameReader()
    tokens = [token for i in range(len(data)) for token in reader.feed(data[i : i + 1])]
    assert tokens[0] == Control(ACK) and isinstance(tokens[1], Garbage)
    assert Frame(5, b"P10002") in tokens and tokens[-2:] == [Control(NAK), Control(ENQ)]


def test_a_corrupted_frame_is_noise_not_a_reply():
    frame = bytearray(encode_frame(0, b"P10022"))
    frame[5] ^= 0x01
    assert not any(isinstance(t, Frame) for t in FrameReader().feed(bytes(frame)))


@settings(max_examples=400, deadline=None)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_reader_survives_any_bytes(chunks):
    reader = FrameReader()
    started = time.monotonic()
    for chunk in chunks:
        for token in reader.feed(chunk):
            assert isinstance(token, Frame | Control | Garbage)
    assert len(reader._buffer) <= 4 + 512 + 2
    assert time.monotonic() - started < 2.0


@settings(max_examples=300, deadline=None)
@given(text=st.binary(max_size=40))
def test_reply_parser_gives_a_reply_or_a_garbled_error(text):
    try:
        reply = parse_reply(text)
    except DispenserError as error:
        assert error.reason is DispenserFailure.GARBLED
    else:
        assert (reply.status is not None) == reply.positive


async def test_status_reports_stock_bin_and_card(unit, sim):
    status = await call(unit.status)
    assert (status.card, status.stock, status.bin_full) == (CardPosition.NONE, StockLevel.OK, False)
    assert "CRT-591" in await call(unit.device_info)


async def test_dispense_print_eject_take(unit, sim):
    assert (await call(unit.dispense)).card is CardPosition.READ_WRITE
    assert sim.stock == 11
    assert (await call(unit.move_to_print)).card is CardPosition.PRINT
    assert (await call(unit.eject)).card is CardPosition.MOUTH
    assert sim.take_card()
    assert (await call(unit.status)).card is CardPosition.NONE


async def test_accept_a_card_from_the_mouth_and_capture_it(unit, sim):
    assert await failure_of(unit.accept) is DispenserFailure.NO_CARD
    sim.insert_card()
    assert (await call(unit.accept)).card is CardPosition.READ_WRITE
    assert (await call(unit.capture)).card is CardPosition.NONE
    assert sim.bin_count == 1


async def test_stock_runs_low_then_empty(unit, sim):
    sim.load_stock(1)
    assert (await call(unit.status)).stock is StockLevel.LOW
    await call(unit.dispense)
    await call(unit.capture)
    assert (await call(unit.status)).stock is StockLevel.EMPTY
    assert await failure_of(unit.dispense) is DispenserFailure.STOCK_EMPTY


async def test_bin_fills_up(unit, sim):
    for _ in range(2):
        await call(unit.dispense)
        await call(unit.capture)
    assert (await call(unit.status)).bin_full
    await call(unit.dispense)
    assert await failure_of(unit.capture) is DispenserFailure.BIN_FULL
    sim.empty_bin()
    assert not (await call(unit.capture)).bin_full


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ("jam", DispenserFailure.JAM),
        ("silent", DispenserFailure.NO_REPLY),
        ("garbage", DispenserFailure.GARBLED),
    ],
)
async def test_fault_switches_fail_the_status_and_clear(unit, sim, fault, failure):
    sim.set_fault(fault, True)
    assert await failure_of(unit.status) is failure
    sim.set_fault(fault, False)
    assert (await call(unit.status)).stock is StockLevel.OK


async def test_stock_empty_and_bin_full_switches(unit, sim):
    sim.set_fault("stock_empty", True)
    sim.set_fault("bin_full", True)
    status = await call(unit.status)
    assert status.stock is StockLevel.EMPTY and status.bin_full
    assert await failure_of(unit.dispense) is DispenserFailure.STOCK_EMPTY


async def test_unplugged_unit_is_offline_and_back_after_replug(unit, sim):
    await call(unit.status)
    sim.unplug()
    assert await failure_of(unit.status) is DispenserFailure.OFFLINE
    assert not unit.connected
    sim.plug()
    assert (await call(unit.status)).card is CardPosition.NONE


async def test_a_nak_makes_the_host_send_again(unit, sim):
    real = sim._on_data
    corrupted = []

    def corrupt_first_frame(data: bytes) -> None:
        if not corrupted and data[:1] == bytes([STX]):
            corrupted.append(data)
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        real(data)

    sim._port.on_data = corrupt_first_frame
    assert (await call(unit.status)).stock is StockLevel.OK
    assert corrupted and sim.counters["naks"] == 1
