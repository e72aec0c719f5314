"""Start-up order: the attract screen comes before the devices' first reading and the catalog
fetch (the kiosk core on the simulator's devices, the catalog backend slow); items needing a
device are dark, not hidden, until it is read, and the kiosk never calls itself out of service
while it comes up."""

from __future__ import annotations

import asyncio

from kiosk.app import begin, close_context, come_up, prepare
from kiosk.config import load_config, simulator_overrides
from kiosk.viewmodel import ScreenId
from simulator.reference import BILL_PAYMENT, QUEUE_TICKET
from simulator.runtime import Simulator, SimulatorOptions


async def test_attract_first_then_items_light_up_as_devices_and_backends_are_known(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides["state_dir"] = str(tmp_path / "kiosk")
    config = load_config(None, overrides)
    try:
        ctx, session = await prepare(config)  # an earlier run: the catalog is cached
        await close_context(ctx, session)

        sim.backends.faults["catalog"].delay_s = 1.5  # a slow link to the catalog
        screens: list[ScreenId] = []
        ctx, session = await begin(config)
        ctx.view.subscribe(lambda changed: screens.append(ctx.view.screen))
        tiles = {t.code: t for t in ctx.view.services}
        assert ctx.view.screen is ScreenId.ATTRACT
        assert QUEUE_TICKET in tiles and not tiles[QUEUE_TICKET].available  # printer not read
        assert tiles[BILL_PAYMENT].available  # needs no device

        coming = asyncio.get_running_loop().create_task(come_up(session))

        def lit() -> bool:
            return {t.code: t for t in ctx.view.services}[QUEUE_TICKET].available

        while not lit():  # the printer's first reading lights its items...
            assert not coming.done()
            await asyncio.sleep(0.02)
        assert not coming.done()  # ...while the catalog is still on its way
        await coming
        assert lit() and session.catalog is not None and ctx.view.screen is ScreenId.ATTRACT
        assert ScreenId.OUT_OF_SERVICE not in screens
        await close_context(ctx, session)
    finally:
        await sim.stop()
