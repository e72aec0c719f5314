"""Card inserted / removed events from the chip reader's watch (SCardGetStatusChange on the
reader's worker), through the real pcscd and vpcd, and across a pcscd restart.

Takes the vpcd card slot AND restarts the machine's pcscd: run it only when you own the slot
(`KIOSK_VPCD_SLOT=1` on a shared machine) and nobody else's chip tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from drivers.pcsc import card_present, list_readers
from peripherals.card_presence import CardEvent, CardEventKind
from peripherals.health import DeviceHealth
from peripherals.permit_reader import BacKey, PermitReaderService
from simulator.icao_chip import IcaoChip, TravelDocumentHolder
from simulator.icao_pki import create_pki
from simulator.pcscd import PcscdNotFound, ensure_pcscd, restart_pcscd, vpcd_reader_name
from simulator.vicc import VirtualCardSlot
from tests.integration.test_chip_over_pcscd import until

READER = vpcd_reader_name()
PKI = create_pki()


@contextlib.asynccontextmanager
async def watching(slice_s: float) -> AsyncIterator[tuple[VirtualCardSlot, PermitReaderService,
                                                          list[CardEvent]]]:
    try:
        await asyncio.to_thread(ensure_pcscd)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    await until(lambda: READER in list_readers())
    await until(lambda: not card_present(READER), timeout=60.0)  # the shared slot is free
    slot = VirtualCardSlot()
    service = PermitReaderService(READER, watch_slice_s=slice_s)
    events: list[CardEvent] = []
    service.on_card(events.append)
    await service.start()
    yield slot, service, events
    await service.stop()
    await slot.remove()


@pytest.fixture
async def watched() -> AsyncIterator[tuple[VirtualCardSlot, PermitReaderService,
                                           list[CardEvent]]]:
    async with watching(0.2) as watch:
        yield watch


async def next_event(events: list[CardEvent], kind: CardEventKind, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not events or events[-1].kind is not kind:
            await asyncio.sleep(0.02)


async def test_insert_and_remove_are_published(watched):
    slot, service, events = watched
    await slot.insert(IcaoChip(TravelDocumentHolder(), pki=PKI))
    await next_event(events, CardEventKind.INSERTED, 5.0)
    await service.wait_for_card(1.0)
    assert service.status().readings["card"] == 1
    await slot.remove()
    await next_event(events, CardEventKind.REMOVED, 5.0)
    assert [e.kind for e in events] == [CardEventKind.INSERTED, CardEventKind.REMOVED]


@pytest.mark.serial  # restarts pcscd: every other test's reader goes away meanwhile
async def test_the_watch_survives_a_pcscd_restart_and_sees_the_next_insert(watched):
    slot, service, events = watched
    assert service.status().health is DeviceHealth.OK
    await asyncio.to_thread(restart_pcscd)
    await until(lambda: READER in list_readers(), timeout=10.0)
    await slot.insert(IcaoChip(TravelDocumentHolder(), pki=PKI))
    await next_event(events, CardEventKind.INSERTED, 15.0)
    assert service.status().health is DeviceHealth.OK
    assert service.status().readings["card"] == 1


@pytest.fixture
async def long_slices() -> AsyncIterator[tuple[VirtualCardSlot, PermitReaderService,
                                               list[CardEvent]]]:
    """A watch whose slices last 30 s: anything queued behind one would wait that long."""
    async with watching(30.0) as watch:
        yield watch


async def test_a_read_does_not_wait_behind_the_watch(long_slices):
    """The citizen's card is read as soon as it is seen: the read and the card check cut the
    watch's slice short (SCardCancel), instead of waiting up to a slice behind it."""
    slot, service, events = long_slices
    holder = TravelDocumentHolder()
    await slot.insert(IcaoChip(holder, pki=PKI))
    await next_event(events, CardEventKind.INSERTED, 5.0)
    await asyncio.sleep(0.5)   # the watch is well into its next 30 s slice
    async with asyncio.timeout(10):
        await service.wait_for_card(5.0)
        read = await service.read_permit(
            BacKey(holder.document_number, holder.birth_date, holder.expiry_date))
    assert read.mrz.document_number == holder.document_number
    await slot.remove()
    await next_event(events, CardEventKind.REMOVED, 5.0)   # the watch goes on after a cut
