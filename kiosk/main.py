"""Starting the kiosk: the attract screen first, the kiosk's core after it.

Only what the attract screen needs is imported before its first frame: the configuration, the
view, the voice and Kivy's screens. The core (kiosk.app: devices, journal, transaction core,
backends, the session, with OpenCV, reportlab, aiohttp, python-escpos and pypinyin behind them)
is imported on a worker thread after that frame, then recovery runs and the session takes over
the screens' intents; touches before then are kept for it (`LateIntents`). Device probing and
the catalog fetch follow (kiosk.app.come_up), lighting items up as they become known.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.config import KioskConfig, load_config, simulator_overrides
from kiosk.embedded_simulator import EmbeddedSimulator
from kiosk.json_object import JsonObject
from kiosk.late_intents import LateIntents
from kiosk.logs import setup_logging
from kiosk.out_of_service import EXIT_NOT_PROVISIONED, is_provisioned
from kiosk.process_end import require_window, stopped_by
from kiosk.viewmodel import SessionView
from kiosk.watchdog import Watchdog

if TYPE_CHECKING:
    from kiosk.voice import VoiceGuide
    from screens.app import KioskApp

# Imported on a worker thread once the attract screen is drawn.
CORE_MODULE = "kiosk.app"

log = logging.getLogger(__name__)


def build_voice(view: SessionView, config: KioskConfig) -> VoiceGuide:
    """Voice guidance through Kivy's audio; prompts cached under the state folder."""
    from kiosk.speech import SpeechCache
    from kiosk.voice import VoiceGuide
    from screens.audio import KivySoundSink

    ui = config.ui
    cache = SpeechCache(config.state_dir / "voice",
                        Path(ui.recorded_prompts_dir) if ui.recorded_prompts_dir else None)
    return VoiceGuide(view, ui, cache, KivySoundSink())


class _CoreAfterFirstFrame:
    """The kiosk's core, imported on a worker thread and served once the attract screen has
    drawn its first frame, so that nothing of the core holds that frame up."""

    def __init__(self, config: KioskConfig, app: KioskApp, view: SessionView,
                 intents: LateIntents, marks: dict[str, float]) -> None:
        self._config, self._app, self._view, self._intents = config, app, view, intents
        self._marks = marks
        self._loop = asyncio.get_running_loop()
        self.stopped: asyncio.Future[BaseException | None] = self._loop.create_future()
        self.ready = asyncio.Event()    # the session runs and its devices and catalog are known
        self.task: asyncio.Task[None] | None = None
        app.bind(on_start=self._mark_started)

    async def _bring_up(self) -> None:
        try:
            # On a worker thread: the attract screen keeps drawing while the core imports.
            core_module = await asyncio.to_thread(importlib.import_module, CORE_MODULE)
            self._marks["core_imported"] = time.time()
            await core_module.serve(self._config, self._app, self._view, self._intents,
                                    self.stopped, self.ready, self._marks)
        except Exception:
            # No attract screen without a kiosk behind it: the run ends, as a crash (_run).
            log.exception("the kiosk's core failed")
            self._app.stop()
            raise

    def _after_first_frame(self, _dt: float) -> None:
        self._marks.setdefault("first_frame", time.time())
        self._marks.setdefault("first_frame_cpu", time.process_time())   # on a loaded machine too
        if self.task is None:
            self.task = self._loop.create_task(self._bring_up())

    def _mark_started(self, *_: object) -> None:  # a handler returning a true value stops on_start
        from kivy.clock import Clock

        self._marks.setdefault("screens_built", time.time())
        Clock.schedule_once(self._after_first_frame, 0)


class _ScriptedCitizen:
    """A scripted run: the citizen of scenarios.run walks up to the kiosk, and every frame's
    time is recorded for bench.frames as (when, ms since the last one)."""

    def __init__(self, app: KioskApp, scenario: str, control_url: str | None,
                 out_dir: Path | None, started_at: float) -> None:
        self._app, self._scenario, self._control_url = app, scenario, control_url
        self._out_dir, self._started_at = out_dir, started_at
        self.frames: list[tuple[float, float]] = []
        self.summary: JsonObject | None = None
        app.bind(on_start=self._record_frames)

    def _record_frames(self, *_: object) -> None:
        from kivy.clock import Clock

        Clock.schedule_interval(
            lambda dt: self.frames.append((time.perf_counter(), round(dt * 1000, 2))), 0)

    async def walk_up(self, ready: asyncio.Event) -> None:
        try:
            # Not on the loop: the scripted citizen's modules must not hold up the first frame.
            scenarios = await asyncio.to_thread(importlib.import_module, "scenarios.run")
            run_scenario = scenarios.run_scenario
            if self._scenario != "startup":
                # A scripted citizen walks up once the items are lit (the startup scenario
                # measures the attract screen itself).
                await ready.wait()
            summary: JsonObject = await run_scenario(
                self._app,
                self._scenario or "endorsement",
                self._control_url or "",
                self._out_dir or Path("out"),
                self._started_at,
            )
            summary["frames"] = self.frames
            self.summary = summary
            if self._scenario == "startup":
                # The start-up's figures go on to the core's: session up, devices read.
                await asyncio.wait_for(ready.wait(), 120)
        finally:
            self._app.stop()


