"""The kiosk's side of the fleet: what its heartbeats say, and what its remote commands do.

The agent (kiosk.fleet_agent) carries the messages; this module decides their content from the
session, the journal and the devices, and runs commands only between citizens.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from kiosk.fleet_agent import FleetAgent
from kiosk.fleet_wire import (
    AttentionItem,
    Command,
    CommandKind,
    DeviceHealth,
    DeviceStatus,
    Event,
    EventKind,
    Severity,
    Supply,
    SupplyLevel,
)
from kiosk.journal import Journal
from kiosk.session import KioskSession

log = logging.getLogger(__name__)


def software_version() -> str:
    try:
        return metadata.version("kiosk")
    except metadata.PackageNotFoundError:
        return "dev"


class FleetLink:
    def __init__(self, config: KioskConfig, session: KioskSession, journal: Journal,
                 device_status: Callable[[], list[DeviceStatus]],
                 restart_app: Callable[[], None]) -> None:
        self.config = config
        self.session = session
        self.journal = journal
        self.device_status = device_status
        self.restart_app = restart_app
        key = Path(config.fleet.device_key_path).read_bytes()
        self.agent = FleetAgent(
            config.fleet.server_url, config.kiosk_id, key, config.state_dir / "fleet-outbox.sqlite3",
            status_source=self.status, is_busy=lambda: session.busy,
            command_handler=self.handle, interval_s=config.fleet.heartbeat_interval_s)
        session.on_problem = self.report_problem
        self._snapshot: dict[str, Any] = {}
        self._snapshot_task: asyncio.Task[None] | None = None
        if session.device_manager is not None:
            session.device_manager.subscribe(self._device_event)

    def _device_event(self, event: Any) -> None:
        """Device faults, recoveries and low supplies reach the operators as events at once."""
        kinds = {"lost": EventKind.DEVICE_FAULT, "recovered": EventKind.DEVICE_RECOVERED,
                 "supply_low": EventKind.SUPPLY_LOW}
        kind = kinds.get(str(event.kind))
        if kind is None and str(event.kind) == "status_changed" and \
                event.status.health.value == "fault":
            kind = EventKind.DEVICE_FAULT
        if kind is None:
            return
        reason = event.status.reason.value if event.status.reason else ""
        severity = Severity.INFO if kind is EventKind.DEVICE_RECOVERED else Severity.WARNING
        self.agent.post_event(Event.new(kind, time.time(), severity=severity,
                                        device=event.device, reason=reason))

    def report_problem(self, kind: str, reason: str) -> None:
        """A problem the operators should hear of at once (e.g. a refused catalog)."""
        self.agent.post_event(Event.new(EventKind.INFO, time.time(), severity=Severity.WARNING,
                                        reason=f"{kind}:{reason}"))

    def status(self) -> dict[str, Any]:
        """What the next heartbeat says. The agent may ask from its own thread, so this returns
        the snapshot the loop last took (the journal is used from the loop thread only)."""
        return self._snapshot

    async def _keep_snapshot(self) -> None:
        while True:
            self._snapshot = self._take_snapshot()
            await asyncio.sleep(min(1.0, self.config.fleet.heartbeat_interval_s / 2))

    def _take_snapshot(self) -> dict[str, Any]:
        counts = self.journal.count_by_state()
        attention = []
        for tx in self.journal.for_operators():  # needing a person, or not settled yet
            history = self.journal.history(tx.tx_id)
            reason = tx.attention or (history[-1][2] or "" if history else "")
            attention.append(AttentionItem(tx.tx_id, tx.state.value, tx.updated_at, reason))
        catalog = self.session.catalog
        return {
            "software_version": software_version(),
            "catalog_version": catalog.version if catalog else "",
            "in_service": not self.session.operator_out_of_service
            and any(t.available for t in self.session.view.services),
            "devices": self.device_status(),
            "counters": {f"transactions_{state}": n for state, n in counts.items()},
            "attention": attention,
        }

    async def handle(self, command: Command) -> None:
        kind = command.kind
        log.info("fleet command %s: %s", command.command_id, kind.value)
        if kind is CommandKind.OUT_OF_SERVICE:
            self.session.set_out_of_service(True)
        elif kind is CommandKind.BACK_IN_SERVICE:
            self.session.set_out_of_service(False)
        elif kind is CommandKind.REFETCH_CATALOG:
            await self.session.refresh_catalog()
        elif kind is CommandKind.RESTART_APP:
            self.restart_app()
        elif kind is CommandKind.REBOOT:
            await asyncio.to_thread(subprocess.run, ["systemctl", "reboot"], check=False)
        elif kind is CommandKind.UPLOAD_LOGS:
            await self.agent.upload_logs(command.command_id, self._log_tail())

    def _log_tail(self, limit: int = 512 * 1024) -> bytes:
        """The newest part of the kiosk's log; every line in it went through the masking filter."""
        path = self.config.log_dir / "kiosk.log"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return b""
        return data[-limit:]

    def start(self) -> None:
        self._snapshot = self._take_snapshot()
        self._snapshot_task = asyncio.get_running_loop().create_task(self._keep_snapshot())
        self.agent.start()

    async def stop(self) -> None:
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        await self.agent.stop(clean=True)


_HEALTH = {"ok": DeviceHealth.OK, "degraded": DeviceHealth.DEGRADED,
           "fault": DeviceHealth.FAULT, "offline": DeviceHealth.FAULT}
# Supply readings as the peripherals report them -> the wire's levels.
_LEVELS = {"ok": SupplyLevel.OK, "near_end": SupplyLevel.LOW, "low": SupplyLevel.LOW,
           "out": SupplyLevel.EMPTY, "empty": SupplyLevel.EMPTY, "full": SupplyLevel.EMPTY}
_SUPPLIES = {"paper", "card_stock", "retain_bin"}


def wire_devices(manager: Any) -> Callable[[], list[DeviceStatus]]:
    """The device manager's live snapshot in the fleet's wire shape (no personal data in it)."""

    def statuses() -> list[DeviceStatus]:
        result = []
        for name, status in sorted(manager.snapshot().items()):
            supplies = tuple(
                Supply(key, _LEVELS.get(str(value), SupplyLevel.UNKNOWN))
                for key, value in sorted(status.supplies.items()) if key in _SUPPLIES)
            result.append(DeviceStatus(name, _HEALTH[status.health.value],
                                       status.reason.value if status.reason else "", supplies))
        return result

    return statuses
