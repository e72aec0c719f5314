"""The video call over any screen: the citizen's consent, ringing, the agent's picture with the
recording mark, the agent's proposals and guides, hang-up, and why a call ended.

It renders kiosk.viewmodel's call_* fields and sends the call intents; the help panel's "视频连线"
(screens.overlays.HelpPanel) sends `start_video_call`, which opens the consent here. Asking,
ringing and the ending are dialogs like the others (a scrim takes every touch). During the call a
strip takes the header's band (the service's name, sound, elder mode and language wait for the
call to end) so the citizen goes on using the body's keypads and buttons, and the footer's ways
out, with the agent; what the agent sends (a proposal, a guide) opens a panel under the strip
until the citizen answers it. Colours, type and sizes are the theme's tokens (screens.theme).
"""

from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import Image

from kiosk.viewmodel import CallPhase, Intents, SessionView
from screens.overlays import Dialog
from screens.screen_share import mark_personal
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, Panel, TextLabel

# The call's own fields of the view; the overlay renders them, and the language and hotline.
CALL_FIELDS = frozenset({"call_phase", "call_agent", "call_recording", "call_video",
                         "call_note_key", "call_end_key", "call_proposal", "call_guide",
                         "call_available"})
RENDERED_FIELDS = CALL_FIELDS | {"language", "hotline"}
GUIDE_LINES = 5          # of a guide the agent sends: the title and the first sections
# Ended calls whose reason leaves the citizen without help: the hotline is shown with it.
_HOTLINE_AFTER = {"call.end.no_answer", "call.end.link_lost", "call.end.not_allowed",
                  "call.end.refused", "call.end.failed"}


class CallDialog(Dialog):
    """Consent, ringing and the ending: title, body and the buttons the phase offers."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__("call", **kwargs)
        theme = current()
        self.view = view
        # The consent says what the camera, the microphone and the agent will and won't do.
        self.body.height = theme.font(TypeSize.BODY) * 7.6
        self.fit_panel(self.title.height, self.body.height, self.buttons.height)
        self.accept = BigButton("call.consent.accept", "success", size_hint_y=1)
        self.accept.bind(on_release=lambda *_: intents.accept_call_consent())
        self.decline = BigButton("call.consent.decline", "secondary", size_hint_y=1)
        self.decline.bind(on_release=lambda *_: intents.hang_up())
        self.cancel = BigButton("call.cancel", "danger", size_hint_y=1)
        self.cancel.bind(on_release=lambda *_: intents.hang_up())
        self.close = BigButton("call.ended.close", "primary", size_hint_y=1)
        self.close.bind(on_release=lambda *_: intents.dismiss_call_message())
        self._offered: tuple[BigButton, ...] = ()

    def render(self) -> None:
        v = self.view
        phase = v.call_phase
        self.title.text = v.t("call.title")
        if phase is CallPhase.CONSENT:
            recorded = f"\n{v.t('call.consent.recorded')}" if v.call_recording else ""
            self.body.text = v.t("call.consent.body") + recorded
            self._offer(self.accept, self.decline)
        elif phase is CallPhase.RINGING:
            self.body.text = v.t("call.ringing")
            self._offer(self.cancel)
        else:
            reason = v.t(v.call_end_key) if v.call_end_key else ""
            hotline = v.call_end_key in _HOTLINE_AFTER and v.hotline
            self.body.text = f"{reason}\n{v.t('call.hotline', hotline=v.hotline)}" \
                if hotline else reason
            self._offer(self.close)
        self.accept.text, self.decline.text = v.t("call.consent.accept"), v.t("call.consent.decline")
        self.cancel.text, self.close.text = v.t("call.cancel"), v.t("call.close")

    def _offer(self, *buttons: BigButton) -> None:
        if buttons != self._offered:
            self.buttons.clear_widgets()
            for button in buttons:
                self.buttons.add_widget(button)
            self._offered = buttons


class _Band(BoxLayout):
    """A band of one theme colour that takes the touches falling on it (none reach the screen
    under it unnoticed)."""

    def __init__(self, colour: str, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*current().colour(colour))
            self._bg = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) or self.collide_point(*touch.pos)


class CallStrip(_Band):
    """In the call: the agent's picture, name, the recording mark, a note, and hang-up."""

    def __init__(self, intents: Intents, **kwargs):
        theme = current()
        gap = theme.space(Space.GAP)
        super().__init__("secondary", orientation="horizontal", padding=gap / 2, spacing=gap,
                         size_hint=(1, None), height=theme.space(Space.BAR), **kwargs)
        # The agent's face: nothing of the citizen, but no use sending it back to the agent.
        self.video = mark_personal(Image(fit_mode="contain", size_hint_x=None))
        self.bind(height=lambda *_: setattr(self.video, "width", (self.height - gap) * 4 / 3))
        self.video.width = (self.height - gap) * 4 / 3
        column = BoxLayout(orientation="vertical")
        self.agent = TextLabel("call_strip", TypeSize.BODY, bold=True, halign="left")
        self.agent.automation_id = "call.in_call"
        marks = BoxLayout(orientation="horizontal", spacing=gap)
        self.mark = _Badge(TypeSize.SMALL, bold=True, size_hint_x=None)
        self.mark.automation_id = "call.recording"
        self.note = TextLabel("call_strip", TypeSize.SMALL, halign="left")
        # The strip is one header high: its words shrink on one line before they wrap (elder
        # mode's larger type wrapped them out of the band).
        self.agent.single_line_first = self.note.single_line_first = True
        marks.add_widget(self.mark)
        marks.add_widget(self.note)
        column.add_widget(self.agent)
        column.add_widget(marks)
        self.hang_up = BigButton("call.hang_up", "danger", size_hint=(None, 1),
                                 width=theme.font(TypeSize.BUTTON) * 4)
        self.hang_up.bind(on_release=lambda *_: intents.hang_up())
        for widget in (self.video, column, self.hang_up):
            self.add_widget(widget)


