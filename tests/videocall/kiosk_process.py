"""A real kiosk for the video-call test and bench.videocall: the Kivy app, the embedded simulator,
the fleet link and the video calls, composed as kiosk.app composes them, plus a control API on
loopback that touches the real widgets (the scripted citizen's touches: the help button, the help
panel's video call, the consent...), sends a few intents, and reports what the kiosk shows and
counted.

    python -m tests.videocall.kiosk_process --config kiosk.toml --state-dir DIR --port P

Prints "ready" once the attract screen is up and the control API listens.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web


async def _serve(port: int, app, session, calls, share, sim_url: str) -> web.AppRunner:
    from kivy.core.window import Window

    from scenarios.citizen import Citizen
    from screens.screen_share import personal_boxes
    from simulator.control_client import SimulatorClient

    lags: list[float] = []

    async def watch_loop() -> None:
        """How late a 20 ms sleep wakes: the loop's (and so the UI's) responsiveness."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.02)
            lags.append(time.perf_counter() - started - 0.02)
            del lags[:-500]

    asyncio.get_running_loop().create_task(watch_loop())
    sim = SimulatorClient(sim_url)
    citizen = Citizen(app, sim, Path(tempfile.mkdtemp(prefix="kiosk-call-")))
    routes = web.RouteTableDef()

    @routes.post("/intent")
    async def intent(request: web.Request) -> web.Response:
        name = (await request.json())["name"]
        assert name in ("hang_up", "touch_start", "choose_service", "key_press")
        args = (await request.json()).get("args", [])
        getattr(session, name)(*args)
        return web.json_response({"ok": True})

    @routes.post("/tap")
    async def tap(request: web.Request) -> web.Response:
        await citizen.tap((await request.json())["id"])
        return web.json_response({"ok": True})

    @routes.get("/state")
    async def state(request: web.Request) -> web.Response:
        v = session.view
        return web.json_response({
            "screen": citizen.screen,
            "call_available": v.call_available,
            "help_shown": v.help_shown,
            "call_phase": v.call_phase.value,
            "call_agent": v.call_agent,
            "call_recording": v.call_recording,
            "call_end_key": v.call_end_key,
            "call_note_key": v.call_note_key,
            "call_proposal": v.call_proposal,
            "texts": citizen.texts(),
            "figures": dataclasses.asdict(calls.live_figures()),
            "screen_rendered": share.rendered,
            "screen_render_ms": round(1000 * share.render_s / max(1, share.rendered), 1),
            "loop_lag_ms_p95": round(1000 * sorted(lags)[int(len(lags) * 0.95)], 1) if lags else 0,
            "camera_on": calls.camera.on if calls.camera is not None else False,
            "personal_boxes": personal_boxes(app.root),
            "window": list(Window.size),
            "unix": time.time(),
        })

    @routes.get("/screenshot")
    async def screenshot(request: web.Request) -> web.Response:
        path = Path(tempfile.mkdtemp()) / "shot.png"
        app.root.export_to_png(str(path))
        return web.Response(body=path.read_bytes(), content_type="image/png")

    @routes.post("/stop")
    async def stop(request: web.Request) -> web.Response:
        asyncio.get_running_loop().call_later(0.1, app.stop)
        return web.json_response({"ok": True})

    control = web.Application()
    control.add_routes(routes)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _run(config, port: int, sim_url: str) -> None:
    from kiosk.app import _end_run, begin, close_context, come_up, start_fleet_link
    from kiosk.late_intents import LateIntents
    from kiosk.run_state import RunRecord
    from kiosk.viewmodel import SessionView
    from screens.app import KioskApp
    from screens.screen_share import ScreenShare

    record = RunRecord(config.state_dir)
    run = record.begin()
    # As kiosk.main does: the screens first, the session behind their intents.
    view = SessionView(language=config.ui.language)
    intents = LateIntents()
    app = KioskApp(view, intents)
    share = ScreenShare(app, config.call.screen_width, config.call.screen_height)
    ctx, session = await begin(config, view, video_calls=True, screen=share)
    await come_up(session)
    intents.attach(session)
    session.start()
    link = start_fleet_link(ctx, session, restart_app=app.stop, run=run)
    calls = session.calls
    assert calls is not None, "the kiosk must be enrolled with a fleet"
    calls.start()
    runner = None

    def on_start(*_):
        async def up():
            nonlocal runner
            runner = await _serve(port, app, session, calls, share, sim_url)
            print("ready", flush=True)

        asyncio.get_running_loop().create_task(up())

    app.bind(on_start=on_start)
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        await calls.stop()
        if runner is not None:
            await runner.cleanup()
        await _end_run(record, run, link, None)
        await close_context(ctx, session)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from kiosk.app import EmbeddedSimulator
    from kiosk.config import load_config, simulator_overrides
    from kiosk.logs import setup_logging
    from screens.bootstrap import configure_kivy

    overrides = {"state_dir": str(args.state_dir), "ui": {"fullscreen": False}}
    config = load_config(args.config, overrides)
    setup_logging(config.log_dir)
    sim = EmbeddedSimulator(config.state_dir / "sim")
    endpoints = sim.start()
    try:
        config = load_config(args.config, {**overrides, **simulator_overrides(endpoints)})
        configure_kivy(config.ui.width, config.ui.height, False, config.ui.font_path)
        asyncio.run(_run(config, args.port, endpoints["control_url"]))
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

