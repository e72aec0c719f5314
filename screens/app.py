"""The Kivy application: a screen manager that follows the session view."""

from __future__ import annotations

from kivy.app import App
from kivy.core.window import Window
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import FadeTransition, ScreenManager

from kiosk.viewmodel import CallPhase, Intents, SessionView
from screens.call_overlay import CALL_FIELDS, CallOverlay
from screens.kiosk_screens import SCREENS, IdlePrompt


class KioskApp(App):
    """Renders `view` and forwards touches to `intents`; owns no state of its own."""

    title = "Kiosk"

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(**kwargs)
        self.view, self.intents = view, intents
        self.manager: ScreenManager | None = None
        self.ready = False

    def build(self):
        root = FloatLayout()
        self.manager = ScreenManager(transition=FadeTransition(duration=0.15))
        for screen_id, cls in SCREENS.items():
            self.manager.add_widget(cls(self.view, self.intents, name=screen_id.value))
        root.add_widget(self.manager)
        self.idle_prompt = IdlePrompt(self.view, self.intents)
        self.call_overlay = CallOverlay(self.view, self.intents)
        self.root_layout = root
        self.view.subscribe(self._on_view_changed)
        Window.bind(on_touch_down=self._on_any_touch)
        self._on_view_changed(set(self.view.__dataclass_fields__))
        return root

    def on_start(self):
        self.ready = True

    def _on_any_touch(self, *_):
        self.intents.activity()
        return False

    def _on_view_changed(self, changed: set[str]) -> None:
        assert self.manager is not None
        self._render_call(changed)
        if changed <= CALL_FIELDS - {"language"}:
            return  # the call's own fields (the agent's video many times a second)
        current = self.view.screen.value
        if self.manager.current != current:
            self.manager.current = current
            changed = set(self.view.__dataclass_fields__)  # a screen coming in renders whole
        self.manager.get_screen(current).render(changed)
        if self.view.idle_prompt:
            if self.idle_prompt.parent is None:
                self.root_layout.add_widget(self.idle_prompt)
            self.idle_prompt.render()
        elif self.idle_prompt.parent is not None:
            self.root_layout.remove_widget(self.idle_prompt)

    def _render_call(self, changed: set[str]) -> None:
        """The video call's overlay, over whatever screen (and idle prompt) is shown."""
        shown = self.view.call_phase is not CallPhase.IDLE
        if shown:
            if self.call_overlay.parent is None:
                self.root_layout.add_widget(self.call_overlay)
            elif self.root_layout.children[0] is not self.call_overlay:
                self.root_layout.remove_widget(self.call_overlay)   # back on top
                self.root_layout.add_widget(self.call_overlay)
            if changed & CALL_FIELDS:
                self.call_overlay.render(changed)
        elif self.call_overlay.parent is not None:
            self.root_layout.remove_widget(self.call_overlay)
