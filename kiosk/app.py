"""The composition root: configuration, simulator switch, devices, clients, journal, session, UI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiosk.availability import ServiceAvailability, assumed_usable
from kiosk.backends import CatalogClient, NotificationClient, PaymentClient, ServiceClient
from kiosk.catalog import CatalogCache
from kiosk.config import KioskConfig, load_config, simulator_overrides
from kiosk.devices import build_devices, build_manager, camera_scanner_for, device_statuses
from kiosk.flow import FlowContext
from kiosk.journal import Journal
from kiosk.logs import setup_logging
from kiosk.out_of_service import (
    EXIT_NOT_PROVISIONED,
    OutOfServiceReason,
    is_provisioned,
    out_of_service,
)
from kiosk.process_end import NoWindow, stopped_by
from kiosk.retention import Housekeeper, start_housekeeping
from kiosk.run_state import RunInfo, RunRecord
from kiosk.session import KioskSession
from kiosk.step_library import known_steps
from kiosk.transaction import TransactionCore
from kiosk.update.agent import UpdateAgent
from kiosk.viewmodel import ScreenId, SessionView
from kiosk.watchdog import Watchdog
from peripherals.device_manager import DeviceManager
from peripherals.health import DeviceStatus
from wire.reports import EvaluationReport

log = logging.getLogger(__name__)


class EmbeddedSimulator:
    """`kiosk --simulator`: the simulator in a child process, found through its endpoints file."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> dict:
        endpoints_file = self.state_dir / "endpoints.json"
        endpoints_file.unlink(missing_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.state_dir / "simulator.log", "ab")  # noqa: SIM115 - owned by the child
        # The simulator is not the kiosk: systemd's notify socket stays with the kiosk.
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        # --parent: it ends with this process however this one ends (kill -9 included).
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--state-dir", str(self.state_dir), "run",
             "--parent", str(os.getpid())],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            return self._wait_for_endpoints(endpoints_file, timeout)
        except BaseException:
            self.stop()  # a stop signal or a failure while it starts: it goes too
            raise

    def _wait_for_endpoints(self, endpoints_file: Path, timeout: float) -> dict:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"simulator exited with {self.process.returncode}; "
                    f"see {self.state_dir / 'simulator.log'}"
                )
            if endpoints_file.exists():
                endpoints = json.loads(endpoints_file.read_text())
                if endpoints.get("pid") == self.process.pid:
                    return endpoints
            time.sleep(0.05)
        raise RuntimeError("simulator did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def require_window() -> None:
    """Kivy leaves its Window None when no provider could open one; say so before anything
    is built on it (Kivy itself would exit later with only a log line)."""
    from kivy.core.window import Window

    if Window is None:
        shown = {name: os.environ.get(name, "") for name in
                 ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
        raise NoWindow("Kivy's SDL2 could not open a window on "
                       + ", ".join(f"{k}={v!r}" for k, v in shown.items()))


def subject_key(state_dir: Path) -> bytes:
    """The kiosk's secret for journal pseudonyms, created once with owner-only permissions."""
    path = state_dir / "subject.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def build_transactions(config: KioskConfig, payment: PaymentClient,
                       services: dict[str, ServiceClient]) -> TransactionCore:
    """The transaction core on the kiosk's journal: the only writer of it."""
    b = config.backends
    relay = NotificationClient(b.notify_url, b.deadline_s) if b.notify_url else None
    return TransactionCore.open(config.journal_path, config.kiosk_id, payment, services,
                                crash_after=config.debug.crash_after or None, relay=relay,
                                retry_s=config.flow.settle_retry_s,
                                outbox_dir=config.state_dir)


def build_context(config: KioskConfig) -> FlowContext:
    b = config.backends
    devices = build_devices(config)
    payment = PaymentClient(b.payment_url, b.deadline_s)
    services = {name: ServiceClient(url, b.deadline_s, link_floor_bps=b.link_floor_bps)
                for name, url in b.services().items()}
    return FlowContext(
        config=config,
        view=SessionView(language=config.ui.language),
        transactions=build_transactions(config, payment, services),
        devices=devices,
        camera_scanner=camera_scanner_for(config, devices),
        payment=payment,
        services=services,
        subject_key=subject_key(config.state_dir),
    )


def build_session(ctx: FlowContext, manager: DeviceManager | None = None) -> KioskSession:
    """The session; with a device manager, the menu follows the devices' live health."""
    catalog_client = CatalogClient(ctx.config.backends.catalog_url, ctx.config.backends.deadline_s)
    cache = CatalogCache(ctx.config.catalog_path, known_steps())
    present = ctx.devices.names()

    def states() -> Mapping[str, DeviceStatus]:
        if manager is not None:
            return device_statuses(manager)
        return assumed_usable(present)

    availability = ServiceAvailability(states, frozenset(ctx.config.backends.site_backends))
    session = KioskSession(ctx, cache, catalog_client, availability,
                           reconcile=ctx.transactions.reconcile, device_manager=manager)

    def report_problem(kind: str, reason: str) -> None:
        # Steps report here; the fleet link, when it runs, has set the session's on_problem.
        log.warning("problem reported: %s %s", kind, reason)
        if session.on_problem is not None:
            session.on_problem(kind, reason)

    def report_evaluation(report: EvaluationReport) -> None:
        if session.on_evaluation is not None:   # the fleet link's, when it runs
            session.on_evaluation(report)

    ctx.report_problem = report_problem
    ctx.report_evaluation = report_evaluation
    if manager is not None:
        manager.subscribe(session.on_device_event)
    scanner = ctx.devices.barcode_scanner
    if scanner is not None:
        # A code shown to the scanner goes to the running step (an account number, a payment
        # code) or to a village agent's sign-in; between citizens it is ignored.
        def to_running_step(event: Any) -> None:
            if session.busy or session.agents.signing_in:
                ctx.scans.put_nowait(event.data)

        scanner.on_scan(to_running_step)
    return session


async def close_context(ctx: FlowContext, session: KioskSession) -> None:
    await session.stop()
    if session.device_manager is not None:
        await session.device_manager.stop()
    await session.catalog_client.close()
    await ctx.payment.close()
    for client in ctx.services.values():
        await client.close()
    if ctx.transactions.orders.relay is not None:
        await ctx.transactions.orders.relay.close()
    ctx.devices.close()
    ctx.transactions.close()


async def begin(config: KioskConfig) -> tuple[FlowContext, KioskSession]:
    """What must come before the attract screen: recovery of unfinished transactions, and the
    session on the cached catalog. Its devices are not read yet (`come_up`)."""
    ctx = build_context(config)
    report = await ctx.transactions.reconcile(everything=True)
    log.info("recovery: %s", report.as_json())
    session = build_session(ctx, build_manager(ctx.devices))
    session.recovery_report = report.as_json()
    return ctx, session


async def come_up(session: KioskSession) -> None:
    """A first reading of every device and the catalog fetch, side by side, while the attract
    screen is already up: items light up as their devices and the backends become known, and
    the kiosk does not call itself out of service meanwhile."""
    session.starting = True
    try:
        first = [session.refresh_catalog()]
        if session.device_manager is not None:
            first.append(session.device_manager.start())
        await asyncio.gather(*first)
    finally:
        session.starting = False
        session.refresh_menu()


async def prepare(config: KioskConfig) -> tuple[FlowContext, KioskSession]:
    """`begin` and `come_up` in one: recovery, every device read, the catalog fetched."""
    ctx, session = await begin(config)
    await come_up(session)
    return ctx, session


async def _run(
    config: KioskConfig,
    scenario: str | None,
    control_url: str | None,
    out_dir: Path | None,
    started_at: float,
    marks: dict[str, float],
) -> dict | None:
    from kivy.clock import Clock

    from screens.app import KioskApp  # Kivy's window is made as this imports

    require_window()
    marks["window"] = time.time()

    # How the last run ended (a crash the fleet must hear of?) and this one is running.
    run_record = RunRecord(config.state_dir)
    run = await asyncio.to_thread(run_record.begin)
    # systemd: WATCHDOG=1 from this loop (so a stuck loop gets the kiosk restarted), READY=1
    # once the attract screen is up. Outside systemd it does nothing.
    watchdog = Watchdog.from_environment(os.environ)
    watchdog.start()
    ctx, session = await begin(config)
    marks["session"] = time.time()
    voice = build_voice(ctx)
    app = KioskApp(ctx.view, session, voice=voice)
    app.bind(on_stop=lambda *_: voice.halt())

    def mark_started(*_: object) -> None:  # a handler returning a true value stops on_start
        marks.setdefault("screens_built", time.time())
        Clock.schedule_once(lambda _dt: marks.setdefault("first_frame", time.time()), 0)

    app.bind(on_start=mark_started)
    # A scripted run records every frame's time (bench.frames): (when, ms since the last one).
    frames: list[tuple[float, float]] = []

    def record_frames(*_: object) -> None:
        Clock.schedule_interval(
            lambda dt: frames.append((time.perf_counter(), round(dt * 1000, 2))), 0)

    if scenario:
        app.bind(on_start=record_frames)
    app.bind(on_start=lambda *_: watchdog.ready("attract screen up"))
    summary: dict | None = None

    async def scripted() -> None:
        nonlocal summary
        from scenarios.run import run_scenario

        try:
            if scenario != "startup":
                # A scripted citizen walks up once the items are lit (the startup scenario
                # measures the attract screen itself).
                await started
            summary = await run_scenario(
                app,
                scenario or "endorsement",
                control_url or "",
                out_dir or Path("out"),
                started_at,
            )
            summary["frames"] = frames
        finally:
            app.stop()

    session.start()
    outbox_delivery = start_outbox_delivery(ctx, session)
    voice.start()
    prewarm = asyncio.get_running_loop().create_task(voice.prewarm())
    housekeeper = start_housekeeping(ctx, session)
    from kiosk.videocall.wiring import start_video_calls
    from screens.screen_share import ScreenShare

    calls = start_video_calls(ctx, session)   # video help from the hall, when enrolled
    if calls is not None:
        calls.share_screen_from(ScreenShare(app, config.call.screen_width,
                                            config.call.screen_height))
    # Updates: this run's health for the slot guard; a staged release is restarted into
    # between citizens (kiosk.update.agent). The fleet link passes the fleet's update command
    # to it, reports its status, and tells it when the fleet answered a heartbeat.
    updates = UpdateAgent(config, lambda: session.must_not_restart, ctx.journal, app.stop,
                          config.fleet.enrolled)

    async def coming_up() -> None:
        await come_up(session)
        updates.devices_probed()

    started = asyncio.get_running_loop().create_task(coming_up())
    app.bind(on_start=lambda *_: updates.attract_reached())
    fleet = start_fleet_link(ctx, session, restart_app=app.stop, run=run, updates=updates,
                             housekeeper=housekeeper)
    housekeeper.fleet = fleet
    updates.start()
    citizen = asyncio.get_running_loop().create_task(scripted()) if scenario else None
    # systemctl stop and a reboot send SIGTERM: a clean stop, not a crash.
    def stop_on_signal() -> None:
        stopped_by(signal.SIGTERM)
        app.stop()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop_on_signal)
    failure: BaseException | None = None
    try:
        await app.async_run(async_lib="asyncio")
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if citizen is not None and not citizen.done():
            citizen.cancel()
        started.cancel()
        await updates.stop()
        await housekeeper.stop()
        outbox_delivery.cancel()
        prewarm.cancel()
        if calls is not None:
            await calls.stop()
        await voice.stop()
        await _end_run(run_record, run, fleet, failure)
        await close_context(ctx, session)
        watchdog.stop()
    return summary


