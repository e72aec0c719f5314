"""The kiosk and its fleet: the real kiosk core (in-process, on the simulator's devices)
heartbeats to the real fleet server with its devices' live health, a printer fault reaches the
operators as an event, and their commands take effect between citizens."""

from __future__ import annotations

import asyncio
import time

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.fleet_link import FleetLink, wire_devices
from kiosk.fleet_wire import CommandKind
from kiosk.run_state import RunRecord
from kiosk.viewmodel import ScreenId
from simulator.runtime import Simulator, SimulatorOptions
from tests.fleet.fleetkit import Fleet, sqlite_config


async def until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def linked(tmp_path):
    fleet = Fleet(sqlite_config(tmp_path / "fleet"))
    await fleet.start()
    enrolled = await fleet.enroll_kiosk("KIOSK-LINK-01")
    key = tmp_path / "device.key"
    key.write_bytes(enrolled.private_pem)
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides.update(state_dir=str(tmp_path / "kiosk"), kiosk_id="KIOSK-LINK-01",
                     fleet={"server_url": fleet.url, "device_key_path": str(key),
                            "heartbeat_interval_s": 0.3})
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    run = RunRecord(ctx.config.state_dir).begin()
    link = FleetLink(ctx.config, session, ctx.journal, wire_devices(manager),
                     restart_app=lambda: None, run=run)
    link.start()
    yield fleet, sim, ctx, session, link
    await link.stop()
    await close_context(ctx, session)
    await sim.stop()
    await fleet.close()


async def test_heartbeats_carry_live_device_health_and_faults_become_events(linked):
    fleet, sim, ctx, session, link = linked

    async def kiosk_row():
        row = await fleet.store.get_kiosk("KIOSK-LINK-01")
        return row if row and row.get("devices") else None

    row = await until(kiosk_row)
    text = repr(row)
    assert "receipt_printer" in text and "idcard_reader" in text
    assert session.catalog.version in text
    sim.printer.set_fault("paper_out", True)

    async def fault_event():
        events = await fleet.store.recent_events("KIOSK-LINK-01")
        return [e for e in events if "receipt_printer" in repr(e) and "paper_out" in repr(e)]

    assert await until(fault_event)


async def test_out_of_service_command_runs_between_citizens_and_back(linked):
    fleet, sim, ctx, session, link = linked
    await fleet.store.queue_command("KIOSK-LINK-01", CommandKind.OUT_OF_SERVICE, {}, "op")

    async def out_of_service():
        return ctx.view.screen is ScreenId.OUT_OF_SERVICE

    await until(out_of_service)
    assert ctx.view.out_of_service_key == "oos.operator"
    await fleet.store.queue_command("KIOSK-LINK-01", CommandKind.BACK_IN_SERVICE, {}, "op")

    async def back():
        return ctx.view.screen is ScreenId.ATTRACT

    await until(back)
