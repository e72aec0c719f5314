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
)
from kiosk.journal import Journal, TxState
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

    def report_problem(self, kind: str, reason: str) -> None:
        """A problem the operators should hear of at once (e.g. a refused catalog)."""
        self.agent.post_event(Event.new(EventKind.INFO, time.time(), severity=Severity.WARNING,
                                        reason=f"{kind}:{reason}"))

    def status(self) -> dict[str, Any]:
        counts = self.journal.count_by_state()
        attention = []
        for tx in self.journal.unfinished():
            if tx.state is TxState.NEEDS_ATTENTION:
                history = self.journal.history(tx.tx_id)
                attention.append(AttentionItem(tx.tx_id, tx.state.value, tx.updated_at,
                                               history[-1][2] or "" if history else ""))
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
        self.agent.start()

    async def stop(self) -> None:
        await self.agent.stop(clean=True)


def present_devices(names: frozenset[str]) -> Callable[[], list[DeviceStatus]]:
    """Until a device manager reports live health: every fitted device counts as ok."""
    return lambda: [DeviceStatus(name, DeviceHealth.OK) for name in sorted(names)]
