"""A citizen's visit: turns the screens' intents into flows, watches for inactivity, keeps the
menu in step with the catalog, the devices and the network, and wipes everything at the end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kiosk.agent_intents import AgentIntents
from kiosk.availability import IN_PERSON_ONLY, ServiceAvailability
from kiosk.backends import BackendError, CatalogClient, CatalogValidators
from kiosk.call_intents import CallIntents
from kiosk.catalog import Catalog, CatalogError, ServiceItem
from kiosk.catalog_cache import CatalogCache
from kiosk.citizen_rating import CitizenRating
from kiosk.citizen_time import CitizenClock
from kiosk.flow import FlowContext
from kiosk.flow_engine import FlowEngine
from kiosk.i18n import LANGUAGES
from kiosk.json_object import JsonObject
from kiosk.service_menu import ServiceMenu
from kiosk.session_finding import FindingIntents
from kiosk.technician import TechnicianMode
from kiosk.viewmodel import ScreenId, ServiceTile, Volume, personal_defaults, stages_of
from kiosk.village_agent import AgentDesk
from peripherals.device_manager import DeviceManager

if TYPE_CHECKING:
    from kiosk.videocall import VideoCallDesk

log = logging.getLogger(__name__)


class KioskSession(FindingIntents, CallIntents, TechnicianMode, AgentIntents):
    """Implements the screens' intents (kiosk.viewmodel.Intents) on one event loop; finding
    and rating a service's come from kiosk.session_finding, the video call's from
    kiosk.call_intents, the technician's from kiosk.technician, the village agent's from
    kiosk.agent_intents."""

    def __init__(self, ctx: FlowContext, catalog_cache: CatalogCache,
                 catalog_client: CatalogClient, availability: ServiceAvailability,
                 reconcile: Callable[[], Awaitable[object]] | None = None,
                 device_manager: DeviceManager | None = None,
                 calls: VideoCallDesk | None = None) -> None:
        self.ctx = ctx
        self.view = ctx.view
        self.catalog_cache = catalog_cache
        self.catalog_client = catalog_client
        self.availability = availability
        self.reconcile = reconcile          # settles orphaned transactions (the transaction core)
        self.catalog = catalog_cache.load()
        self.catalog_problem: str | None = None
        self._refused = ("", "")            # (ETag, reason) of a published catalog we refused
        self.recovery_report: JsonObject = {}
        self.device_manager = device_manager   # None when no device is watched (tests, guides)
        self._self_test_task: asyncio.Task[None] | None = None
        self.operator_out_of_service = ""
        self.storage_out_of_service = ""    # "oos.disk_full" while the disk is nearly full
        self.starting = False               # devices' first reading, the first catalog fetch
        self.calls = calls                  # video help from the hall, when enrolled
        self._taps: list[float] = []
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self._device_events: tuple[str, ...] = ()
        self.network_ok = True
        # Told when the backends become reachable (True) or not: the outbox's courier.
        self.link_watchers: list[Callable[[bool], None]] = []
        self._flow_task: asyncio.Task[None] | None = None
        self._engine: FlowEngine | None = None
        self._after_cancel = ""             # "menu" or "restart": where "上一步" leads
        self.clock = CitizenClock(lambda: self.ctx.config, self.view,
                                  flow_running=lambda: self._flow_task is not None)
        self._tasks: list[asyncio.Task[None]] = []
        self.agents = AgentDesk(ctx, self._tiles, self._start_flow)  # the village agent, if any
        self.menu = ServiceMenu(self.view, self.tile_for, ctx.journal, ctx)
        self.rating = CitizenRating(ctx, self._next_visit)  # batch mode: the next citizen
        self.view.update(language=ctx.config.ui.language, services=self._tiles(),
                         hotline=ctx.config.flow.office_hotline)

    @property
    def catalog(self) -> Catalog | None:
        """The catalog the kiosk serves by, held by its cache (the video-call desk reads it
        there); replaced on the loop only."""
        return self.catalog_cache.in_force

    @catalog.setter
    def catalog(self, catalog: Catalog | None) -> None:
        self.catalog_cache.in_force = catalog

    # Catalog, devices and network -> the menu.
    def _tiles(self) -> tuple[ServiceTile, ...]:
        """The kiosk's own items (guide-only ones are found by category and search)."""
        if self.catalog is None:
            return ()
        tiles = (self.tile_for(item) for item in self.catalog.items if item.runs_on_kiosk)
        return self.menu.kiosk_order(tuple(t for t in tiles if not t.guide_only))

    def refresh_menu(self) -> None:
        tiles = self._tiles()
        self.view.update(services=tiles, network_ok=self.network_ok)
        # While the kiosk comes up, items still dark are not known yet, not out of service.
        nothing_offered = not self.starting and not any(t.available for t in tiles)
        reason = (self.operator_out_of_service or self.storage_out_of_service
                  or ("oos.no_service" if nothing_offered else ""))
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

    def set_disk_full(self, full: bool) -> None:
        """The disk below its stop mark (kiosk.retention): no new citizen until space is freed;
        a citizen being served finishes."""
        self.storage_out_of_service = "oos.disk_full" if full else ""
        self.refresh_menu()

    async def refresh_catalog(self) -> None:
        """Fetches the catalog if it changed since the cached copy; only a valid one replaces it."""
        have = self.catalog_cache.validators() if self.catalog is not None else None
        refused_etag, refused_reason = self._refused
        if refused_etag:
            # A catalog refused once is not downloaded again while it is the one published.
            known = [have.etag] if have is not None and have.etag else []
            have = CatalogValidators(", ".join([*known, refused_etag]))
        try:
            fetched = await self.catalog_client.fetch(have)
            self._set_network(True)
        except BackendError as exc:
            self._set_network(False)
            self.catalog_problem = "catalog_unreachable"
            log.warning("catalog not fetched: %s", exc.reason.value)
            self.refresh_menu()
            return
        if fetched.raw is None:  # 304: the copy we hold (or the one we refused) is current
            refused = refused_etag and fetched.validators.etag == refused_etag
            self.catalog_problem = refused_reason if refused else None
            self.refresh_menu()
            return
        try:
            # Off the loop: a province's 3,000 items take ~0.3 s to parse (bench.menu).
            self.catalog = await asyncio.to_thread(
                self.catalog_cache.accept, fetched.raw, fetched.validators)
            self._refused, self.catalog_problem = ("", ""), None
            await self.menu.follow(self.catalog)
        except CatalogError as exc:
            self._refused = (fetched.validators.etag, exc.reason.value)
            self.catalog_problem = exc.reason.value
            self.ctx.report_problem("catalog_refused", exc.reason.value)
            log.error("published catalog refused, keeping version %s: %s",
                      self.catalog.version if self.catalog else "none", exc,
                      extra={"reason": exc.reason.value})
        self.refresh_menu()

    def _set_network(self, ok: bool) -> None:
        changed, self.network_ok = ok != self.network_ok, ok
        for watcher in self.link_watchers if changed else ():
            watcher(ok)

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
        self._tasks = [self.ctx.tasks.keep_running("session-backends", self._watch_backends)]
        self.clock.start(self._on_time, self.agents.expires_in_s)

    async def stop(self) -> None:
        self.rating.close()
        self.clock.stop()
        for task in [self._flow_task, self._self_test_task, *self._tasks]:
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
        verdict = self.availability.check(item, self.network_ok, bool(agent)) \
            if item.runs_on_kiosk else None
        if verdict is not None and verdict.reason_key == IN_PERSON_ONLY:
            self.refresh_menu()   # the tile says why; the agent may not run it
            return
        if verdict is None or not verdict.offered:
            self.open_guide(code)   # done at a window or online, or not now: its guide
            return
        if agent:
            self.agents.ask_consent(item)  # the citizen agrees on screen first
        else:
            self._start_flow(item)

    def _start_flow(self, item: ServiceItem, agent_id: str = "") -> None:
        self.clock.item = item
        self.menu.record_use(item.code)
        self.rating.forget()
        self.view.update(stages=stages_of([spec.step for spec in item.steps]), stage_index=-1,
                         documents=())
        self._engine = FlowEngine(self.ctx, agent_id)
        self._flow_task = self.ctx.tasks.spawn(f"flow:{item.code}", self._run_flow(item))

    def choose_option(self, code: str) -> None:
        self.activity()
        self.ctx.offer_choice(code)

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
        elif self.view.typable(key) and len(entry) < 30:
            self.view.update(entry=entry + key.upper(), entry_error_key="")

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
            if not self.menu.back():
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
        self.ctx.report_problem("help_requested", f"screen={v.screen.value};step={step}")

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
        """"Done" on the result screen: the rating, if the service may be rated; "skip" on
        the rating screen: home (batch mode: the menu for the agent's next citizen)."""
        if self.view.screen is ScreenId.EVALUATE or self._flow_task is not None \
                or not self.rating.show():
            self._next_visit()

    def dismiss_idle_prompt(self) -> None:
        self.activity()

    # Internals.
    async def _run_flow(self, item: ServiceItem) -> None:
        engine = self._engine
        assert engine is not None
        then = ""
        try:
            await engine.run(item)
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
            if engine.tx_id and self.view.screen is ScreenId.RESULT and not item.rates_itself:
                self.rating.offer(item.code, engine.tx_id, engine.agent_id)   # finished or failed: 好差评
            self.clock.touch()
            while not self.ctx.scans.empty():
                self.ctx.scans.get_nowait()
        if then == "restart":
            self._start_flow(item)
        elif then == "menu":
            self._clear_visit(ScreenId.MENU)

    def _clear_visit(self, screen: ScreenId) -> None:
        self.view.update(
            screen=screen, service_title={}, options=(), qr_payload="", order_no="", faces=0,
            idle_prompt=False, busy=False, busy_key="", status_key="",
            status_params={}, stages=(), stage_index=-1,
            documents=(), countdown_s=0, consent_pending=False, exit_prompt=False, entry_letters=False,
            help_shown=False, services=self._tiles(), **personal_defaults())
        self.rating.forget()
        self.menu.reset()

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

    def _on_time(self, verdict: str) -> None:
        """The citizen's time, looked at when something was due (kiosk.citizen_time)."""
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
