"""The chip reader's watch against the real pcscd, without a card (no vpcd slot taken): health
from the watch, one PC/SC context kept across looks, a missing reader said at once.
Inserts, removes and a pcscd restart: tests/integration/test_reader_watch_over_pcscd.py."""

from __future__ import annotations

import asyncio

import pytest

from drivers.pcsc import list_readers
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceHealth
from peripherals.permit_reader import PermitReaderService
from simulator.pcscd import PcscdNotFound, ensure_pcscd, vpcd_reader_name


@pytest.fixture
async def pcscd() -> None:
    try:
        await asyncio.to_thread(ensure_pcscd)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))


async def test_a_missing_reader_is_offline_and_waiting_for_a_card_says_so_at_once(pcscd):
    service = PermitReaderService("No Such Reader", watch_slice_s=0.1)
    await service.start()
    try:
        status = service.status()
        assert status.health is DeviceHealth.OFFLINE
        assert status.reason is DeviceReason.READER_UNAVAILABLE
        async with asyncio.timeout(2.0):                 # not after the 30 s asked for
            with pytest.raises(DeviceError) as info:
                await service.wait_for_card(30.0)
        assert info.value.reason is DeviceReason.READER_UNAVAILABLE
    finally:
        await service.stop()


async def test_the_reader_is_watched_through_one_pc_sc_context(pcscd):
    reader = vpcd_reader_name()
    assert reader in await asyncio.to_thread(list_readers)
    service = PermitReaderService(reader, watch_slice_s=0.1)
    await service.start()
    try:
        status = await service.refresh()
        assert status.health is DeviceHealth.OK and status.readings["card"] in (0, 1)
        context = service._watcher._context
        for _ in range(5):
            await service.refresh()
            await asyncio.sleep(0.1)                     # the watch runs slices meanwhile
        assert context is not None and service._watcher._context == context
    finally:
        await service.stop()