async def _end_run(record: RunRecord, run: RunInfo, fleet: Any, failure: BaseException | None) -> None:
    """A clean stop says goodbye to the fleet; an exception escaping the kiosk is a crash: it
    reports an unexpected exit instead, and the marker says it was reported."""
    crashed = isinstance(failure, Exception)
    if fleet is not None:
        await fleet.stop(failure)
    await asyncio.to_thread(record.end, type(failure).__name__ if crashed else None, run.started_at)


def start_outbox_delivery(ctx: FlowContext, session: KioskSession) -> asyncio.Task[None]:
    """Delivers the kiosk's outbox (ratings, submissions accepted offline) while it runs; the
    moment the session sees the backends again, at once."""
    from kiosk.evaluation import adopt_old_ratings
    from kiosk.offline_submission import note_delivery
    from kiosk.outbox import Courier, Outbox

    outbox = Outbox(ctx.config.state_dir)
    adopt_old_ratings(ctx.config.state_dir, outbox)
    courier = Courier(outbox, ctx.services, ctx.report_problem,
                      on_delivered=note_delivery(ctx.transactions),
                      interval_s=ctx.config.backends.health_interval_s)
    session.link_watchers.append(lambda up: courier.wake() if up else None)
    task = asyncio.get_running_loop().create_task(courier.deliver_forever())
    task.add_done_callback(lambda _: outbox.close())
    return task


