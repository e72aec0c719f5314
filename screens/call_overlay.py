"""The video call over any screen: the citizen's consent, ringing, the agent's picture with the
recording mark, the agent's proposals and guides, hang-up, and why a call ended.

It renders kiosk.viewmodel's call_* fields and sends the call intents; the citizen's help button
(on every screen) sends `call_staff`, which opens the consent panel here. While asking and ringing
a panel fills the middle; during the call a strip lies over the header's title (the exit button
stays free) so the citizen goes on using the screen's keypads and buttons with the agent; what the
agent sends (a proposal, a guide) opens a panel in the middle until the citizen answers it.
"""

from __future__ import annotations

from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import Image

from kiosk.viewmodel import CallPhase, Intents, SessionView
from screens.screen_share import mark_personal
from screens.widgets import BLUE, DARK, GREEN, GREY, RED, BigButton, TextLabel

# The fields this overlay renders; the app re-renders it when one of them changes.
CALL_FIELDS = frozenset({"call_phase", "call_agent", "call_recording", "call_video",
                         "call_note_key", "call_end_key", "call_proposal", "call_guide",
                         "language"})
STRIP_HEIGHT = 170       # the header's height (screens.widgets.Header)
EXIT_WIDTH = 260         # the header's exit button and its margin stay uncovered
GUIDE_LINES = 5          # of a guide the agent sends: the title and the first sections


class _Panel(BoxLayout):
    def __init__(self, radius: int = 30, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._bg = RoundedRectangle(radius=[radius])
            Color(*BLUE)
            self._border = Line(width=4)
        self._radius = radius
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._border.rounded_rectangle = (self.x, self.y, self.width, self.height, self._radius)


class _Strip(BoxLayout):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*DARK)
            self._bg = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size


