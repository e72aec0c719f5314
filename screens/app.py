"""The Kivy application: a screen manager that follows the session view, and the overlays."""

from __future__ import annotations

import logging
import time
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import Metrics
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import FadeTransition, NoTransition, ScreenManager

from kiosk.viewmodel import CallPhase, Intents, ScreenId, SessionView
from screens import theme
from screens.call_overlay import CALL_FIELDS, RENDERED_FIELDS, CallOverlay
from screens.kiosk_screens import SCREENS
from screens.overlays import BUSY_AFTER_S, BusyOverlay, ExitPrompt, HelpPanel, IdlePrompt

log = logging.getLogger(__name__)

# A window size that lasts this long is the one the screens are built for.
WINDOW_SETTLE_S = 0.3

# Screens that are themselves a busy indicator: no overlay over them.
_SHOWS_OWN_BUSY = {ScreenId.PROCESSING, ScreenId.RESULT, ScreenId.ATTRACT}
# Browsing the catalog (the menu and an item's guide, back and forth many times a visit) cuts
# straight to the next screen: a fade paints both screens into buffers for every frame of it,
# which on a kiosk's software GL made a tap take a second to show the guide (bench.menu).
_CUT_BETWEEN = frozenset({ScreenId.MENU, ScreenId.GUIDE})
FADE_S = 0.15
# The overlays from the bottom up: the video call stays over the busy indicator (hang-up is
# always at hand), the dialogs the citizen opens come over the call.
_STACK = ("busy", "call", "idle", "exit", "help")


def window_fit() -> tuple[float, bool]:
    """The density and orientation the window's real size calls for."""
    width, height = Window.size
    return theme.panel_density(width, height), width > height


def fit_to_window() -> tuple[float, bool]:
    """Scales every size to the window the kiosk got, not the one it asked for: full screen
    under the compositor the window is the panel's (its output's) size, whatever kiosk.toml
    says. Must run before screens are built (sizes are taken in dp/sp when built)."""
    fit = window_fit()
    Metrics.density = fit[0]
    log.info("window %dx%d: density %s, %s", *Window.size, fit[0],
             "landscape" if fit[1] else "portrait")
    return fit