def build_voice(ctx: FlowContext) -> Any:
    """Voice guidance through Kivy's audio; prompts cached under the state folder."""
    from kiosk.speech import SpeechCache
    from kiosk.voice import VoiceGuide
    from screens.audio import KivySoundSink

    ui = ctx.config.ui
    cache = SpeechCache(ctx.config.state_dir / "voice",
                        Path(ui.recorded_prompts_dir) if ui.recorded_prompts_dir else None)
    return VoiceGuide(ctx.view, ui, cache, KivySoundSink())


def start_fleet_link(ctx: FlowContext, session: KioskSession,
                     restart_app: Callable[[], None], run: RunInfo, updates: Any = None,
                     housekeeper: Housekeeper | None = None) -> Any:
    """The fleet agent, when provisioning enrolled this kiosk (else None). It applies the
    operators' saved service order at once: call it before the attract screen. With a
    housekeeper, the disk's free space is in every heartbeat and a change of it sends one."""
    config = ctx.config
    if not config.fleet.enrolled:
        return None
    from kiosk.fleet_link import FleetLink, wire_devices

    more = (housekeeper.status,) if housekeeper is not None else ()
    link = FleetLink(config, session, ctx.journal, wire_devices(session.device_manager, *more),
                     restart_app=restart_app, run=run, updates=updates)
    link.start()
    return link