async def _run(
    config: KioskConfig,
    scenario: str | None,
    control_url: str | None,
    out_dir: Path | None,
    started_at: float,
    marks: dict[str, float],
) -> JsonObject | None:
    from screens.app import KioskApp  # Kivy's window is made as this imports

    require_window()
    marks["window"] = time.time()
    # systemd: WATCHDOG=1 from this loop (so a stuck loop gets the kiosk restarted), READY=1
    # once the kiosk serves (below). Outside systemd it does nothing.
    watchdog = Watchdog.from_environment(os.environ)
    watchdog.start()
    view = SessionView(language=config.ui.language)
    voice = build_voice(view, config)
    # systemd's READY=1 once the session serves the screens: a release whose core never
    # comes up is caught by the unit's start timeout, as when the core came first.
    intents = LateIntents(on_attach=lambda: watchdog.ready("attract screen up"))
    app = KioskApp(view, intents, voice=voice)
    app.bind(on_stop=lambda *_: voice.halt())
    loop = asyncio.get_running_loop()
    core = _CoreAfterFirstFrame(config, app, view, intents, marks)
    script = _ScriptedCitizen(app, scenario, control_url, out_dir, started_at) \
        if scenario else None

    voice.start()
    citizen = loop.create_task(script.walk_up(core.ready)) if script is not None else None
    # systemctl stop and a reboot send SIGTERM: a clean stop, not a crash.
    def stop_on_signal() -> None:
        stopped_by(signal.SIGTERM)
        app.stop()

    loop.add_signal_handler(signal.SIGTERM, stop_on_signal)
    failure: BaseException | None = None
    try:
        await app.async_run(async_lib="asyncio")
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if citizen is not None and not citizen.done():
            citizen.cancel()
        core.stopped.set_result(failure)
        if core.task is not None:
            await core.task   # the core ends its run (and says so to the fleet) itself
        await voice.stop()
        watchdog.stop()
    return script.summary if script is not None else None


def _overrides(state_dir: Path | None, log_dir: Path | None, windowed: bool) -> JsonObject:
    """The configuration's values the command line sets."""
    overrides: JsonObject = {}
    if state_dir is not None:
        overrides["state_dir"] = str(state_dir)
    if log_dir is not None:
        overrides["log_directory"] = str(log_dir)
    if windowed:
        overrides["ui"] = {"fullscreen": False}
    return overrides


def _refuse_unprovisioned(config_path: Path | None, overrides: JsonObject) -> int:
    """Restarting cannot help: exit with the code kiosk.service does not restart on, so
    systemd shows the out-of-service screen, which says why."""
    setup_logging(load_config(None, overrides).log_dir)
    log.error("not provisioned: %s does not exist; run kiosk-provision", config_path)
    return EXIT_NOT_PROVISIONED


def _serve_headless(config: KioskConfig, scenario: str | None, control_url: str | None,
                    repeat: int, sim: EmbeddedSimulator | None) -> int:
    """No window: the kiosk's core with a scripted citizen; its summary is the output."""
    from kiosk.app import serve_headless

    summary = asyncio.run(serve_headless(config, scenario, control_url, repeat,
                                         sim.cpu_seconds if sim is not None else None))
    print(json.dumps(summary))
    return 0 if summary.get("ok", True) else 1


def run_kiosk(
    config_path: Path | None,
    *,
    simulator: bool,
    scenario: str | None = None,
    out_dir: Path | None = None,
    windowed: bool = False,
    state_dir: Path | None = None,
    attach: Path | None = None,
    headless: bool = False,
    repeat: int = 1,
    out_of_service: bool = False,
    log_dir: Path | None = None,
) -> int:
    started_at = time.monotonic()
    # Where start-up time goes (bench.startup reads them from a scripted run's summary).
    marks = {"main": time.time()}
    overrides = _overrides(state_dir, log_dir, windowed)
    if out_of_service:
        from kiosk.app import show_out_of_service

        return show_out_of_service(config_path, overrides)
    if not is_provisioned(config_path):
        return _refuse_unprovisioned(config_path, overrides)
    config = load_config(config_path, overrides)
    setup_logging(config.log_dir, retention=config.retention)
    sim = None
    control_url = None
    # Whatever ends the kiosk from here (a window that does not open, a stop signal, an
    # exception), the simulator it started stops with it.
    try:
        if simulator or attach:
            if attach:
                endpoints = json.loads((attach / "endpoints.json").read_text())
            else:
                sim = EmbeddedSimulator(config.state_dir / "sim")
                endpoints = sim.start()
            control_url = endpoints["control_url"]
            marks["simulator"] = time.time()
            config = load_config(config_path, {**overrides, **simulator_overrides(endpoints)})
        if headless:
            return _serve_headless(config, scenario, control_url, repeat, sim)
        from screens.bootstrap import configure_kivy

        configure_kivy(config.ui.width, config.ui.height, config.ui.fullscreen,
                       config.ui.font_path)
        marks["kivy_configured"] = time.time()
        scripted = asyncio.run(_run(config, scenario, control_url, out_dir, started_at, marks))
    finally:
        if sim is not None:
            sim.stop()
    if scripted is None:
        return 0
    scripted["startup_marks"] = marks
    print(json.dumps(scripted, ensure_ascii=False, indent=2))
    return 0 if scripted.get("ok") else 1
