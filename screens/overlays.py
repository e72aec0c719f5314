"""What comes over a screen: "still there?", "really exit?", "staff called" (with the video
call where the site offers it), and the busy indicator. Each covers the screen with a scrim, so
a tap behind it is never taken silently."""

from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from kiosk.viewmodel import CallPhase, Intents, ScreenId, SessionView
from screens.guides import BusySpinner
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, Panel, TextLabel

# The busy indicator appears only when a wait lasts longer than this.
BUSY_AFTER_S = 0.3


class Overlay(FloatLayout):
    """A scrim over the whole window that takes every touch, with a panel in the middle."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        with self.canvas.before:
            Color(*theme.colour("scrim", 0.7))
            self._scrim = Rectangle()
        self.bind(pos=self._sync, size=self._sync)
        pad = theme.space(Space.PAD)
        self.panel = Panel(orientation="vertical", padding=pad, spacing=theme.space(Space.GAP),
                           size_hint=(0.86, None), pos_hint={"center_x": 0.5, "center_y": 0.5})
        self.add_widget(self.panel)

    def _sync(self, *_):
        self._scrim.pos, self._scrim.size = self.pos, self.size

    def on_touch_down(self, touch):
        super().on_touch_down(touch)
        return True                        # nothing behind the scrim is touched

    def on_touch_up(self, touch):
        super().on_touch_up(touch)
        return True

    def fit_panel(self, *rows: float) -> None:
        theme = current()
        self.panel.height = sum(rows) + theme.space(Space.PAD) * 2 + \
            theme.space(Space.GAP) * (len(rows) - 1)


class Dialog(Overlay):
    """Title, body and one or two buttons."""

    def __init__(self, name: str, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        self.title = TextLabel("primary_on_surface", TypeSize.TITLE, bold=True,
                               size_hint_y=None, height=theme.font(TypeSize.TITLE) * 2.6)
        self.body = TextLabel("on_surface", TypeSize.BODY, size_hint_y=None,
                              height=theme.font(TypeSize.BODY) * 5.2)
        self.buttons = BoxLayout(spacing=theme.space(Space.GAP), size_hint_y=None,
                                 height=theme.space(Space.BUTTON))
        for widget in (self.title, self.body, self.buttons):
            self.panel.add_widget(widget)
        self.fit_panel(self.title.height, self.body.height, self.buttons.height)
        self.name = name


class IdlePrompt(Dialog):
    """ "Are you still there?": the seconds left, and a big button to go on."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__("idle", **kwargs)
        self.view = view
        self.button = BigButton("idle.continue", "success", size_hint_y=1)
        self.button.bind(on_release=lambda *_: intents.dismiss_idle_prompt())
        self.buttons.add_widget(self.button)

    def render(self) -> None:
        self.title.text = self.view.t("idle.title")
        self.body.text = self.view.t("idle.body", seconds=self.view.idle_seconds_left)
        self.button.text = self.view.t("idle.continue")


class ExitPrompt(Dialog):
    """Exit asks first; on the pay and processing screens it says what leaving means."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__("exit", **kwargs)
        self.view = view
        self.stay = BigButton("exit.stay", "success", size_hint_y=1)
        self.stay.bind(on_release=lambda *_: intents.dismiss_exit())
        self.leave = BigButton("exit.leave", "danger", size_hint_y=1)
        self.leave.bind(on_release=lambda *_: intents.cancel())
        self.buttons.add_widget(self.stay)
        self.buttons.add_widget(self.leave)

    def render(self) -> None:
        v = self.view
        paying = v.screen in (ScreenId.PAY, ScreenId.PROCESSING)
        self.title.text = v.t("exit.title")
        self.body.text = v.t("exit.body_paying" if paying else "exit.body")
        self.stay.text = v.t("exit.stay")
        self.leave.text = v.t("exit.leave")


class HelpPanel(Dialog):
    """Staff have been called: the hotline, a video call to the hall where the site allows one
    (kiosk.videocall; screens.call_overlay asks for consent first), and a way back."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__("help", **kwargs)
        self.view = view
        self.video = BigButton("help.video", "success", size_hint_y=1)
        self.video.bind(on_release=lambda *_: intents.start_video_call())
        self.close = BigButton("help.close", "primary", size_hint_y=1)
        self.close.bind(on_release=lambda *_: intents.close_help())
        self.buttons.add_widget(self.close)

    def render(self) -> None:
        v = self.view
        # Not while a call is already asking, ringing or on.
        video = v.call_available and v.call_phase in (CallPhase.IDLE, CallPhase.ENDED)
        self.title.text = v.t("help.title")
        self.body.text = v.t("help.body", hotline=v.hotline) + \
            (f"\n{v.t('help.video_hint')}" if video else "")
        self.video.text = v.t("help.video")
        self.close.text = v.t("help.close")
        if video and self.video.parent is None:
            self.buttons.add_widget(self.video, index=len(self.buttons.children))
        elif not video and self.video.parent is not None:
            self.buttons.remove_widget(self.video)


class BusyOverlay(Overlay):
    """What the kiosk is doing while the citizen waits; a tap meanwhile is answered."""

    def __init__(self, view: SessionView, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        self.view = view
        self.spinner = BusySpinner(size_hint_y=None, height=theme.font(TypeSize.DISPLAY) * 1.6)
        self.text = TextLabel("on_surface", TypeSize.HEADING, bold=True, size_hint_y=None,
                              height=theme.font(TypeSize.HEADING) * 2.8)
        self.text.automation_id = "busy.text"
        self.nudge = TextLabel("muted_on_surface", TypeSize.BODY, size_hint_y=None,
                               height=theme.font(TypeSize.BODY) * 2.8)
        for widget in (self.spinner, self.text, self.nudge):
            self.panel.add_widget(widget)
        self.fit_panel(self.spinner.height, self.text.height, self.nudge.height)
        self.taps = 0

    def on_touch_down(self, touch):
        # Not lost silently: the citizen is told the kiosk is working and needs no second tap.
        self.taps += 1
        self.nudge.text = self.view.t("busy.wait")
        return super().on_touch_down(touch)

    def render(self) -> None:
        self.text.text = self.view.t(self.view.busy_key) if self.view.busy_key else ""

    def shown(self) -> None:
        self.nudge.text = ""
        self.spinner.start()

    def hidden(self) -> None:
        self.spinner.stop()

