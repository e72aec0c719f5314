"""The composition root: configuration, simulator switch, devices, clients, journal, session, UI."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.allocator import hold_mmap_threshold
from kiosk.availability import ServiceAvailability, assumed_usable
from kiosk.backends import CatalogClient, NotificationClient, PaymentClient, ServiceClient
from kiosk.catalog_cache import CatalogCache
from kiosk.config import KioskConfig
from kiosk.devices import build_devices, build_manager, camera_scanner_for, device_statuses
from kiosk.embedded_simulator import EmbeddedSimulator as EmbeddedSimulator  # bench, tests
from kiosk.flow import FlowContext
from kiosk.journal import Journal
from kiosk.json_object import JsonObject
from kiosk.late_intents import LateIntents
from kiosk.logs import setup_logging
from kiosk.out_of_service import (
    OutOfServiceReason,
    out_of_service,
)
from kiosk.process_end import require_window
from kiosk.retention import Housekeeper, start_housekeeping
from kiosk.run_state import RunInfo, RunRecord
from kiosk.session import KioskSession
from kiosk.step_library import STEP_LIBRARY
from kiosk.step_trace import StepTrace
from kiosk.transaction import TransactionCore
from kiosk.update.agent import UpdateAgent
from kiosk.viewmodel import ScreenId, SessionView
from kiosk.watchdog import Watchdog
from peripherals.device_manager import DeviceManager
from peripherals.health import DeviceStatus

if TYPE_CHECKING:  # the fleet link and voice are imported where used, off the start-up path
    from kiosk.fleet_link import FleetLink
    from kiosk.fleet_updates import Updates
    from kiosk.videocall import ScreenFeed
    from peripherals.scan_event import ScanEvent

log = logging.getLogger(__name__)


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


def build_context(config: KioskConfig, view: SessionView | None = None, *,
                  simulator_cpu: Callable[[], float] | None = None) -> FlowContext:
    """The kiosk's devices, clients and transaction core; on `view` when the screens already
    show one (kiosk.main). `simulator_cpu`: the CPU seconds of the kiosk's own simulator, for
    the step trace."""
    b = config.backends
    devices = build_devices(config)
    payment = PaymentClient(b.payment_url, b.deadline_s)
    services = {name: ServiceClient(url, b.deadline_s, link_floor_bps=b.link_floor_bps)
                for name, url in b.services().items()}
    return FlowContext(
        config=config,
        view=view if view is not None else SessionView(language=config.ui.language),
        transactions=build_transactions(config, payment, services),
        devices=devices,
        camera_scanner=camera_scanner_for(config, devices),
        payment=payment,
        services=services,
        subject_key=subject_key(config.state_dir),
        trace=StepTrace(simulator_cpu),
    )


def build_session(ctx: FlowContext, manager: DeviceManager | None = None, *,
                  video_calls: bool = False, screen: ScreenFeed | None = None) -> KioskSession:
    """The session; with a device manager, the menu follows the devices' live health. With
    `video_calls`, an enrolled kiosk's session offers video help from the hall, sharing
    `screen` (kiosk.videocall); the desk starts with `session.calls.start()`."""
    catalog_client = CatalogClient(ctx.config.backends.catalog_url, ctx.config.backends.deadline_s)
    cache = CatalogCache(ctx.config.catalog_path, STEP_LIBRARY)
    present = ctx.devices.names()
    calls = None
    if video_calls:
        from kiosk.videocall.wiring import build_video_calls

        calls = build_video_calls(ctx, cache, screen)

    def states() -> Mapping[str, DeviceStatus]:
        if manager is not None:
            return device_statuses(manager)
        return assumed_usable(present)

    availability = ServiceAvailability(states, frozenset(ctx.config.backends.site_backends))
    session = KioskSession(ctx, cache, catalog_client, availability,
                           reconcile=ctx.transactions.reconcile, device_manager=manager,
                           calls=calls)

    if manager is not None:
        manager.subscribe(session.on_device_event)
    scanner = ctx.devices.barcode_scanner
    if scanner is not None:
        # A code shown to the scanner goes to the running step (an account number, a payment
        # code) or to a village agent's sign-in; between citizens it is ignored.
        def to_running_step(event: ScanEvent) -> None:
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


async def begin(config: KioskConfig, view: SessionView | None = None, *,
                video_calls: bool = False, screen: ScreenFeed | None = None,
                simulator_cpu: Callable[[], float] | None = None,
                ) -> tuple[FlowContext, KioskSession]:
    """What must come before a citizen is served: recovery of unfinished transactions, and the
    session on the cached catalog (with video calls: `build_session`). Its devices are not read
    yet (`come_up`)."""
    hold_mmap_threshold()
    ctx = build_context(config, view, simulator_cpu=simulator_cpu)
    report = await ctx.transactions.reconcile(everything=True)
    log.info("recovery: %s", report.as_json())
    session = build_session(ctx, build_manager(ctx.devices), video_calls=video_calls,
                            screen=screen)
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


async def prepare(config: KioskConfig, simulator_cpu: Callable[[], float] | None = None,
                  ) -> tuple[FlowContext, KioskSession]:
    """`begin` and `come_up` in one: recovery, every device read, the catalog fetched."""
    ctx, session = await begin(config, simulator_cpu=simulator_cpu)
    await come_up(session)
    return ctx, session


# Any: the Kivy App (screens.app.KioskApp), which the core does not import.
async def serve(config: KioskConfig, app: Any, view: SessionView, intents: LateIntents,
                stopped: asyncio.Future[BaseException | None], ready: asyncio.Event,
                marks: dict[str, float]) -> None:
    """The kiosk's core behind screens already showing the attract screen (kiosk.main):
    recovery, the session taking over the screens' intents, then the devices' first reading and
    the catalog fetch; until the app has stopped (`stopped` says with what exception, if any)."""
    from screens.screen_share import ScreenShare

    # How the last run ended (a crash the fleet must hear of?) and this one is running.
    run_record = RunRecord(config.state_dir)
    run = await asyncio.to_thread(run_record.begin)
    # Video help from the hall, when enrolled, shares what the window shows.
    screen = (ScreenShare(app, config.call.screen_width, config.call.screen_height)
              if config.fleet.enrolled else None)
    ctx, session = await begin(config, view, video_calls=True, screen=screen)
    marks["session"] = time.time()
    intents.attach(session)
    session.start()
    outbox_delivery = start_outbox_delivery(ctx, session)
    prewarm = ctx.tasks.spawn("voice-prewarm", app.voice.prewarm())
    housekeeper = start_housekeeping(ctx, session)
    calls = session.calls
    if calls is not None:
        calls.start()
    # Updates: this run's health for the slot guard; a staged release is restarted into
    # between citizens (kiosk.update.agent). The fleet link passes the fleet's update command
    # to it, reports its status, and tells it when the fleet answered a heartbeat.
    updates = UpdateAgent(config, lambda: session.must_not_restart, ctx.journal, app.stop,
                          config.fleet.enrolled, tasks=ctx.tasks)
    updates.attract_reached()   # the screens came first

    async def coming_up() -> None:
        await come_up(session)
        updates.devices_probed()
        marks["core_ready"] = time.time()
        ready.set()

    started = ctx.tasks.spawn("come-up", coming_up())
    fleet = start_fleet_link(ctx, session, restart_app=app.stop, run=run, updates=updates,
                             housekeeper=housekeeper)
    updates.start()
    failure: BaseException | None = None
    try:
        failure = await stopped
    finally:
        started.cancel()
        await updates.stop()
        await housekeeper.stop()
        outbox_delivery.cancel()
        prewarm.cancel()
        if calls is not None:
            await calls.stop()
        await _end_run(run_record, run, fleet, failure)
        await close_context(ctx, session)


async def _end_run(record: RunRecord, run: RunInfo, fleet: FleetLink | None,
                   failure: BaseException | None) -> None:
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
    task = ctx.tasks.keep_running("outbox-delivery", courier.deliver_forever)
    task.add_done_callback(lambda _: outbox.close())
    return task


def start_fleet_link(ctx: FlowContext, session: KioskSession,
                     restart_app: Callable[[], None], run: RunInfo, updates: Updates | None = None,
                     housekeeper: Housekeeper | None = None) -> FleetLink | None:
    """The fleet agent, when provisioning enrolled this kiosk (else None), connected to the
    kiosk's fleet channel. It applies the operators' saved service order at once: call it
    before the attract screen. With a housekeeper, the disk's free space is in every heartbeat
    (a change of it sends one, through the channel)."""
    config = ctx.config
    if not config.fleet.enrolled:
        return None
    from kiosk.fleet_devices import wire_devices
    from kiosk.fleet_link import FleetLink

    more = (housekeeper.status,) if housekeeper is not None else ()
    link = FleetLink(config, session, ctx.journal, wire_devices(session.device_manager, *more),
                     restart_app=restart_app, run=run, updates=updates)
    link.start()
    return link



async def serve_headless(config: KioskConfig, scenario: str | None, control_url: str | None,
                        repeat: int,
                        simulator_cpu: Callable[[], float] | None = None) -> JsonObject:
    """The kiosk without its screens: recovery, then (optionally) scripted citizens. The
    summary says how much CPU the scenario took in this process (`cpu_s`: our code, its
    libraries and the scripted citizen) and, given `simulator_cpu`, in the simulator's."""
    run_record = RunRecord(config.state_dir)
    run = await asyncio.to_thread(run_record.begin)
    ctx, session = await prepare(config, simulator_cpu)
    summary: JsonObject = {"recovery": dict(session.recovery_report)}
    housekeeper = start_housekeeping(ctx, session)
    fleet = start_fleet_link(ctx, session, restart_app=lambda: None, run=run,
                             housekeeper=housekeeper)
    failure: BaseException | None = None
    outbox_delivery = start_outbox_delivery(ctx, session)
    try:
        if scenario:
            from scenarios.headless_citizen import run_headless

            session.start()
            cpu, sim_cpu = time.process_time(), simulator_cpu() if simulator_cpu else 0.0
            summary.update(await run_headless(ctx.view, session, control_url or "", scenario,
                                              repeat))
            summary["cpu_s"] = round(time.process_time() - cpu, 3)
            summary["steps"] = ctx.trace.summary()
            if simulator_cpu is not None:
                summary["simulator_cpu_s"] = round(simulator_cpu() - sim_cpu, 3)
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
        def __getattr__(self, name: str) -> Callable[..., None]:
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


def show_out_of_service(config_path: Path | None, overrides: JsonObject) -> int:
    """`kiosk --out-of-service`: the screen with its reason, whatever the configuration holds."""
    shown = out_of_service(config_path, overrides)
    config = shown.config
    setup_logging(config.log_dir, retention=config.retention)
    log.error("out of service (reason=%s): %s", shown.reason.code, shown.detail)
    from screens.bootstrap import configure_kivy

    configure_kivy(config.ui.width, config.ui.height, config.ui.fullscreen, config.ui.font_path)
    asyncio.run(_run_out_of_service(config, shown.reason))
    return 0
