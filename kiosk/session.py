"""A citizen's visit: turns the screens' intents into flows, watches for inactivity, keeps the
menu in step with the catalog, the devices and the network, and wipes everything at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from kiosk.agent_intents import AgentIntents
from kiosk.availability import NOT_FITTED, ServiceAvailability
from kiosk.backends import BackendError, CatalogClient
from kiosk.call_intents import CallIntents
from kiosk.catalog import Catalog, CatalogCache, CatalogError, ServiceItem
from kiosk.citizen_time import CitizenClock
from kiosk.flow import FlowContext
from kiosk.flow_engine import FlowEngine
from kiosk.i18n import LANGUAGES
from kiosk.pin import verify_pin
from kiosk.viewmodel import ScreenId, ServiceTile, Volume, stages_of
from kiosk.village_agent import AgentDesk

if TYPE_CHECKING:
    from kiosk.videocall import VideoCallDesk

log = logging.getLogger(__name__)


class KioskSession(CallIntents, AgentIntents):
    """Implements the screens' intents (kiosk.viewmodel.Intents) on one event loop; the video
    call's come from kiosk.call_intents, the village agent's from kiosk.agent_intents."""

    def __init__(self, ctx: FlowContext, catalog_cache: CatalogCache,
                 catalog_client: CatalogClient, availability: ServiceAvailability,
                 reconcile: Callable[[], Awaitable[object]] | None = None) -> None:
        self.ctx = ctx
        self.view = ctx.view
        self.catalog_cache = catalog_cache
        self.catalog_client = catalog_client
        self.availability = availability
        self.reconcile = reconcile          # settles orphaned transactions (kiosk.recovery)
        self.on_problem: Callable[[str, str], None] | None = None   # (kind, reason) -> fleet
        self.catalog: Catalog | None = catalog_cache.load()
        self.catalog_problem: str | None = None
        self.recovery_report: dict = {}
        self.device_manager: Any = None     # peripherals' DeviceManager, when devices are watched
        self.operator_out_of_service = ""
        self.calls: VideoCallDesk | None = None   # video help from the hall, when enrolled
        self._taps: list[float] = []
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self._device_events: tuple[str, ...] = ()
        self.network_ok = True
        self._flow_task: asyncio.Task[None] | None = None
        self._engine: FlowEngine | None = None
        self._after_cancel = ""             # "menu" or "restart": where "上一步" leads
        self.clock = CitizenClock(lambda: self.ctx.config, self.view)
        self.clock.flow_running = lambda: self._flow_task is not None
        self._tasks: list[asyncio.Task[None]] = []
        self.agents = AgentDesk(ctx, self._tiles, self._start_flow)  # the village agent, if any
        self.view.update(language=ctx.config.ui.language, services=self._tiles(),
                         hotline=ctx.config.flow.office_hotline)

    # Catalog, devices and network -> the menu.
    def _tiles(self) -> tuple[ServiceTile, ...]:
        if self.catalog is None:
            return ()
        tiles = []
        for item in self.catalog.items:
            if not item.runs_on_kiosk:
                continue  # guide-only items reach the citizen through the guide menu (part B)
            verdict = self.availability.check(item, self.network_ok, bool(self.agents.agent_id))
            if verdict.reason_key == NOT_FITTED:
                continue
            tiles.append(
                ServiceTile(
                    item.code,
                    item.name,
                    item.summary,
                    verdict.offered,
                    verdict.reason_key,
                    verdict.warning_key,
                    item.elder_first,
                )
            )
        return tuple(tiles)

    def refresh_menu(self) -> None:
        tiles = self._tiles()
        self.view.update(services=tiles, network_ok=self.network_ok)
        nothing_offered = not any(t.available for t in tiles)
        reason = self.operator_out_of_service or ("oos.no_service" if nothing_offered else "")
        if self._flow_task is None and self.view.screen in (ScreenId.ATTRACT, ScreenId.MENU,
                                                            ScreenId.OUT_OF_SERVICE):
            if reason:
                self.view.update(screen=ScreenId.OUT_OF_SERVICE, out_of_service_key=reason)
            elif self.view.screen is ScreenId.OUT_OF_SERVICE:
                self.view.update(screen=ScreenId.ATTRACT, out_of_service_key="")

    def set_out_of_service(self, on: bool) -> None:
        """The operators' remote command: out of service / back in service."""
        self.operator_out_of_service = "oos.operator" if on else ""
        self.refresh_menu()

    async def refresh_catalog(self) -> None:
        """Fetches the published catalog; only a valid one replaces the cached one."""
        try:
            raw = await self.catalog_client.fetch_raw()
            self.network_ok = True
        except BackendError as exc:
            self.network_ok = False
            self.catalog_problem = "catalog_unreachable"
            log.warning("catalog not fetched: %s", exc.reason.value)
            self.refresh_menu()
            return
        try:
            if self.catalog is None or raw != getattr(self, "_last_raw", None):
                # Off the loop: a province's 3,000 items take ~0.3 s to parse (bench.menu).
                self.catalog = await asyncio.to_thread(self.catalog_cache.accept, raw)
                self._last_raw = raw
            self.catalog_problem = None
        except CatalogError as exc:
            self.catalog_problem = exc.reason.value
            if self.on_problem is not None:
                self.on_problem("catalog_refused", exc.reason.value)
            log.error(
                "published catalog refused, keeping version %s: %s",
                self.catalog.version if self.catalog else "none",
                exc,
                extra={"reason": exc.reason.value},
            )
        self.refresh_menu()

    async def _watch_backends(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.config.backends.health_interval_s)
            if self._flow_task is None:
                await self.refresh_catalog()
                # A citizen may have started a flow while the catalog was fetched: the core
                # would not touch its transaction (it belongs to the flow, and a pass gives
                # way to a live flow), but a pass has no business running while one is live.
                if self.reconcile is not None and self.network_ok and self._flow_task is None:
                    try:
                        await self.reconcile()
                    except Exception:
                        log.exception("reconciliation failed")

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch_idle()),
            loop.create_task(self._watch_backends()),
        ]

    async def stop(self) -> None:
        for task in [self._flow_task, *self._tasks]:
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    @property
    def busy(self) -> bool:
        """True while a citizen's transaction runs: no restart or update may happen then."""
        return self._flow_task is not None

    # Intents from the screens.
    def activity(self) -> None:
        self.clock.touch()

    def touch_start(self) -> None:
        self.activity()
        if self.view.screen is ScreenId.ATTRACT:
            self.view.update(screen=ScreenId.MENU, services=self._tiles())

    def set_language(self, language: str) -> None:
        if language in LANGUAGES:
            self.activity()
            self.view.update(language=language)

    def choose_service(self, code: str) -> None:
        self.activity()
        if self._flow_task is not None or self.catalog is None:
            return
        try:
            item = self.catalog.item(code)
        except KeyError:
            return
        agent = self.agents.agent_id
        if not self.availability.check(item, self.network_ok, bool(agent)).offered:
            self.refresh_menu()
            return
        if agent:
            self.agents.ask_consent(item)  # the citizen agrees on screen first
        else:
            self._start_flow(item)

    def _start_flow(self, item: ServiceItem, agent_id: str = "") -> None:
        self.clock.item = item
        self.view.update(stages=stages_of([spec.step for spec in item.steps]), stage_index=-1,
                         documents=())
        self._engine = FlowEngine(self.ctx, agent_id)
        self._flow_task = asyncio.get_running_loop().create_task(self._run_flow(item))

    def choose_option(self, code: str) -> None:
        self.activity()
        self.ctx.offer_choice(code)

    # Technician mode: five taps on the attract headline, then the PIN.
    def technician_tap(self) -> None:
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < 3.0] + [now]
        if len(self._taps) >= 5 and self.view.screen is ScreenId.ATTRACT and not self.busy:
            self._taps = []
            self.view.update(screen=ScreenId.TECHNICIAN_PIN, entry="", entry_error_key="")

    def _check_pin(self, pin: str) -> None:
        if time.monotonic() < self._pin_locked_until:
            self.view.update(entry="", entry_error_key="tech.locked")
            return
        encoded = self.ctx.config.technician.pin_hash
        if not encoded:
            self.view.update(entry="", entry_error_key="tech.not_provisioned")
            return
        if verify_pin(pin, encoded):
            self._pin_failures = 0
            log.info("technician signed in")
            self.view.update(screen=ScreenId.TECHNICIAN, entry="", technician_note="")
            self._show_devices()
            return
        self._pin_failures += 1
        log.warning("wrong technician PIN (%d)", self._pin_failures)
        if self._pin_failures >= 3:
            self._pin_failures = 0
            self._pin_locked_until = time.monotonic() + 300
            self._to_attract()
        else:
            self.view.update(entry="", entry_error_key="tech.pin_wrong")

    def technician_action(self, action: str) -> None:
        self.activity()
        if self.view.screen is not ScreenId.TECHNICIAN:
            return
        if action == "self_test" and self.device_manager is not None:
            asyncio.get_running_loop().create_task(self._self_test())
        elif action == "back":
            self._to_attract()

    async def _self_test(self) -> None:
        results = await self.device_manager.self_test()
        passed = sum(1 for r in results if r.passed)
        self.view.update(technician_note=self.view.t("tech.self_test_done", passed=passed,
                                                     total=len(results)))
        self._show_devices()

    def on_device_event(self, event: Any) -> None:
        """Every device status change: the menu follows it; the technician screen lists it."""
        reason = event.status.reason.value if event.status.reason else ""
        line = f"{time.strftime('%H:%M:%S')}  {event.device}  {event.kind}  {reason}".rstrip()
        self._device_events = (line, *self._device_events)[:12]
        self.refresh_menu()
        if self.view.screen is ScreenId.TECHNICIAN:
            self._show_devices()

    def _show_devices(self) -> None:
        rows = []
        if self.device_manager is not None:
            for name, status in sorted(self.device_manager.snapshot().items()):
                supplies = ", ".join(f"{k}={v}" for k, v in sorted(status.supplies.items()))
                rows.append((name, status.health.value,
                             status.reason.value if status.reason else "", supplies))
        attention = len(self.ctx.journal.for_operators())  # needing a person, or unsettled
        self.view.update(device_rows=tuple(rows), device_events=self._device_events,
                         attention_count=attention)

    def key_press(self, key: str) -> None:
        self.activity()
        if self.agents.key_press(key):
            return
        if self.view.screen is ScreenId.TECHNICIAN_PIN and key == "ok":
            self._check_pin(self.view.entry)
            return
        entry = self.view.entry
        if key == "back":
            self.view.update(entry=entry[:-1], entry_error_key="")
        elif key == "ok":
            self.ctx.offer_choice(entry)
        elif key.isdigit() and len(entry) < 30:
            self.view.update(entry=entry + key, entry_error_key="")

    def cancel(self) -> None:
        """The citizen's way out, from any screen (after "really exit?"): a running flow stops
        and its ending is settled; once an order exists, the flow ends on its result screen,
        which says what became of the money."""
        self.view.update(exit_prompt=False)
        if self._engine is not None:
            self._after_cancel = ""
            self._engine.cancel_by_citizen()
        elif self.view.screen is ScreenId.AGENT_SIGN_IN:
            self.agents.close_sign_in()
        elif self.agents.agent_id:  # a citizen leaves the agent's menu or consent screen
            self.agents.stop_asking()
            self._next_visit()
        else:
            self._to_attract()

    def ask_exit(self) -> None:
        self.activity()
        if self.view.screen is not ScreenId.ATTRACT:
            self.view.update(exit_prompt=True, help_shown=False)

    def dismiss_exit(self) -> None:
        self.activity()
        self.view.update(exit_prompt=False)

    def go_back(self) -> None:
        """"上一步": only where nothing is lost (kiosk.citizen_time decides where that is)."""
        self.activity()
        if not self.view.can_go_back:
            return
        if self._engine is None:
            self._to_attract()
            return
        self._after_cancel = "restart" if self.clock.back_restarts() else "menu"
        self._engine.cancel_by_citizen()

    def call_staff(self) -> None:
        """"呼叫工作人员": the hotline on screen, and an event to the fleet with where the
        citizen is stuck (kiosk, screen, step; nothing personal)."""
        self.activity()
        v = self.view
        step = v.stages[v.stage_index] if 0 <= v.stage_index < len(v.stages) else ""
        self.view.update(help_shown=True, exit_prompt=False)
        log.info("citizen asked for staff on %s", v.screen.value)
        if self.on_problem is not None:
            self.on_problem("help_requested", f"screen={v.screen.value};step={step}")

    def close_help(self) -> None:
        self.activity()
        self.view.update(help_shown=False)

    def set_elder(self, on: bool) -> None:
        """Elder mode, for this visit only (the attract loop forgets it)."""
        self.activity()
        self.view.update(elder=bool(on))

    def cycle_volume(self) -> None:
        self.activity()
        order = list(Volume)
        self.view.update(volume=order[(order.index(self.view.volume) + 1) % len(order)])

    def finish(self) -> None:
        self._next_visit()

    def dismiss_idle_prompt(self) -> None:
        self.activity()

    # Internals.
    async def _run_flow(self, item: ServiceItem) -> None:
        assert self._engine is not None
        then = ""
        try:
            await self._engine.run(item)
        except asyncio.CancelledError:
            then, self._after_cancel = self._after_cancel, ""
            if self.view.screen is not ScreenId.RESULT:  # else: what became of the money
                if not then:
                    self._next_visit()
        except Exception:
            log.exception("flow failed unexpectedly")
            self._next_visit()
        finally:
            self._flow_task = self._engine = None
            self._after_cancel = ""
            self.clock.touch()
            while not self.ctx.scans.empty():
                self.ctx.scans.get_nowait()
        if then == "restart":
            self._start_flow(item)
        elif then == "menu":
            self._clear_visit(ScreenId.MENU)

    def _clear_visit(self, screen: ScreenId) -> None:
        self.view.update(
            screen=screen, service_title={}, options=(), qr_payload="", order_no="", preview=None, faces=0,
            result_lines=(), idle_prompt=False, busy=False, busy_key="", status_key="",
            status_params={}, entry="", confirm_lines=(), stages=(), stage_index=-1,
            documents=(), countdown_s=0, consent_pending=False, exit_prompt=False,
            help_shown=False, services=self._tiles())

    def _to_attract(self) -> None:
        # End of the visit: every piece of personal data leaves the view, and the citizen's
        # choices (language, elder mode, sound) go back to the kiosk's defaults.
        self._clear_visit(ScreenId.ATTRACT)
        self._end_call_with_visit()
        self.agents.sign_out()  # the attract screen: nobody is acting for anyone
        self.clock.item = None
        self.view.update(language=self.ctx.config.ui.language, elder=False,
                         volume=Volume.NORMAL)
        self.refresh_menu()   # straight to out of service if nothing can be offered

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            verdict = self.clock.tick()
            if self.agents.expired and not self.busy:
                log.info("village agent session over")
                self._to_attract()
            elif verdict == "result_over":
                self._next_visit()
            elif verdict == "timeout":
                log.info("session timed out on %s", self.view.screen.value)
                if self._engine is None and self.agents.agent_id:
                    self._to_attract()  # nobody at the agent's menu: the agent session ends
                else:
                    self.cancel()
