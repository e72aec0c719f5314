"""A kiosk as far as updates and the fleet go, on a Machine's real files: the real fleet agent,
the real update agent running from the slot `current` points at, linked by the real
FleetUpdates the way FleetLink links them. No screens or devices: the test says when the
attract screen and the device probe are reached, as kiosk.app does."""

from __future__ import annotations

import asyncio
import time

from kiosk.config import load_config
from kiosk.fleet_agent import CommandFailed, FleetAgent
from kiosk.fleet_updates import FleetUpdates
from kiosk.journal import Journal
from kiosk.update.agent import UpdateAgent
from tests.update.machine import Machine
from wire.fleet import Command, CommandKind, HeartbeatReply

IN_WINDOW = time.struct_time((2030, 1, 1, 3, 30, 0, 1, 1, 0))  # inside 02:00-05:00


class AgentKiosk:
    def __init__(self, machine: Machine, fleet_url: str, kiosk_id: str, key: bytes,
                 interval_s: float = 0.3) -> None:
        self.machine = machine
        self.config = load_config(machine.config, {
            "state_dir": str(machine.root / "var/lib/kiosk"), "kiosk_id": kiosk_id})
        self.journal = Journal(self.config.journal_path, kiosk_id)
        self.slot = machine.current_slot()
        self.restarts = 0
        self.updates = UpdateAgent(
            self.config, lambda: False, self.journal, self._restart, fleet_expected=True,
            prefix=str(machine.root / f"opt/kiosk/slots/{self.slot}/venv"),
            local_time=lambda: IN_WINDOW)
        self.agent = FleetAgent(
            fleet_url, kiosk_id, key, self.config.state_dir / "fleet-outbox.sqlite3",
            status_source=self.status, is_busy=lambda: False, command_handler=self.handle,
            interval_s=interval_s, reply_handler=self.on_reply)
        self.link = FleetUpdates(self.updates, self.agent.post_event)
        self.commands: list[Command] = []
        self._snapshot: dict = {}
        self._tasks: list[asyncio.Task] = []

    def _restart(self) -> None:
        self.restarts += 1

    def status(self) -> dict:
        """What the next heartbeat says (the agent asks from its own thread: a snapshot)."""
        return self._snapshot

    async def _keep_snapshot(self) -> None:
        while True:  # on the loop, as FleetLink's snapshot (the link posts events from here)
            update = self.link.status()
            self._snapshot = {"software_version": update.running_version, "update": update}
            await asyncio.sleep(0.1)

    async def handle(self, command: Command) -> str | None:
        self.commands.append(command)
        if command.kind is CommandKind.UPDATE:
            return await self.link.handle(command)
        raise CommandFailed(f"not in this test: {command.kind.value}")

    async def on_reply(self, reply: HeartbeatReply) -> None:
        self.link.acknowledged()

    def start(self) -> AgentKiosk:
        self.updates.devices_probed()
        self.updates.attract_reached()
        self.updates.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._keep_snapshot()))
        self.agent.start()
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.updates.stop()
        await self.agent.stop(clean=True, reason="restart")
        self.journal.close()
