"""The session's technician mode, pressed as the screen presses it, on the real kiosk core with
its device manager watching the simulator's devices over their real transports (no card is put
in the chip reader: these tests do not take the vpcd slot)."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.pin import hash_pin
from kiosk.viewmodel import ScreenId
from peripherals.base import DeviceService
from simulator.reference import TECHNICIAN_PIN
from simulator.runtime import Simulator, SimulatorOptions


@pytest.fixture
async def kiosk(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    endpoints = await sim.start()
    overrides = simulator_overrides(endpoints)
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["technician"] = {"pin_hash": hash_pin(TECHNICIAN_PIN)}
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    yield sim, ctx, session, manager
    await close_context(ctx, session)
    await sim.stop()


def sign_in_technician(ctx, session) -> None:
    for _ in range(5):
        session.technician_tap()                 # the attract headline's five quick taps
    assert ctx.view.screen is ScreenId.TECHNICIAN_PIN
    for digit in TECHNICIAN_PIN:
        session.key_press(digit)
    session.key_press("ok")
    assert ctx.view.screen is ScreenId.TECHNICIAN


async def note_after_self_test(ctx, session, timeout: float = 15.0) -> str:
    session.technician_action("self_test")       # what the screen's self-test button sends
    async with asyncio.timeout(timeout):
        while not ctx.view.technician_note:
            await asyncio.sleep(0.05)
    return ctx.view.technician_note


async def test_self_test_button_counts_every_device_of_the_kiosk(kiosk):
    sim, ctx, session, manager = kiosk
    sign_in_technician(ctx, session)
    total = len(manager.devices)
    assert total >= 5
    note = await note_after_self_test(ctx, session)
    assert note == ctx.view.t("tech.self_test_done", passed=total, total=total)


async def test_self_test_button_names_an_unplugged_device_as_failed(kiosk):
    sim, ctx, session, manager = kiosk
    sign_in_technician(ctx, session)
    sim.printer.unplug()
    total = len(manager.devices)
    note = await note_after_self_test(ctx, session)
    assert note == ctx.view.t("tech.self_test_done", passed=total - 1, total=total)
    rows = {row[0]: row for row in ctx.view.device_rows}
    assert rows["receipt_printer"][1] == "offline"
    sim.printer.plug()


async def test_self_test_lists_a_self_test_event_for_every_device(kiosk):
    sim, ctx, session, manager = kiosk
    sign_in_technician(ctx, session)
    await note_after_self_test(ctx, session)
    await asyncio.sleep(0.05)                    # the manager publishes each device's event
    tested = {line.split()[1] for line in ctx.view.device_events if "self_test" in line.split()}
    assert tested == set(manager.devices)


async def test_the_manager_watches_the_device_services_themselves(kiosk):
    sim, ctx, session, manager = kiosk
    for name, device in manager.devices.items():
        assert device is getattr(ctx.devices, name)      # no adapter between them
        assert isinstance(device, DeviceService)