class _Badge(TextLabel):
    """The recording mark: white on the danger colour, as wide as its words."""

    def __init__(self, size: TypeSize, **kwargs):
        super().__init__("call_recording", size, **kwargs)
        with self.canvas.before:
            self._colour = Color(*current().colour("danger"))
            self._bg = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size

    def show(self, text: str) -> None:
        if text == self.text:
            return
        self.text = text
        self.opacity = 1 if text else 0
        self.font_size = self.nominal_font_size
        self.text_size = (None, None)
        self.texture_update()
        self.width = self.texture_size[0] * 1.12 + current().space(Space.GAP) if text else 0


class MessagePanel(Panel):
    """What the agent sent: an item to start, or an item's guide; stays until answered."""

    def __init__(self, intents: Intents, **kwargs):
        theme = current()
        super().__init__(orientation="vertical", padding=theme.space(Space.PAD),
                         spacing=theme.space(Space.GAP), size_hint=(0.9, None),
                         pos_hint={"center_x": 0.5}, **kwargs)
        self.text = TextLabel("on_surface", TypeSize.BODY, halign="left")
        self.buttons = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None,
                                 height=theme.space(Space.BUTTON))
        self.start = BigButton("call.proposal.start", "success", size_hint_y=1)
        self.start.bind(on_release=lambda *_: intents.start_proposed_item())
        self.close = BigButton("call.message.close", "secondary", size_hint_y=1)
        self.close.bind(on_release=lambda *_: intents.dismiss_call_message())
        self.add_widget(self.text)
        self.add_widget(self.buttons)

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) or self.collide_point(*touch.pos)

    def render(self, view: SessionView, proposal: str) -> None:
        lines = [view.t("call.proposal", item=proposal)] if proposal else []
        self.text.text = "\n".join([*lines, *view.call_guide[:GUIDE_LINES]])
        self.start.text, self.close.text = view.t("call.start_item"), view.t("call.close")
        wanted = (self.start, self.close) if proposal else (self.close,)
        if tuple(reversed(self.buttons.children)) != wanted:
            self.buttons.clear_widgets()
            for button in wanted:
                self.buttons.add_widget(button)


class CallOverlay(FloatLayout):
    """The call's dialog, or its strip and the agent's message; touches elsewhere reach the
    screen below during the call."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(**kwargs)
        self.view = view
        self.dialog = CallDialog(view, intents)
        self.strip = CallStrip(intents, pos_hint={"x": 0, "top": 1})
        self.message = MessagePanel(intents)
        self._texture_size: tuple[int, int] | None = None
        self.bind(size=self._place_message)

    def _place_message(self, *_) -> None:
        """Under the strip, above the footer, as tall as that room allows."""
        theme = current()
        gap, bar = theme.space(Space.GAP), theme.space(Space.BAR)
        room = self.height - 2 * bar - 2 * gap
        wanted = theme.font(TypeSize.BODY) * theme.mode.line_height * (GUIDE_LINES + 2.5) \
            + theme.space(Space.BUTTON) + 2 * theme.space(Space.PAD) + gap
        self.message.height = max(0.0, min(room, wanted))
        self.message.top = self.top - bar - gap

    def _shown(self, widget, on: bool) -> None:
        if on and widget.parent is None:
            self.add_widget(widget)
        elif not on and widget.parent is not None:
            self.remove_widget(widget)

    def render(self, changed: set[str]) -> None:
        v = self.view
        in_call = v.call_phase in (CallPhase.CONNECTING, CallPhase.IN_CALL)
        proposal = v.pick(v.call_proposal) if v.call_proposal else ""
        self._shown(self.dialog, not in_call)
        self._shown(self.strip, in_call)
        self._shown(self.message, in_call and bool(proposal or v.call_guide))
        if not in_call:
            self.dialog.render()
            return
        self._place_message()
        strip = self.strip
        key = "call.in_call" if v.call_phase is CallPhase.IN_CALL else "call.connecting"
        strip.agent.text = v.t(key, agent=v.call_agent)
        strip.mark.show(v.t("call.recording") if v.call_recording else "")
        strip.note.text = v.t(v.call_note_key) if v.call_note_key else ""
        strip.hang_up.text = v.t("call.hang_up")
        if v.call_video is not None and "call_video" in changed:
            self._show_frame(v.call_video)
        if self.message.parent is not None:
            self.message.render(v, proposal)

    def _show_frame(self, frame) -> None:
        video = self.strip.video
        h, w = frame.shape[:2]
        if self._texture_size != (w, h):
            video.texture = Texture.create(size=(w, h), colorfmt="rgb")
            video.texture.flip_vertical()
            self._texture_size = (w, h)
        video.texture.blit_buffer(frame.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        video.canvas.ask_update()


__all__ = ["CALL_FIELDS", "RENDERED_FIELDS", "CallOverlay"]
