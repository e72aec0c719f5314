"""The kiosk and its fleet: the real kiosk core (in-process, on the simulator's devices)
heartbeats to the real fleet server with its devices' live health, a printer fault reaches the
operators as an event and an alert, and their commands take effect between citizens, honestly:
"done" once the kiosk's state has changed, "failed: <reason>" when it could not."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kiosk.app import _end_run, build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.fleet_devices import wire_devices
from kiosk.fleet_link import FleetLink
from kiosk.run_state import RunRecord
from kiosk.update.agent import HealthCheck, UpdateAgent
from kiosk.update.guard import read_json
from kiosk.viewmodel import ScreenId
from simulator.runtime import Simulator, SimulatorOptions
from tests.fleet.fleetkit import Fleet, sqlite_config
from wire.fleet import CommandKind

KIOSK = "KIOSK-LINK-01"


async def until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


class KioskCore:
    """One run of the kiosk's core on the simulator: context, devices, session, fleet link,
    started the way kiosk.app starts them (run marker first)."""

    def __init__(self, overrides: dict) -> None:
        self.overrides = overrides
        self.restarts_asked = 0
        self.stopped = False

    async def start(self, link_started: bool = True) -> KioskCore:
        self.ctx = build_context(load_config(None, self.overrides))
        self.manager = build_manager(self.ctx.devices)
        await self.manager.start()
        self.session = build_session(self.ctx, self.manager)
        await self.session.refresh_catalog()
        self.record = RunRecord(self.ctx.config.state_dir)
        self.run = self.record.begin()
        # As kiosk.app wires them: the update agent first, the link passes it the fleet's word.
        self.updates = UpdateAgent(self.ctx.config, lambda: self.session.busy, self.ctx.journal,
                                   self._restart, fleet_expected=True)
        self.link = FleetLink(
            self.ctx.config,
            self.session,
            self.ctx.journal,
            wire_devices(self.manager),
            restart_app=self._restart,
            run=self.run,
            updates=self.updates,
        )
        if link_started:
            self.link.start()
        return self

    def _restart(self) -> None:
        self.restarts_asked += 1

    async def stop(self, failure: BaseException | None = None) -> None:
        self.stopped = True
        await _end_run(self.record, self.run, self.link, failure)
        await close_context(self.ctx, self.session)

    async def die(self) -> None:
        """As a SIGKILL or a power cut: nothing more is said or written."""
        self.stopped = True
        if self.link._snapshot_task is not None:
            self.link._snapshot_task.cancel()
        self.link.reports.cancel()
        await self.link.agent.stop(clean=False)
        await close_context(self.ctx, self.session)


@pytest.fixture
async def linked(tmp_path):
    fleet = Fleet(sqlite_config(tmp_path / "fleet"))
    await fleet.start()
    enrolled = await fleet.enroll_kiosk(KIOSK)
    key = tmp_path / "device.key"
    key.write_bytes(enrolled.private_pem)
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides.update(
        state_dir=str(tmp_path / "kiosk"),
        kiosk_id=KIOSK,
        fleet={"server_url": fleet.url, "device_key_path": str(key), "heartbeat_interval_s": 0.3},
        update={"slots_root": str(tmp_path / "opt-kiosk"),
                "state_dir": str(tmp_path / "kiosk-update")},
    )
    cores: list[KioskCore] = []

    async def start_kiosk(**kwargs) -> KioskCore:
        core = await KioskCore(overrides).start(**kwargs)
        cores.append(core)
        return core

    await start_kiosk()
    yield fleet, sim, start_kiosk, cores
    for core in cores:
        if not core.stopped:
            await core.stop()
    await sim.stop()
    await fleet.close()


async def _len_is(query, n):
    found = await query()
    return found if len(found) == n else None


async def _heard_from(fleet):
    async def beating():
        row = await fleet.store.get_kiosk(KIOSK)
        return row["heartbeats"] > 0

    await until(beating)


async def _command_status(fleet, command_id):
    for c in await fleet.store.list_commands(KIOSK):
        if c["command_id"] == command_id:
            return c
    raise AssertionError(command_id)


async def test_heartbeats_carry_live_device_health_and_a_fault_raises_an_alert(linked):
    fleet, sim, _, (core,) = linked

    async def kiosk_row():
        row = await fleet.store.get_kiosk(KIOSK)
        return row if row and row.get("devices") else None

    row = await until(kiosk_row)
    text = repr(row)
    assert "receipt_printer" in text and "idcard_reader" in text
    assert core.session.catalog.version in text
    assert row["started_at"] == core.run.started_at and row["wire_version"] == 2
    sim.printer.set_fault("paper_out", True)

    async def fault_event():
        events = await fleet.store.recent_events(KIOSK)
        return [e for e in events if "receipt_printer" in repr(e) and "paper_out" in repr(e)]

    assert await until(fault_event)

    async def alert():
        return [a for a in await fleet.store.list_alerts() if a["subject"] == "receipt_printer"]

    assert await until(alert)


async def test_out_of_service_is_done_when_applied_and_survives_a_restart(linked, tmp_path):
    fleet, sim, start_kiosk, (core,) = linked
    out = await fleet.store.queue_command(KIOSK, CommandKind.OUT_OF_SERVICE, {}, "op")

    async def done():
        return (await _command_status(fleet, out.command_id))["status"] == "done"

    await until(done)
    assert core.ctx.view.screen is ScreenId.OUT_OF_SERVICE
    assert core.ctx.view.out_of_service_key == "oos.operator"
    row = await fleet.store.get_kiosk(KIOSK)
    assert (row["in_service"], row["state"], row["service_revision"]) == (False, "down", 1)

    # The kiosk restarts while the fleet server is away: it must come up out of service, from
    # what it saved, before the attract screen and before hearing from the server.
    await core.stop()
    await fleet.stop_server()
    again = await start_kiosk(link_started=False)
    assert again.ctx.view.screen is ScreenId.OUT_OF_SERVICE
    again.link.start()
    await fleet.start()

    async def reports_down():
        row = await fleet.store.get_kiosk(KIOSK, now=time.time())
        fresh = row["started_at"] == again.run.started_at
        return fresh and row["in_service"] is False and row["state"] == "down" and row

    row = await until(reports_down)
    assert row["problems"] == []

    back = await fleet.store.queue_command(KIOSK, CommandKind.BACK_IN_SERVICE, {}, "op")

    async def back_done():
        return (await _command_status(fleet, back.command_id))["status"] == "done"

    await until(back_done)
    assert again.ctx.view.screen is ScreenId.ATTRACT


async def test_a_kiosk_that_lost_its_saved_state_gets_it_back_from_the_fleet(linked):
    fleet, sim, start_kiosk, (core,) = linked
    out = await fleet.store.queue_command(KIOSK, CommandKind.OUT_OF_SERVICE, {}, "op")

    async def done():
        return (await _command_status(fleet, out.command_id))["status"] == "done"

    await until(done)
    await core.stop()
    (Path(core.ctx.config.state_dir) / "service-order.json").unlink()  # e.g. a reinstall
    again = await start_kiosk()

    async def out_of_service():
        return again.ctx.view.screen is ScreenId.OUT_OF_SERVICE

    await until(out_of_service)


async def test_a_crash_reports_an_unexpected_exit_not_a_goodbye(linked):
    fleet, sim, start_kiosk, (core,) = linked
    await _heard_from(fleet)

    def crash() -> None:
        {}["no such key"]

    try:
        crash()
    except KeyError as exc:
        await core.stop(failure=exc)
    row = await fleet.store.get_kiosk(KIOSK)
    assert row["goodbye_at"] is None
    (alert,) = await fleet.store.list_alerts()
    assert alert["kind"] == "crash"
    assert alert["detail"].startswith("exception KeyError at test_fleet_link.py:")
    # The next start knows the crash was reported: a restart event, no second crash alert.
    again = await start_kiosk()
    assert again.run.previous.value == "crashed"

    async def restarted():
        events = await fleet.store.recent_events(KIOSK)
        return [e["detail"]["previous_run"] for e in events if e["kind"] == "started"]

    assert await until(restarted) in (["crashed", "first"], ["first"])
    assert await until(lambda: _len_is(restarted, 2)) == ["crashed", "first"]
    assert [a["kind"] for a in await fleet.store.list_alerts()] == ["crash"]

    # A clean stop says goodbye and raises nothing.
    await again.stop()
    row = await fleet.store.get_kiosk(KIOSK)
    assert row["goodbye_at"] is not None and row["goodbye_reason"] == "shutdown"


async def test_a_killed_kiosk_is_reported_by_its_next_start(linked):
    fleet, sim, start_kiosk, (core,) = linked
    await _heard_from(fleet)
    # A SIGKILL or a power cut ends the run with nothing written: the marker still says running.
    await core.die()
    again = await start_kiosk()
    assert again.run.previous.value == "unclean"

    async def crash_alert():
        return [a for a in await fleet.store.list_alerts() if a["kind"] == "crash"]

    (alert,) = await until(crash_alert)
    assert "no clean stop" in alert["detail"]


@pytest.mark.skipif(
    Path("/proc/1/comm").read_text().strip() == "systemd",
    reason="systemd runs this machine: the reboot would not be refused",
)
async def test_a_refused_reboot_is_reported_failed_with_systemds_reason(linked):
    fleet, sim, _, _ = linked
    reboot = await fleet.store.queue_command(KIOSK, CommandKind.REBOOT, {}, "op")

    async def settled():
        c = await _command_status(fleet, reboot.command_id)
        return c["status"] in ("done", "failed") and c

    command = await until(settled)
    assert command["status"] == "failed"
    assert command["ack_detail"].startswith("failed: reboot refused: ")
    assert len(command["ack_detail"]) > len("failed: reboot refused: ") + 5


async def test_restart_is_done_when_a_new_kiosk_process_reports(linked):
    fleet, sim, start_kiosk, (core,) = linked
    restart = await fleet.store.queue_command(KIOSK, CommandKind.RESTART_APP, {}, "op")

    async def asked():
        return core.restarts_asked == 1

    await until(asked)

    async def acknowledged():
        return (await _command_status(fleet, restart.command_id))["status"] == "acknowledged"

    await until(acknowledged)
    await core.stop()  # what the restart callback leads to
    row = await fleet.store.get_kiosk(KIOSK)
    assert row["goodbye_reason"] == "restart"
    assert (await _command_status(fleet, restart.command_id))["status"] == "acknowledged"
    await start_kiosk()

    async def done():
        c = await _command_status(fleet, restart.command_id)
        return c["status"] == "done" and c

    assert (await until(done))["ack_detail"] == "a new kiosk process is running"


async def test_an_update_command_asks_the_updater_and_heartbeats_say_how_updates_stand(linked):
    fleet, sim, _, (core,) = linked
    await _heard_from(fleet)
    # The first reply the fleet sent counts for the new version's health, from the link itself.
    assert HealthCheck.FLEET_HEARTBEAT in core.updates.reached
    url, digest = "http://127.0.0.1:9/api/v1/bundles/x.kbundle", "ab" * 32
    update = await fleet.store.queue_command(
        KIOSK, CommandKind.UPDATE, {"url": url, "manifest_digest": digest}, "op")

    async def done():
        c = await _command_status(fleet, update.command_id)
        return c["status"] in ("done", "failed") and c

    assert (await until(done))["ack_detail"] == "update requested"
    # What kiosk-update.path starts the updater on: the fleet's command id is the request id.
    request = read_json(core.updates.layout.request_file)
    assert (request["url"], request["manifest_digest"], request["request_id"]) == (
        url, digest, update.command_id)

    async def update_status():
        row = await fleet.store.get_kiosk(KIOSK)
        return row["update"]

    status = await until(update_status)
    assert status["running_version"] == core.updates.version  # the package's, outside a slot
    assert status["slot"] == "" and status["phase"] == "idle" and status["last_result"] is None
    assert (await fleet.store.get_kiosk(KIOSK))["software_version"] == core.updates.version


async def test_an_update_command_without_its_bundle_is_failed_with_the_reason(linked):
    fleet, sim, _, (core,) = linked
    update = await fleet.store.queue_command(KIOSK, CommandKind.UPDATE, {"url": "ftp://x"}, "op")

    async def settled():
        c = await _command_status(fleet, update.command_id)
        return c["status"] in ("done", "failed") and c

    command = await until(settled)
    assert command["status"] == "failed"
    assert command["ack_detail"] == "failed: update: no bundle URL in the command"
    assert not core.updates.layout.request_file.exists()
