"""The identity-card path end to end: simulated SAM reader on a pty -> pyserial -> the service.

The simulator runs on the test's loop; the service's pyserial calls run on its worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from drivers.gb11643 import is_valid
from drivers.idcard_sam import SamReader, SerialTransport
from peripherals.errors import DeviceError, DeviceReason
from peripherals.idcard_reader import IdCardReaderService
from simulator.idcard_reader import (
    IdCardFault,
    IdCardReaderSimulator,
    ResidentCard,
    add_control_routes,
)

CARD = ResidentCard(
    name="欧阳建国", sex="1", ethnicity="03", birth_date="19851120",
    address="广东省中山市东区兴中道二十号", id_number="440524188001010014",
    issuing_authority="中山市公安局东区分局", valid_from="20180101", valid_to="长期",
)  # fmt: skip


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[IdCardReaderSimulator]:
    simulator = IdCardReaderSimulator(tmp_path / "ttyIDCARD", CARD)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def service(sim: IdCardReaderSimulator) -> AsyncIterator[IdCardReaderService]:
    svc = IdCardReaderService(sim.path, poll_s=0.05, command_timeout=0.3, read_timeout=0.5)
    yield svc
    await svc.stop()


async def expect(reason: DeviceReason, awaitable) -> None:
    with pytest.raises(DeviceError) as err:
        await awaitable
    assert err.value.reason is reason


async def test_reads_the_card_on_the_reader(sim, service) -> None:
    read = await service.read()
    assert read.text.name == CARD.name and read.text.id_number == CARD.id_number
    assert read.text.ethnicity_name == "回" and read.text.valid_to == "长期"
    assert read.text.id_number_valid
    assert read.photo == CARD.photo_bytes() and len(read.photo) == 1024
    assert CARD.name not in repr(read) and CARD.id_number not in repr(read)
    assert sim.commands == [0x2001, 0x2002, 0x3001]


async def test_default_simulated_citizen_has_a_valid_number(tmp_path: Path) -> None:
    assert is_valid(ResidentCard().id_number)
    assert len(ResidentCard().photo_bytes()) == 1024


async def test_no_card_gives_no_card_and_waiting_times_out(sim, service) -> None:
    sim.remove()
    await expect(DeviceReason.NO_CARD, service.read())
    await expect(DeviceReason.TIMEOUT, service.wait_for_card(0.3))


async def test_no_card_fault_hides_a_card_that_is_there(sim, service) -> None:
    sim.faults.add(IdCardFault.NO_CARD)
    assert sim.present
    await expect(DeviceReason.NO_CARD, service.read())


async def test_waiting_returns_once_a_card_is_laid_on(sim, service) -> None:
    sim.remove()
    asyncio.get_running_loop().call_later(0.3, sim.insert)
    await service.wait_for_card(5.0)
    assert (await service.read()).text.id_number == CARD.id_number


async def test_broken_frames_are_recovered_by_retrying(sim, service) -> None:
    sim.faults.add(IdCardFault.BROKEN_FRAMES)
    for _ in range(2):
        read = await service.read()
        assert read.text.id_number == CARD.id_number and read.photo == CARD.photo_bytes()
    assert len(sim.commands) > 6  # some commands had to be sent again


async def test_slow_answers_within_the_timeout_still_read(sim, service) -> None:
    sim.faults.add(IdCardFault.SLOW)
    sim.slow_s = 0.15
    assert (await service.read()).text.name == CARD.name


async def test_answers_later_than_the_timeout_mean_a_silent_device(sim, service) -> None:
    sim.faults.add(IdCardFault.SLOW)
    sim.slow_s = 0.6
    await expect(DeviceReason.DEVICE_SILENT, service.read())
    sim.faults.clear()
    await asyncio.sleep(0.7)  # the late answer arrives and must not be taken for the next one
    assert (await service.read()).text.name == CARD.name


async def test_silent_reader(sim, service) -> None:
    sim.faults.add(IdCardFault.SILENT)
    await expect(DeviceReason.DEVICE_SILENT, service.read())
    await expect(DeviceReason.DEVICE_SILENT, service.wait_for_card(1.0))


async def test_a_card_that_fails_authentication_is_unreadable(sim, service) -> None:
    sim.faults.add(IdCardFault.UNREADABLE)
    await expect(DeviceReason.CARD_UNREADABLE, service.read())


async def test_unplugged_reader_is_unavailable_until_plugged_back(sim, service) -> None:
    assert await service.card_present()
    sim.unplug()
    await expect(DeviceReason.READER_UNAVAILABLE, service.read())
    await expect(DeviceReason.READER_UNAVAILABLE, service.card_present())
    sim.plug()
    assert (await service.read()).text.id_number == CARD.id_number


async def test_new_address_is_read_when_asked(sim, service) -> None:
    assert (await service.read(with_new_address=True)).new_address is None
    sim.insert(ResidentCard(new_address="广东省中山市南区城南路五号"))
    read = await service.read(with_new_address=True)
    assert read.new_address == "广东省中山市南区城南路五号"
    assert "城南路" not in repr(read)


async def test_driver_reads_fingerprint_and_sam_id_over_the_pty(sim) -> None:
    sim.insert(ResidentCard(fingerprint=bytes(range(256)) * 4))
    transport = await asyncio.to_thread(SerialTransport, sim.path)
    try:
        reader = SamReader(transport, timeout=0.3, read_timeout=0.5)
        assert await asyncio.to_thread(reader.read_sam_id) == "05.01-20240101-0000000001-0001234567"
        contents = await asyncio.to_thread(reader.read_card, True)
        assert contents.fingerprint == bytes(range(256)) * 4
        assert contents.text.id_number == ResidentCard().id_number
    finally:
        transport.close()


async def test_control_routes_drive_the_simulated_reader(sim, service) -> None:
    routes = web.RouteTableDef()
    add_control_routes(routes, sim)
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/idcard"
    try:
        async with aiohttp.ClientSession() as http:
            assert (await (await http.post(f"{base}/remove")).json())["present"] is False
            await expect(DeviceReason.NO_CARD, service.read())
            body = {"card": {"name": "李四", "id_number": "11010519491231002X"}}
            assert (await (await http.post(f"{base}/insert", json=body)).json())["present"]
            assert (await service.read()).text.name == "李四"
            answer = await http.post(f"{base}/fault", json={"fault": "silent", "on": True})
            assert (await answer.json())["faults"] == ["silent"]
            await expect(DeviceReason.DEVICE_SILENT, service.read())
            await http.post(f"{base}/fault", json={"fault": "SILENT", "on": False})
            assert (await http.post(f"{base}/fault", json={"fault": "fire"})).status == 400
            assert (await (await http.post(f"{base}/unplug")).json())["plugged"] is False
            await expect(DeviceReason.READER_UNAVAILABLE, service.read())
            await http.post(f"{base}/plug")
            state = await (await http.get(f"{base}/state")).json()
            assert state["plugged"] and state["faults"] == []
            assert (await service.read()).text.id_number == "11010519491231002X"
    finally:
        await runner.cleanup()


async def test_nothing_personal_reaches_the_log(sim, service, caplog) -> None:
    caplog.set_level("DEBUG")
    sim.faults.add(IdCardFault.BROKEN_FRAMES)
    read = await service.read(with_new_address=True)
    sim.faults.clear()
    sim.remove()
    await expect(DeviceReason.NO_CARD, service.read())
    assert "attempt" in caplog.text  # the retries were logged
    for secret in (CARD.name, CARD.id_number, CARD.address, CARD.birth_date, read.text.name):
        assert secret not in caplog.text