class KioskApp(App):
    """Renders `view` and forwards touches to `intents`; owns no state of its own."""

    title = "Kiosk"

    def __init__(self, view: SessionView, intents: Intents, voice: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.view, self.intents, self.voice = view, intents, voice
        self.manager: ScreenManager | None = None
        self.ready = False
        # (from screen, to screen, milliseconds from the view's change to the first frame drawn,
        # when it began and ended: time.perf_counter, the end after the fade, if any, is over)
        self.transitions: list[tuple[str, str, float, float, float]] = []
        self._busy_event: Any = None
        self._elder_built: bool | None = None
        self._sets: dict[bool, tuple[ScreenManager, dict[str, Any]]] = {}
        self._fit: tuple[float, bool] = (1.0, False)
        self._cut, self._fade = NoTransition(), FadeTransition(duration=FADE_S)

    def build(self):
        self._fit = fit_to_window()
        self.root_layout = FloatLayout()
        self._build_screens()
        self.view.subscribe(self._on_view_changed)
        Window.bind(on_touch_down=self._on_any_touch)
        # Once the sizes have settled: mapping a full-screen window under cage passes through
        # the size it asked for (kiosk.toml's) before the output's.
        Window.bind(size=Clock.create_trigger(self._on_window_size, WINDOW_SETTLE_S))
        self._on_view_changed(set(self.view.__dataclass_fields__))
        return self.root_layout

    def _on_window_size(self, *_: object) -> None:
        """The compositor gave the window another size after it opened (cage sizes it to
        the output once mapped): a new density or orientation means the screens again."""
        if window_fit() == self._fit:
            return
        self._fit = fit_to_window()
        self._sets.clear()
        self._build_screens()
        self.manager.current = self.view.screen.value
        self._on_view_changed(set(self.view.__dataclass_fields__))

    def _build_screens(self) -> None:
        """All screens and overlays in the current mode. Each mode's set is built once and
        kept, so switching elder mode on and off (every elder visit) costs no rebuild."""
        landscape = Window.width > Window.height
        elder = self.view.elder
        theme.use(elder, landscape)
        self._elder_built = elder
        self.root_layout.clear_widgets()
        if elder not in self._sets:
            # Screens are built when first shown (`_screen`): at start-up only the attract
            # screen stands between the process and an interactive kiosk.
            manager = ScreenManager(transition=self._fade)
            overlays = {
                "busy": BusyOverlay(self.view),
                "idle": IdlePrompt(self.view, self.intents),
                "exit": ExitPrompt(self.view, self.intents),
                "help": HelpPanel(self.view, self.intents),
                "call": CallOverlay(self.view, self.intents),
            }
            self._sets[elder] = (manager, overlays)
        self.manager, self.overlays = self._sets[elder]
        self._screen(self.view.screen.value)
        self.root_layout.add_widget(self.manager)

    def _screen(self, name: str) -> Any:
        """The screen called `name` in the current mode, built the first time it is needed
        (a screen not built in the background yet: its first transition pays for it)."""
        assert self.manager is not None
        if not self.manager.has_screen(name):
            self.manager.add_widget(SCREENS[ScreenId(name)](self.view, self.intents, name=name))
        return self.manager.get_screen(name)

    def on_start(self):
        self.ready = True
        # The other screens are built after the first frame, one per frame while the attract
        # screen shows, so they stand ready before a citizen needs them.
        Clock.schedule_once(self._build_next_screen, 0)

    def _build_next_screen(self, _dt: float) -> None:
        assert self.manager is not None
        for screen_id in SCREENS:
            if not self.manager.has_screen(screen_id.value):
                self._screen(screen_id.value)
                Clock.schedule_once(self._build_next_screen, 0)
                return

    def _on_any_touch(self, *_):
        # After the touch is dispatched: activity closes "still there?", and closing it before
        # would pass this very touch to whatever lies under its button.
        Clock.schedule_once(lambda _dt: self.intents.activity(), 0)
        return False

    def _on_view_changed(self, changed: set[str]) -> None:
        assert self.manager is not None
        if changed <= CALL_FIELDS - {"call_available"} and self.view.elder == self._elder_built:
            self._follow_call(changed)
            return  # the call's own fields (the agent's video many times a second)
        started = time.perf_counter()
        if self.view.elder != self._elder_built:
            self._build_screens()
            self.manager.current = self.view.screen.value
            changed = set(self.view.__dataclass_fields__)
            mode = "elder" if self.view.elder else "standard"
            Clock.schedule_once(lambda _dt: self._transition_done(
                self.view.screen.value, f"{mode} mode", started, 0.0), 0)
        current = self.view.screen.value
        screen = self._screen(current)
        if self.manager.current != current:
            previous = self.manager.current
            self.manager.transition.stop()   # a fade still running ends before a cut starts
            self.manager.transition = self._transition(previous, current)
            self.manager.current = current
            changed = set(self.view.__dataclass_fields__)  # a screen coming in renders whole
            # Measured to the frame after the one that draws the new screen.
            fade_s = float(self.manager.transition.duration)
            Clock.schedule_once(lambda _dt: Clock.schedule_once(
                lambda _dt2: self._transition_done(previous, current, started, fade_s), 0), 0)
        screen.render(changed)
        self._show("idle", self.view.idle_prompt)
        self._show("exit", self.view.exit_prompt)
        self._show("help", self.view.help_shown)
        self._follow_busy()
        self._follow_call(changed)

    def _transition_done(self, previous: str, current: str, started: float,
                         fade_s: float) -> None:
        now = time.perf_counter()
        self.transitions.append((previous, current, round((now - started) * 1000, 1),
                                 round(started, 4), round(max(now, started + fade_s), 4)))

    def _transition(self, previous: str, current: str) -> Any:
        """A cut within the catalog (_CUT_BETWEEN), a short fade to and from anything else."""
        if {ScreenId(previous), ScreenId(current)} <= _CUT_BETWEEN:
            return self._cut
        return self._fade

    def _follow_call(self, changed: set[str]) -> None:
        """The video call's overlay, over whatever screen is shown (screens.call_overlay)."""
        shown = self.view.call_phase is not CallPhase.IDLE
        call = self.overlays["call"]
        if shown and call.parent is None:
            self.root_layout.add_widget(call)
            changed = RENDERED_FIELDS
        elif not shown and call.parent is not None:
            self.root_layout.remove_widget(call)
        if shown and changed & RENDERED_FIELDS:
            call.render(changed)
        self._restack()

    def _restack(self) -> None:
        """The overlays shown, in _STACK's order (each one added on top when it first shows)."""
        shown = [self.overlays[name] for name in _STACK if self.overlays[name].parent is not None]
        if [w for w in reversed(self.root_layout.children) if w in shown] != shown:
            for widget in shown:
                self.root_layout.remove_widget(widget)
            for widget in shown:
                self.root_layout.add_widget(widget)

    def _show(self, name: str, wanted: bool) -> None:
        overlay = self.overlays[name]
        if wanted:
            if overlay.parent is None:
                self.root_layout.add_widget(overlay)
                if isinstance(overlay, BusyOverlay):
                    overlay.shown()
            overlay.render()
        elif overlay.parent is not None:
            self.root_layout.remove_widget(overlay)
            if isinstance(overlay, BusyOverlay):
                overlay.hidden()

    def _follow_busy(self) -> None:
        """A wait shows what the kiosk is doing once it lasts longer than BUSY_AFTER_S."""
        waiting = bool(self.view.busy_key) and self.view.screen not in _SHOWS_OWN_BUSY
        if not waiting:
            if self._busy_event is not None:
                self._busy_event.cancel()
                self._busy_event = None
            self._show("busy", False)
            return
        if self.overlays["busy"].parent is not None:
            self.overlays["busy"].render()
        elif self._busy_event is None:
            self._busy_event = Clock.schedule_once(self._busy_due, BUSY_AFTER_S)

    def _busy_due(self, _dt) -> None:
        self._busy_event = None
        if self.view.busy_key and self.view.screen not in _SHOWS_OWN_BUSY:
            self._show("busy", True)
