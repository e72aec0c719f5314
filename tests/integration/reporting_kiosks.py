"""Real kiosk cores on the simulator reporting to a real fleet server, with scripted citizens
(scenarios.headless_citizen: bills, certificates, queue tickets, pre-reviews; none of them puts
a card in the chip reader). One simulator serves one kiosk core at a time; a second kiosk is a
second core started after the first has stopped, on its own state directory."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kiosk.config import simulator_overrides
from scenarios import headless_citizen
from scenarios.headless_citizen import run_headless
from simulator.control_client import SimulatorClient
from simulator.runtime import Simulator, SimulatorOptions
from tests.fleet.fleetkit import Fleet, sqlite_config
from tests.integration.test_fleet_link import KioskCore

BILL, CERTIFICATE, PREREVIEW, QUEUE = (
    "442000-BM-0001",
    "442000-GA-0031",
    "442000-HZ-0012",
    "442000-PD-0001",
)


async def until(predicate, timeout: float = 20.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


class ReportingFleet:
    """A fleet server (SQLite), a simulator, and kiosk cores enrolled one by one."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.fleet = Fleet(sqlite_config(tmp_path / "fleet"))
        self.sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
        self.endpoints: dict[str, Any] = {}
        self.cores: list[KioskCore] = []
        self.keys: dict[str, Path] = {}

    async def start(self) -> ReportingFleet:
        await self.fleet.start()
        self.endpoints = await self.sim.start()
        return self

    def overrides(self, kiosk_id: str) -> dict[str, Any]:
        overrides = simulator_overrides(self.endpoints)
        overrides.update(
            state_dir=str(self.tmp_path / kiosk_id),
            kiosk_id=kiosk_id,
            fleet={
                "server_url": self.fleet.url,
                "device_key_path": str(self.keys[kiosk_id]),
                "heartbeat_interval_s": 0.3,
            },
        )
        return overrides

    async def kiosk(self, kiosk_id: str, site: str = "hall-1", region: str = "east") -> KioskCore:
        """Start a kiosk core (enrolling it the first time) with its fleet link."""
        if kiosk_id not in self.keys:
            enrolled = await self.fleet.enroll_kiosk(kiosk_id, site=site, region=region)
            key = self.tmp_path / f"{kiosk_id}.key"
            key.write_bytes(enrolled.private_pem)
            self.keys[kiosk_id] = key
        core = await KioskCore(self.overrides(kiosk_id)).start()
        core.session.start()
        self.cores.append(core)
        return core

    async def citizens(self, core: KioskCore, scenario: str, repeat: int = 1) -> None:
        for _ in range(repeat):
            try:
                result = await run_headless(
                    core.ctx.view, core.session, self.endpoints["control_url"], scenario
                )
            except headless_citizen.Stuck:
                if scenario != "bill" or str(core.ctx.view.screen) != "enter_account":
                    raise
                await self._bill_after_lost_ok(core)
                continue
            assert result["ok"], result

    async def _bill_after_lost_ok(self, core: KioskCore) -> None:
        """The scripted citizen can press "ok" on the account screen before the enter_account
        step waits for it (the step shows its screen, then starts waiting), and the press is
        lost. The number is still typed in: press again, and go on as the citizen would."""
        view, session = core.ctx.view, core.session
        session.key_press("ok")
        async with SimulatorClient(self.endpoints["control_url"]) as sim:
            await headless_citizen._until(view, "confirm")
            session.choose_option("confirm")
            await headless_citizen._pay_on_phone(view, sim)
            assert (await headless_citizen._finish(view, session))["result_ok"]

    async def reported(self, core: KioskCore) -> None:
        """Until every transaction of the core's journal that ended is at the fleet."""

        async def all_sent() -> bool:
            await core.link.reports.scan()
            return await core.link.agent.unsent_reports() == 0

        await until(all_sent)

    async def close(self) -> None:
        for core in self.cores:
            if not core.stopped:
                await core.stop()
        await self.sim.stop()
        await self.fleet.close()