async def _run_headless(config: KioskConfig, scenario: str | None, control_url: str | None,
                        repeat: int) -> dict:
    """The kiosk without its screens: recovery, then (optionally) scripted citizens."""
    run_record = RunRecord(config.state_dir)
    run = await asyncio.to_thread(run_record.begin)
    ctx, session = await prepare(config)
    summary: dict = {"recovery": dict(session.recovery_report)}
    housekeeper = start_housekeeping(ctx, session)
    fleet = start_fleet_link(ctx, session, restart_app=lambda: None, run=run,
                             housekeeper=housekeeper)
    housekeeper.fleet = fleet
    failure: BaseException | None = None
    outbox_delivery = start_outbox_delivery(ctx, session)
    try:
        if scenario:
            from scenarios.headless_citizen import run_headless

            session.start()
            summary.update(await run_headless(ctx.view, session, control_url or "", scenario,
                                              repeat))
    except BaseException as exc:
        failure = exc
        raise
    finally:
        outbox_delivery.cancel()
        await housekeeper.stop()
        await _end_run(run_record, run, fleet, failure)
        await close_context(ctx, session)
    summary["unfinished"] = summary_unfinished(config)
    return summary


def summary_unfinished(config: KioskConfig) -> dict[str, int]:
    journal = Journal(config.journal_path, config.kiosk_id)
    try:
        counts: dict[str, int] = {}
        for tx in journal.unfinished():
            counts[tx.state.value] = counts.get(tx.state.value, 0) + 1
        return counts
    finally:
        journal.close()


async def _run_out_of_service(config: KioskConfig, reason: OutOfServiceReason) -> None:
    """Only the out-of-service screen: what systemd starts when the kiosk cannot run."""
    from screens.app import KioskApp

    require_window()
    view = SessionView(language=config.ui.language, screen=ScreenId.OUT_OF_SERVICE,
                       out_of_service_key=reason, hotline=config.flow.office_hotline)

    class NoIntents:
        def __getattr__(self, name: str):
            return lambda *args, **kwargs: None

    # The unit is Type=notify with a watchdog, like the kiosk: READY once the screen is up,
    # pings from this loop while it stays up.
    watchdog = Watchdog.from_environment(os.environ)
    watchdog.start()
    app = KioskApp(view, NoIntents())
    app.bind(on_start=lambda *_: watchdog.ready(f"out of service: {reason.code}"))
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        watchdog.stop()


def show_out_of_service(config_path: Path | None, overrides: dict[str, Any]) -> int:
    """`kiosk --out-of-service`: the screen with its reason, whatever the configuration holds."""
    shown = out_of_service(config_path, overrides)
    config = shown.config
    setup_logging(config.log_dir, retention=config.retention)
    log.error("out of service (reason=%s): %s", shown.reason.code, shown.detail)
    from screens.bootstrap import configure_kivy

    configure_kivy(config.ui.width, config.ui.height, config.ui.fullscreen, config.ui.font_path)
    asyncio.run(_run_out_of_service(config, shown.reason))
    return 0


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
    overrides: dict = {}
    if state_dir is not None:
        overrides["state_dir"] = str(state_dir)
    if log_dir is not None:
        overrides["log_directory"] = str(log_dir)
    if windowed:
        overrides["ui"] = {"fullscreen": False}
    if out_of_service:
        return show_out_of_service(config_path, overrides)
    if not is_provisioned(config_path):
        # Restarting cannot help: exit with the code kiosk.service does not restart on, so
        # systemd shows the out-of-service screen, which says why.
        setup_logging(load_config(None, overrides).log_dir)
        log.error("not provisioned: %s does not exist; run kiosk-provision", config_path)
        return EXIT_NOT_PROVISIONED
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
            summary = asyncio.run(_run_headless(config, scenario, control_url, repeat))
            print(json.dumps(summary))
            return 0 if summary.get("ok", True) else 1
        from screens.bootstrap import configure_kivy

        configure_kivy(config.ui.width, config.ui.height, config.ui.fullscreen,
                       config.ui.font_path)
        marks["kivy_configured"] = time.time()
        scripted = asyncio.run(_run(config, scenario, control_url, out_dir, started_at, marks))
    finally:
        if sim is not None:
            sim.stop()
    if scripted is not None:
        scripted["startup_marks"] = marks
        print(json.dumps(scripted, ensure_ascii=False, indent=2))
        return 0 if scripted.get("ok") else 1
    return 0
