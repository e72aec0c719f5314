"""The travel-permit chip path end to end: virtual card -> vpcd -> pcscd -> pyscard -> reader.

pyscard calls block, so they run in worker threads while the virtual card is served
on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from drivers.icao9303 import EfCom, IcaoReader
from drivers.pcsc import (
    CardAbsent,
    CardRemoved,
    NoReader,
    PcscConnection,
    card_present,
    list_readers,
)
from simulator.icao_chip import IcaoChip, TravelDocumentHolder
from simulator.pcscd import PcscdNotFound, ensure_pcscd, pcscd_running, port_listening
from simulator.vicc import VirtualCardSlot

READER = "Virtual PCD 00 00"  # vpcd slot 0, TCP 35963

HOLDER = TravelDocumentHolder(
    document_code="CS", issuing_state="CHN", document_number="C98765432",
    birth_date="850302", sex="M", expiry_date="310302", nationality="CHN",
    surname="CHEN", given_names="JIAN GUO",
)  # fmt: skip


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a blocking predicate in a thread until it holds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def slot() -> AsyncIterator[VirtualCardSlot]:
    try:
        await asyncio.to_thread(ensure_pcscd)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    await until(lambda: READER in list_readers())
    await until(lambda: not card_present(READER))  # the slot is free
    slot = VirtualCardSlot()
    yield slot
    await slot.remove()
    await until(lambda: not card_present(READER))


async def test_reader_listed_and_card_detected(slot: VirtualCardSlot) -> None:
    assert READER in await asyncio.to_thread(list_readers)
    assert not await asyncio.to_thread(card_present, READER)
    await slot.insert(IcaoChip(HOLDER))
    assert slot.inserted
    await until(lambda: card_present(READER))


async def test_read_ef_com_and_dg1(slot: VirtualCardSlot) -> None:
    await slot.insert(IcaoChip(HOLDER))
    await until(lambda: card_present(READER))

    def read() -> tuple[EfCom, object, int]:
        with PcscConnection() as connection:
            connection.connect(READER)
            reader = IcaoReader(connection)
            reader.select_application()
            return reader.read_ef_com(), reader.read_dg1(), connection.apdu_count

    ef_com, mrz, apdus = await asyncio.to_thread(read)
    assert ef_com == EfCom("0107", "040000", (1,))
    assert mrz.check_digits_ok
    assert (mrz.document_code, mrz.issuing_state, mrz.nationality) == ("CS", "CHN", "CHN")
    assert mrz.document_number == "C98765432"
    assert (mrz.birth_date, mrz.sex, mrz.expiry_date) == ("850302", "M", "310302")
    assert (mrz.surname, mrz.given_names) == ("CHEN", "JIAN GUO")
    assert apdus == 1 + 3 + 3  # select app; per file: select EF, head, rest


async def test_card_removed_mid_read(slot: VirtualCardSlot) -> None:
    chip = IcaoChip(HOLDER, slow_s=0.3)
    await slot.insert(chip)
    await until(lambda: card_present(READER))
    connection = PcscConnection()
    await asyncio.to_thread(connection.connect, READER)
    reader = IcaoReader(connection, max_read=8)  # many small reads

    async def pull_card() -> None:
        while chip.apdu_count < 4:
            await asyncio.sleep(0.02)
        await slot.remove()

    puller = asyncio.create_task(pull_card())
    try:
        with pytest.raises(CardRemoved):
            await asyncio.to_thread(lambda: (reader.select_application(), reader.read_dg1()))
        await puller
        assert not slot.inserted
        await slot.remove()  # idempotent
        await until(lambda: not card_present(READER), timeout=2.0)
        with pytest.raises(CardRemoved):
            await asyncio.to_thread(connection.transmit, bytes.fromhex("00B0000004"))
    finally:
        puller.cancel()
        await asyncio.to_thread(connection.disconnect)
    await asyncio.to_thread(connection.disconnect)  # idempotent


async def test_connect_errors(slot: VirtualCardSlot) -> None:
    with pytest.raises(CardAbsent):
        await asyncio.to_thread(PcscConnection().connect, READER)
    with pytest.raises(NoReader):
        await asyncio.to_thread(PcscConnection().connect, "No Such Reader 00 00")
    with pytest.raises(NoReader):
        await asyncio.to_thread(card_present, "No Such Reader 00 00")


def test_ensure_pcscd_is_idempotent() -> None:
    try:
        ensure_pcscd(timeout=5.0)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    ensure_pcscd(timeout=1.0)
    assert pcscd_running() and port_listening(35963)
