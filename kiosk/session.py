"""A citizen's visit: turns the screens' intents into flows, watches for inactivity, wipes at the end."""

from __future__ import annotations

import asyncio
import logging
import time

from kiosk.endorsement import SERVICE_CODE as ENDORSEMENT
from kiosk.endorsement import EndorsementFlow
from kiosk.flow import FlowContext
from kiosk.i18n import LANGUAGES
from kiosk.viewmodel import ScreenId, ServiceTile

log = logging.getLogger(__name__)

# Screens where the citizen is expected to act; elsewhere the flow has its own time limits.
_IDLE_WATCHED = {ScreenId.MENU, ScreenId.PLACE_PERMIT, ScreenId.FACE, ScreenId.CHOOSE}


class KioskSession:
    """Implements the screens' intents (kiosk.viewmodel.Intents) on one event loop."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.view = ctx.view
        self._flow_task: asyncio.Task[None] | None = None
        self._last_activity = time.monotonic()
        self._watch_task: asyncio.Task[None] | None = None
        self.view.update(language=ctx.config.ui.language, services=self._services())

    def _services(self) -> tuple[ServiceTile, ...]:
        return (ServiceTile(ENDORSEMENT, "service.endorsement", "service.endorsement.desc", True),)

    def start(self) -> None:
        self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        for task in (self._flow_task, self._watch_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    # Intents from the screens.
    def activity(self) -> None:
        self._last_activity = time.monotonic()
        if self.view.idle_prompt:
            self.view.update(idle_prompt=False)

    def touch_start(self) -> None:
        self.activity()
        if self.view.screen is ScreenId.ATTRACT:
            self.view.update(screen=ScreenId.MENU, services=self._services())

    def set_language(self, language: str) -> None:
        if language in LANGUAGES:
            self.activity()
            self.view.update(language=language)

    def choose_service(self, code: str) -> None:
        self.activity()
        if code != ENDORSEMENT or self._flow_task is not None:
            return
        self._flow_task = asyncio.get_running_loop().create_task(self._run_flow())

    def choose_option(self, code: str) -> None:
        self.activity()
        self.ctx.offer_choice(code)

    def cancel(self) -> None:
        """The citizen's way out, from any screen."""
        if self._flow_task is not None:
            self._flow_task.cancel()
        else:
            self._to_attract()

    def finish(self) -> None:
        self._to_attract()

    def dismiss_idle_prompt(self) -> None:
        self.activity()

    # Internals.
    async def _run_flow(self) -> None:
        try:
            await EndorsementFlow(self.ctx).run()
        except asyncio.CancelledError:
            self._to_attract()
        except Exception:
            log.exception("flow failed unexpectedly")
            self._to_attract()
        finally:
            self._flow_task = None
            self._last_activity = time.monotonic()

    def _to_attract(self) -> None:
        # End of the visit: every piece of personal data leaves the view.
        self.view.update(
            screen=ScreenId.ATTRACT,
            options=(),
            qr_payload="",
            order_no="",
            preview=None,
            faces=0,
            result_lines=(),
            idle_prompt=False,
            busy=False,
            status_key="",
            status_params={},
            language=self.ctx.config.ui.language,
        )

    async def _watch(self) -> None:
        ui = self.ctx.config.ui
        while True:
            await asyncio.sleep(0.5)
            screen = self.view.screen
            idle = time.monotonic() - self._last_activity
            if screen is ScreenId.RESULT and self._flow_task is None and idle > ui.result_timeout_s:
                self._to_attract()
            elif screen in _IDLE_WATCHED:
                if idle > ui.idle_prompt_s + ui.idle_timeout_s:
                    log.info("session timed out on %s", screen.value)
                    self.cancel()
                elif idle > ui.idle_prompt_s:
                    left = int(ui.idle_prompt_s + ui.idle_timeout_s - idle) + 1
                    self.view.update(idle_prompt=True, idle_seconds_left=left)
