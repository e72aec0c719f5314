"""The kiosk core in-process against the real simulator, for the service hall's items: devices
over their real transports (ID card and dispenser on ptys, scanner on a pty, printers over TCP
and IPP, camera over HTTP), backends over HTTP. No chip: nothing here touches the card slot."""

from __future__ import annotations

import asyncio
import json

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.viewmodel import ScreenId
from simulator.backends import reference_catalog
from simulator.reference import DOCUMENT_COLLECTION
from simulator.runtime import Simulator, SimulatorOptions
from tests.reports_kit import listen

TAKE_TIMEOUT_S = 1.5  # the collection item's 30 s, shortened for the tests


class Rig:
    def __init__(self, sim: Simulator, ctx, session, manager) -> None:
        self.sim, self.ctx, self.session, self.manager = sim, ctx, session, manager
        self.view = ctx.view
        self.problems = listen(ctx).problems

    async def until(self, *screens: ScreenId, timeout: float = 20.0) -> ScreenId:
        async def wait() -> None:
            while self.view.screen not in screens:
                await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            said = " / ".join(line.get("zh", "") for line in self.view.result_lines)
            raise AssertionError(
                f"waited for {screens}, still on {self.view.screen} {said}") from None
        return self.view.screen

    async def start(self, code: str) -> None:
        self.session.touch_start()
        self.session.choose_service(code)
        await asyncio.sleep(0.05)
        assert self.session.busy, f"{code} did not start"

    async def result(self, timeout: float = 30.0) -> str:
        await self.until(ScreenId.RESULT, timeout=timeout)
        while self.session.busy:
            await asyncio.sleep(0.02)
        return " ".join(line["zh"] for line in self.view.result_lines)

    def type_digits(self, digits: str) -> None:
        for digit in digits:
            self.session.key_press(digit)
        self.session.key_press("ok")

    async def scan(self, data: str) -> None:
        await asyncio.sleep(0.2)  # the step is listening once its screen is up
        assert self.sim.scanner.scan(data)

    def last_tx(self):
        return self.ctx.journal.recent(1)[0]

    def receipts(self) -> list[str]:
        return [r.text for r in self.sim.printer.receipts]

    async def receipt(self, count: int = 1, timeout: float = 10.0) -> str:
        """The `count`th receipt's text, once the printer simulator has rendered it."""
        async def wait() -> None:
            while len(self.sim.printer.receipts) < count:
                await asyncio.sleep(0.02)
        await asyncio.wait_for(wait(), timeout)
        return self.sim.printer.receipts[count - 1].text


def _test_catalog() -> bytes:
    data = json.loads(reference_catalog())
    for item in data["items"]:
        if item["code"] == DOCUMENT_COLLECTION:
            for spec in item["steps"]:
                if spec["step"] == "collect_document":
                    spec["params"]["take_timeout_s"] = TAKE_TIMEOUT_S
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.fixture
async def rig(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    endpoints = await sim.start()
    sim.backends.catalog.published = _test_catalog()
    overrides = simulator_overrides(endpoints)
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"payment_poll_s": 0.05, "place_card_timeout_s": 15.0,
                         "face_timeout_s": 20.0}
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    try:
        yield Rig(sim, ctx, session, manager)
    finally:
        sim.idcard_reader.remove()
        await close_context(ctx, session)
        await sim.stop()
