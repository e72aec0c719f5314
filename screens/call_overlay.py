"""The video call over any screen: the citizen's consent, ringing, the agent's picture with the
recording mark, the agent's proposals and guides, hang-up, and why a call ended.

It renders kiosk.viewmodel's call_* fields and sends the call intents; the citizen's help button
(on every screen) sends `call_staff`, which opens the consent panel here.
"""

from __future__ import annotations

from kivy.graphics import Color, Line, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

from kiosk.viewmodel import CallPhase, Intents, SessionView
from screens.screen_share import mark_personal
from screens.widgets import BLUE, GREEN, GREY, RED, BigButton, TextLabel

# The fields this overlay renders; the app re-renders it when one of them changes.
CALL_FIELDS = frozenset({"call_phase", "call_agent", "call_recording", "call_video",
                         "call_note_key", "call_end_key", "call_proposal", "call_guide",
                         "language"})


class CallOverlay(BoxLayout):
    """A panel over the current screen: large while asking and ringing, a column at the top
    right during the call, so the citizen can go on using the screen with the agent."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(orientation="vertical", padding=30, spacing=20, **kwargs)
        self.view, self.intents = view, intents
        with self.canvas.before:
            Color(1, 1, 1, 0.97)
            self._bg = RoundedRectangle(radius=[30])
            Color(*BLUE)
            self._border = Line(width=4)
        self.bind(pos=self._sync, size=self._sync)
        self.title = TextLabel(font_size=56, bold=True, color=BLUE, size_hint_y=None, height=90)
        self.mark = TextLabel(font_size=40, bold=True, color=RED, size_hint_y=None, height=0)
        self.mark.automation_id = "call.recording_mark"
        # The agent's face: nothing of the citizen, but no use sending it back to the agent.
        self.video = mark_personal(Image(fit_mode="contain", size_hint_y=None, height=0))
        self.body = TextLabel(font_size=40)
        self.note = TextLabel(font_size=36, color=GREY, size_hint_y=None, height=60)
        self.start_item = BigButton("call.start_item", color=GREEN, height=0, opacity=0)
        self.start_item.bind(on_release=lambda *_: intents.start_proposed_item())
        self.accept = BigButton("call.accept", color=GREEN)
        self.accept.bind(on_release=lambda *_: intents.accept_call_consent())
        self.hang_up = BigButton("call.hangup", color=RED)
        self.hang_up.bind(on_release=lambda *_: intents.hang_up())
        for widget in (self.title, self.mark, self.video, self.body, self.note, self.start_item,
                       self.accept, self.hang_up):
            self.add_widget(widget)
        self._texture_size: tuple[int, int] | None = None

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._border.rounded_rectangle = (self.x, self.y, self.width, self.height, 30)

    def _place(self, compact: bool) -> None:
        if compact:
            self.size_hint, self.pos_hint = (0.46, 0.5), {"right": 0.99, "top": 0.91}
        else:
            self.size_hint, self.pos_hint = (0.86, 0.5), {"center_x": 0.5, "center_y": 0.5}

    def render(self, changed: set[str]) -> None:
        v = self.view
        phase = v.call_phase
        in_call = phase in (CallPhase.CONNECTING, CallPhase.IN_CALL)
        self._place(compact=in_call)
        self.accept.text = v.t("call.consent.accept")
        self.hang_up.text = v.t("call.consent.decline" if phase is CallPhase.CONSENT
                                else "call.hang_up")
        self._show(self.accept, phase is CallPhase.CONSENT)
        self._show(self.hang_up, phase is not CallPhase.ENDED)
        self.mark.text = v.t("call.recording") if v.call_recording and in_call else ""
        self.mark.height = 60 if self.mark.text else 0
        self.video.height = 360 if in_call else 0
        if "call_video" in changed and v.call_video is not None:
            self._show_frame(v.call_video)
        self.note.text = v.t(v.call_note_key) if v.call_note_key else ""
        proposal = v.pick(v.call_proposal) if v.call_proposal else ""
        self._show(self.start_item, bool(proposal) and in_call)
        self.start_item.text = v.t("call.start_item")
        if phase is CallPhase.CONSENT:
            self.title.text = v.t("call.consent.title")
            recorded = v.t("call.consent.recorded") if v.call_recording else ""
            self.body.text = f"{v.t('call.consent.body')}\n{recorded}".strip()
        elif phase is CallPhase.RINGING:
            self.title.text = v.t("call.consent.title")
            self.body.text = v.t("call.ringing")
        elif in_call:
            key = "call.in_call" if phase is CallPhase.IN_CALL else "call.connecting"
            self.title.text = v.t(key, agent=v.call_agent)
            lines = [v.t("call.proposal", item=proposal)] if proposal else []
            self.body.text = "\n".join([*lines, *v.call_guide[:6]])
        else:
            self.title.text = v.t("call.consent.title")
            self.body.text = v.t(v.call_end_key) if v.call_end_key else ""

    @staticmethod
    def _show(button: BigButton, on: bool) -> None:
        button.opacity = 1 if on else 0
        button.disabled = not on
        button.height = 150 if on else 0

    def _show_frame(self, frame) -> None:
        h, w = frame.shape[:2]
        if self._texture_size != (w, h):
            self.video.texture = Texture.create(size=(w, h), colorfmt="rgb")
            self.video.texture.flip_vertical()
            self._texture_size = (w, h)
        self.video.texture.blit_buffer(frame.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self.video.canvas.ask_update()