class CallOverlay(FloatLayout):
    """Touches reach the screen below wherever none of the call's widgets is."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(**kwargs)
        self.view, self.intents = view, intents
        # Asking, ringing, ended: the middle of the screen.
        self.panel = _Panel(orientation="vertical", padding=30, spacing=20,
                            size_hint=(0.86, 0.5), pos_hint={"center_x": 0.5, "center_y": 0.5})
        self.title = TextLabel(font_size=56, bold=True, color=BLUE, size_hint_y=None, height=90)
        self.body = TextLabel(font_size=40)
        self.accept = BigButton("call.accept", color=GREEN, height=120)
        self.accept.bind(on_release=lambda *_: intents.accept_call_consent())
        self.cancel = BigButton("call.hangup", color=RED, height=120)
        self.cancel.bind(on_release=lambda *_: intents.hang_up())
        for widget in (self.title, self.body, self.accept, self.cancel):
            self.panel.add_widget(widget)
        # In the call: over the header's title.
        self.strip = _Strip(orientation="horizontal", padding=10, spacing=16, size_hint=(None, None))
        # The agent's face: nothing of the citizen, but no use sending it back to the agent.
        self.video = mark_personal(Image(fit_mode="contain", size_hint_x=None, width=200))
        column = BoxLayout(orientation="vertical")
        self.agent = TextLabel(font_size=36, bold=True, color=(1, 1, 1, 1), halign="left")
        self.mark = TextLabel(font_size=32, bold=True, color=(1, 0.45, 0.45, 1), halign="left")
        self.mark.automation_id = "call.recording_mark"
        self.note = TextLabel(font_size=28, color=(0.85, 0.87, 0.9, 1), halign="left")
        for widget in (self.agent, self.mark, self.note):
            column.add_widget(widget)
        self.hang_up = BigButton("call.hangup", color=RED, size_hint=(None, 1), width=180,
                                 font_size=40)
        self.hang_up.bind(on_release=lambda *_: intents.hang_up())
        for widget in (self.video, column, self.hang_up):
            self.strip.add_widget(widget)
        # What the agent sent: a proposal to start an item, or an item's guide.
        self.message = _Panel(orientation="vertical", padding=30, spacing=16,
                              size_hint=(0.86, None), pos_hint={"center_x": 0.5, "center_y": 0.5})
        self.message_text = TextLabel(font_size=32, halign="left", size_hint_y=None)
        # As tall as its wrapped text; the panel as tall as what it holds.
        self.message_text.bind(texture_size=lambda label, size: setattr(label, "height", size[1]))
        self.message.bind(minimum_height=self.message.setter("height"))
        self.start_item = BigButton("call.start_item", color=GREEN, height=120)
        self.start_item.bind(on_release=lambda *_: intents.start_proposed_item())
        self.close_message = BigButton("call.close_message", color=GREY, height=120)
        self.close_message.bind(on_release=lambda *_: intents.dismiss_call_message())
        for widget in (self.message_text, self.start_item, self.close_message):
            self.message.add_widget(widget)
        self._texture_size: tuple[int, int] | None = None
        self.bind(size=self._place_strip)

    def _place_strip(self, *_):
        self.strip.size = (max(200, self.width - EXIT_WIDTH), STRIP_HEIGHT)
        self.strip.pos = (self.x, self.top - STRIP_HEIGHT)

    def _shown(self, widget, on: bool) -> None:
        if on and widget.parent is None:
            self.add_widget(widget)
        elif not on and widget.parent is not None:
            self.remove_widget(widget)

    def render(self, changed: set[str]) -> None:
        v = self.view
        phase = v.call_phase
        in_call = phase in (CallPhase.CONNECTING, CallPhase.IN_CALL)
        proposal = v.pick(v.call_proposal) if v.call_proposal else ""
        self._shown(self.panel, not in_call)
        self._shown(self.strip, in_call)
        self._shown(self.message, in_call and bool(proposal or v.call_guide))
        if in_call:
            self._render_call(proposal)
        else:
            self._render_panel()

    def _render_panel(self) -> None:
        v = self.view
        phase = v.call_phase
        self.title.text = v.t("call.consent.title")
        if phase is CallPhase.CONSENT:
            recorded = v.t("call.consent.recorded") if v.call_recording else ""
            self.body.text = f"{v.t('call.consent.body')}\n{recorded}".strip()
        elif phase is CallPhase.RINGING:
            self.body.text = v.t("call.ringing")
        else:
            self.body.text = v.t(v.call_end_key) if v.call_end_key else ""
        self.accept.text = v.t("call.consent.accept")
        self.cancel.text = v.t("call.consent.decline" if phase is CallPhase.CONSENT
                               else "call.hang_up")
        self._button(self.accept, phase is CallPhase.CONSENT)
        self._button(self.cancel, phase in (CallPhase.CONSENT, CallPhase.RINGING))

    def _render_call(self, proposal: str) -> None:
        v = self.view
        key = "call.in_call" if v.call_phase is CallPhase.IN_CALL else "call.connecting"
        self.agent.text = v.t(key, agent=v.call_agent)
        self.mark.text = v.t("call.recording") if v.call_recording else ""
        self.note.text = v.t(v.call_note_key) if v.call_note_key else ""
        self.hang_up.text = v.t("call.hang_up")
        if v.call_video is not None:
            self._show_frame(v.call_video)
        lines = [v.t("call.proposal", item=proposal)] if proposal else []
        self.message_text.text = "\n".join([*lines, *v.call_guide[:GUIDE_LINES]])
        self.start_item.text = v.t("call.start_item")
        self.close_message.text = v.t("call.close_message")
        self._button(self.start_item, bool(proposal))
        self._button(self.close_message, True)

    @staticmethod
    def _button(button: BigButton, on: bool) -> None:
        button.opacity = 1 if on else 0
        button.disabled = not on
        button.height = 120 if on else 0

    def _show_frame(self, frame) -> None:
        h, w = frame.shape[:2]
        if self._texture_size != (w, h):
            self.video.texture = Texture.create(size=(w, h), colorfmt="rgb")
            self.video.texture.flip_vertical()
            self._texture_size = (w, h)
        self.video.texture.blit_buffer(frame.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self.video.canvas.ask_update()


__all__ = ["CALL_FIELDS", "CallOverlay"]
