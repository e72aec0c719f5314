"""The time a citizen is given: what counts as activity, how long each step may sit still, the
"still there?" warning, and the countdowns on the pay and result screens.

Touches are not the only sign of a citizen: a card placed, a face in view, a page scanned or the
flow moving on count too (kiosk.viewmodel.PROGRESS_FIELDS), so a citizen busy with their cards
is never asked whether they are still there; nor is one ringing or talking to the hall by video.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.catalog import ServiceItem
from kiosk.config import KioskConfig
from kiosk.viewmodel import (
    DOCUMENT_PLACED,
    PROGRESS_FIELDS,
    STAGES,
    ScreenId,
    SessionView,
    stage_index,
)

# Screens where the citizen is expected to act; elsewhere the flow has its own time limits.
IDLE_WATCHED = frozenset({
    ScreenId.TECHNICIAN_PIN, ScreenId.TECHNICIAN, ScreenId.MENU, ScreenId.READ_IDCARD,
    ScreenId.PLACE_PERMIT, ScreenId.FACE, ScreenId.CHOOSE, ScreenId.ENTER_ACCOUNT,
    ScreenId.CONFIRM, ScreenId.SCAN_DOCUMENT, ScreenId.SEARCH, ScreenId.GUIDE,
})
# Screens after a service that go home by themselves, counting down: never in a next
# citizen's way (the rating is optional).
_AFTER_SERVICE = frozenset({ScreenId.RESULT, ScreenId.EVALUATE})
# While staff have been called, the citizen waits for them: no warning for this long.
HELP_WAIT_S = 300.0
# Going back restarts the flow, which is safe only over stages that typed something in.
_REDOABLE_STAGES = frozenset({"stage.account", "stage.choose"})
_NO_WAY_BACK = frozenset({ScreenId.PAY, ScreenId.PROCESSING, ScreenId.RESULT})
# The view's fields that move the clock's next deadline (a touch or progress does too).
_TIMING_FIELDS = frozenset({"screen", "elder", "help_shown", "call_phase"})
# A deadline is checked this long after it, so `tick` finds it passed.
_PAST_S = 0.001
# Time already up (the session acted on it and the screen has not moved on yet): looked at
# again after this long, not in a loop.
_OVERDUE_RETRY_S = 0.5


@dataclass(frozen=True)
class Allowance:
    """How long a screen may go without activity, and how much warning comes before the end."""

    total_s: float
    warning_s: float

    @property
    def prompt_after_s(self) -> float:
        return max(self.total_s - self.warning_s, 0.0)


class CitizenClock:
    """Watches the view for activity and progress; `tick()` says what time has run out, and
    `next_check_s()` when to call it next."""

    def __init__(self, config: Callable[[], KioskConfig], view: SessionView,
                 flow_running: Callable[[], bool]) -> None:
        self._config = config
        self.view = view
        self.item: ServiceItem | None = None
        self.flow_running = flow_running   # a citizen's item runs (the session's flow task)
        self.last_activity = time.monotonic()
        self.screen_since = time.monotonic()
        # Looking at the time: one loop timer, set for when something is next due (`start`).
        self._timer: asyncio.TimerHandle | None = None
        self._on_verdict: Callable[[str], None] | None = None
        self._also_due: Callable[[], float | None] = lambda: None
        view.subscribe(self._on_view_changed)

    def start(self, on_verdict: Callable[[str], None],
              also_due: Callable[[], float | None] = lambda: None) -> None:
        """Looks at the time whenever something is due, and again when a touch, progress or
        the screen moves it (no polling): `on_verdict` hears each `tick()`'s verdict;
        `also_due` adds the session's own next deadline (a village agent's), in seconds."""
        self._on_verdict, self._also_due = on_verdict, also_due
        self._look_soon()

    def stop(self) -> None:
        self._on_verdict = None
        self._set_timer(None)

    def _look_soon(self) -> None:
        if self._on_verdict is not None:
            self._set_timer(0.0)

    def _set_timer(self, delay_s: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None if delay_s is None else \
            asyncio.get_running_loop().call_later(delay_s, self._look)

    def _look(self) -> None:
        self._timer = None
        verdict = self.tick()
        # Set before the verdict is acted on: what that changes on screen sets it again.
        due = [d for d in (self.next_check_s(), self._also_due()) if d is not None]
        self._set_timer(min(due) if due else None)
        if self._on_verdict is not None:
            self._on_verdict(verdict)

    def touch(self) -> None:
        """A touch, or progress: the citizen is here."""
        self.last_activity = time.monotonic()
        if self.view.idle_prompt:
            self.view.update(idle_prompt=False)
        self._look_soon()

    def _on_view_changed(self, changed: set[str]) -> None:
        view = self.view
        # A call to the hall starting or ending is the citizen's doing: its time counts from here.
        if changed & PROGRESS_FIELDS or "call_phase" in changed:
            self.touch()
        placed = DOCUMENT_PLACED.get(view.status_key) if "status_key" in changed else None
        if placed and placed not in view.documents:
            view.update(documents=(*view.documents, placed))
        if "screen" in changed:
            self.screen_since = time.monotonic()
            view.update(stage_index=stage_index(view.stages, view.screen, view.stage_index),
                        exit_prompt=False, countdown_s=0)
            view.update(can_go_back=self._can_go_back())
        if changed & _TIMING_FIELDS:
            self._look_soon()

    def _can_go_back(self) -> bool:
        view = self.view
        if view.screen in (ScreenId.MENU, ScreenId.SEARCH, ScreenId.GUIDE):
            return not self.flow_running()
        if not self.flow_running() or view.screen in _NO_WAY_BACK or view.stage_index < 0:
            return False
        if view.screen.value != _stage_screen(view.stages, view.stage_index):
            return False                      # a step the citizen does not see is running
        return all(s in _REDOABLE_STAGES for s in view.stages[:view.stage_index])

    def back_restarts(self) -> bool:
        """Going back from here starts the flow again (else it leaves for the menu)."""
        return self.view.stage_index > 0

    def allowance(self, screen: ScreenId) -> Allowance:
        """The catalog's time for this step (or the kiosk's default), elder multiplier applied."""
        config = self._config()
        ui, flow = config.ui, config.flow
        base = None
        if self.item is not None:
            for spec in self.item.steps:
                stage = STAGES.get(spec.step)
                if stage is not None and stage[1] is screen and spec.timeout_s:
                    base = float(spec.timeout_s)
                    break
        if base is None:
            if screen in (ScreenId.READ_IDCARD, ScreenId.PLACE_PERMIT):
                base = flow.place_card_timeout_s
            elif screen is ScreenId.FACE:
                base = flow.face_timeout_s + ui.consent_notice_s
            else:
                base = ui.idle_prompt_s + ui.idle_timeout_s
        elder = self.view.elder
        warning = ui.citizen_seconds(ui.idle_timeout_s, elder)
        return Allowance(max(ui.citizen_seconds(base, elder), warning), warning)

    def tick(self) -> str:
        """Updates prompts and countdowns; returns "timeout" or "result_over" when time is up."""
        config = self._config()
        view = self.view
        if view.call_phase.with_the_hall:
            self.touch()                      # talking to the hall is not idling
        now = time.monotonic()
        idle = now - self.last_activity
        screen, elder = view.screen, view.elder
        if screen in _AFTER_SERVICE and not self.flow_running():
            limit = config.ui.citizen_seconds(config.ui.result_timeout_s, elder)
            view.update(countdown_s=max(0, math.ceil(limit - idle)))
            return "result_over" if idle > limit else ""
        if screen is ScreenId.PAY:
            limit = config.ui.citizen_seconds(config.flow.payment_timeout_s, elder)
            view.update(countdown_s=max(0, math.ceil(limit - (now - self.screen_since))))
            return ""
        if screen not in IDLE_WATCHED:
            return ""
        if view.help_shown and idle < HELP_WAIT_S:
            return ""
        allowance = self.allowance(screen)
        if idle > allowance.total_s:
            return "timeout"
        if idle > allowance.prompt_after_s:
            view.update(idle_prompt=True,
                        idle_seconds_left=max(1, math.ceil(allowance.total_s - idle)))
        return ""


    def next_check_s(self) -> float | None:
        """Seconds until `tick` has something to do here (a countdown's next second, the
        warning, the end of the allowance); None while nothing can run out."""
        config = self._config()
        view = self.view
        if view.call_phase.with_the_hall:
            return None                       # its end is a change of the view
        now = time.monotonic()
        idle = now - self.last_activity
        screen, elder = view.screen, view.elder
        if screen in _AFTER_SERVICE and not self.flow_running():
            return _next_second(config.ui.citizen_seconds(config.ui.result_timeout_s, elder)
                                - idle)
        if screen is ScreenId.PAY:
            limit = config.ui.citizen_seconds(config.flow.payment_timeout_s, elder)
            left = limit - (now - self.screen_since)
            return _next_second(left) if left > 0 else None
        if screen not in IDLE_WATCHED:
            return None
        if view.help_shown and idle < HELP_WAIT_S:
            return HELP_WAIT_S - idle + _PAST_S
        allowance = self.allowance(screen)
        if idle <= allowance.prompt_after_s:
            return allowance.prompt_after_s - idle + _PAST_S
        return _next_second(allowance.total_s - idle)   # the warning counts down to the end


def _next_second(left: float) -> float:
    """Until a countdown showing ceil(left) seconds shows one less (at zero: just past it)."""
    if left <= 0:
        return _OVERDUE_RETRY_S
    return left - math.ceil(left) + 1 + _PAST_S


def _stage_screen(stages: tuple[str, ...], index: int) -> str:
    label = stages[index] if 0 <= index < len(stages) else ""
    for key, screen in STAGES.values():
        if key == label:
            return screen.value
    return ""
