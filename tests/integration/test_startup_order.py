"""Start-up order: the attract screen comes before the devices' first reading and the catalog
fetch (the kiosk core on the simulator's devices, the catalog backend slow); items needing a
device are dark, not hidden, until it is read, and the kiosk never calls itself out of service
while it comes up."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from kiosk.app import begin, close_context, come_up, prepare
from kiosk.config import load_config, simulator_overrides
from kiosk.late_intents import LateIntents
from kiosk.viewmodel import ScreenId, SessionView
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


# What the attract screen's process may hold before its first frame: none of the kiosk's core
# nor the heavy libraries behind it (kiosk.main imports them on a worker thread afterwards).
CORE_AND_HEAVY = ("kiosk.app", "kiosk.session", "kiosk.devices", "kiosk.transaction",
                  "kiosk.backends", "peripherals", "drivers", "cv2", "aiohttp", "reportlab",
                  "escpos", "pypinyin", "img2pdf")


def test_the_launcher_imports_none_of_the_core():
    probe = ("import sys, kiosk.cli, kiosk.main, kiosk.voice, kiosk.speech;"
             f"print([m for m in {CORE_AND_HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"


async def test_touches_before_the_session_reach_it_when_it_takes_over(tmp_path):
    """A citizen touching the attract screen while the core still comes up is not ignored:
    the touch reaches the session once recovery is done, and the menu opens."""
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides["state_dir"] = str(tmp_path / "kiosk")
    config = load_config(None, overrides)
    try:
        view = SessionView(language=config.ui.language)
        intents = LateIntents()
        # A screen built before the session holds its intents as callables (the search
        # screen's keyboard is bound to `intents.search_key` when it is built).
        open_search, search_key = intents.open_search, intents.search_key
        intents.activity()
        intents.touch_start()   # on the attract screen, before there is a session
        assert view.screen is ScreenId.ATTRACT
        ctx, session = await begin(config, view)
        assert ctx.view is view and view.screen is ScreenId.ATTRACT
        intents.attach(session)
        assert view.screen is ScreenId.MENU
        intents.set_elder(True)    # from now on straight to the session
        assert view.elder
        await session.refresh_catalog()   # the menu can search once the catalog is in
        open_search()
        for letter in "sfz":       # the keys bound before the session reach it now
            search_key(letter)
        assert view.search_query == "sfz"
        await close_context(ctx, session)
    finally:
        await sim.stop()


def test_attract_screen_is_drawn_before_the_core_is_imported(tmp_path):
    """`kiosk --scenario startup`: the first frame of the attract screen, then the core's
    modules, the session and the devices' first reading, in that order."""
    from simulator.xvfb import virtual_display

    with virtual_display() as env:
        proc = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "--simulator", "--scenario", "startup",
             "--state-dir", str(tmp_path / "state"), "--out", str(tmp_path / "out")],
            env=env, capture_output=True, text=True, timeout=240)
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["ok"], summary
    marks = summary["startup_marks"]
    order = ["window", "screens_built", "first_frame", "core_imported", "session", "core_ready"]
    assert sorted(order, key=marks.__getitem__) == order
    assert summary["attract_at_unix"] < marks["core_imported"]


def test_a_core_that_cannot_start_ends_the_run_instead_of_leaving_a_dead_attract_screen(tmp_path):
    """The attract screen comes first, but never stays up without a kiosk behind it: a core
    that fails (here the journal cannot be opened) ends the run with an error, for systemd to
    restart or show out of service."""
    from simulator.xvfb import virtual_display

    state = tmp_path / "state"
    load_config(None, {"state_dir": str(state)}).journal_path.mkdir(parents=True)  # not a file
    with virtual_display() as env:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--simulator", "--state-dir", str(state)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _, stderr = proc.communicate(timeout=180)   # no scenario ends it
        except subprocess.TimeoutExpired:
            proc.terminate()   # SIGTERM: the kiosk stops its simulator too
            proc.communicate(timeout=60)
            pytest.fail("the kiosk kept its attract screen up with no core behind it")
    logs = stderr + "".join(p.read_text() for p in state.rglob("*.log"))
    assert proc.returncode != 0 and "the kiosk's core failed" in logs
