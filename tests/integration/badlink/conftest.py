"""A village kiosk: the kiosk core in-process against the real simulator, every backend reached
through the simulator's throttling link, the outbox's courier running as in the kiosk. No chip:
nothing here touches the card slot (the ID card reader and the scanner are ptys)."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.app import build_context, build_session, close_context, start_outbox_delivery
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.outbox import Outbox
from simulator.runtime import Simulator, SimulatorOptions
from simulator.throttled_link import BACKEND_URL_KEYS, behind_link
from tests.integration.hall.conftest import Rig, _test_catalog

HEALTH_INTERVAL_S = 0.3  # how often the kiosk looks for its backends (5 s on a real kiosk)


class VillageRig(Rig):
    @property
    def link(self):
        return self.sim.links["backends"]

    def outbox_counts(self) -> dict[str, int]:
        outbox = Outbox(self.ctx.config.state_dir)
        try:
            return outbox.counts()
        finally:
            outbox.close()

    async def until_true(self, check, timeout: float = 30.0, what: str = "") -> None:
        async def wait() -> None:
            while not check():
                await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"not within {timeout} s: {what}") from None


@pytest.fixture
async def village(tmp_path, request):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    endpoints = await sim.start()
    sim.backends.catalog.published = _test_catalog()
    # A test's own [backends] settings, and the backends it keeps off the link (on the site).
    settings = getattr(request, "param", {})
    on_site = settings.get("on_site", ())
    overrides = simulator_overrides(behind_link(
        endpoints, endpoints["backends_link_url"],
        tuple(name for name in BACKEND_URL_KEYS if name not in on_site)))
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"payment_poll_s": 0.3, "place_card_timeout_s": 15.0}
    overrides["backends"]["health_interval_s"] = HEALTH_INTERVAL_S
    overrides["backends"]["deadline_s"] = 5.0
    overrides["backends"].update(settings.get("backends", {}))
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    session.start()
    delivery = start_outbox_delivery(ctx, session)
    try:
        yield VillageRig(sim, ctx, session, manager)
    finally:
        delivery.cancel()
        sim.idcard_reader.remove()
        await close_context(ctx, session)
        await sim.stop()
