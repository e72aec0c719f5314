"""The kiosk's own screens (attract, out of service, technician) and the registry of every
screen. Each renders the session view and sends intents; none touches a device."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.graphics import Color, Line
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.viewmodel import ScreenId
from screens.base import KioskScreen
from screens.data_page_screen import PlaceDataPageScreen
from screens.evaluate_screen import EvaluateScreen
from screens.flow_screens import (
    ChooseScreen,
    ConfirmScreen,
    EnterAccountScreen,
    FaceScreen,
    PayScreen,
    PlacePermitScreen,
    ProcessingScreen,
    ReadIdCardScreen,
    ResultScreen,
    ScanDocumentScreen,
)
from screens.menu_screens import GuideScreen, MenuScreen, SearchScreen
from screens.theme import Space, TypeSize, current
from screens.widgets import BigButton, TextLabel


class _Choices(BoxLayout):
    """Elder mode, language and call staff: the citizen's own settings, without a header."""

    def __init__(self, screen: KioskScreen, **kwargs):
        theme = current()
        super().__init__(spacing=theme.space(Space.GAP), size_hint_y=None,
                         height=theme.space(Space.BUTTON) * 0.8, **kwargs)
        name, intents, view = screen.name, screen.intents, screen.view
        self.elder = BigButton(f"{name}.elder", "secondary", TypeSize.SMALL, size_hint_y=1)
        self.elder.bind(on_release=lambda *_: intents.set_elder(not view.elder))
        self.language = BigButton(f"{name}.language", "secondary", TypeSize.SMALL,
                                  size_hint_y=1)
        self.language.bind(on_release=lambda *_: intents.set_language(
            "en" if view.language == "zh" else "zh"))
        self.help = BigButton(f"{name}.help", "secondary", TypeSize.SMALL, size_hint_y=1)
        self.help.bind(on_release=lambda *_: intents.call_staff())
        for widget in (self.elder, self.language, self.help):
            self.add_widget(widget)

    def render(self, view) -> None:
        self.elder.text = view.t("common.elder_off" if view.elder else "common.elder_on")
        self.language.text = view.t("common.language")
        self.help.text = view.t("common.help")


class AttractScreen(KioskScreen):
    has_header = False
    halo = NumericProperty(0.0)

    def build(self) -> None:
        self.headline = TextLabel("headline", TypeSize.DISPLAY, bold=True, size_hint_y=0.22)
        self.headline.automation_id = "attract.headline"
        self.title = TextLabel("body", TypeSize.TITLE, size_hint_y=0.12)
        self.hint = TextLabel("muted", TypeSize.BODY, size_hint_y=0.12)
        self.emblem = Widget(size_hint_y=0.2)
        theme = current()
        with self.emblem.canvas:
            Color(*theme.colour("primary"))
            self._emblem = Line(circle=(0, 0, 1), width=theme.space(Space.LINE) * 3)
        self.emblem.bind(pos=self._place_emblem, size=self._place_emblem)
        self.start = BigButton("attract.start", type_size=TypeSize.TITLE,
                               height=theme.space(Space.BUTTON) * 1.3)
        self.start.bind(on_release=lambda *_: self.intents.touch_start())
        # The start button calls attention with a ring around it, never by fading its text.
        with self.start.canvas.before:
            self._halo_colour = Color(*theme.colour("primary", 0.0))
            self._halo = Line(width=theme.space(Space.LINE) * 2)
        self.start.bind(pos=self._place_halo, size=self._place_halo)
        self.choices = _Choices(self)
        for widget in (self.headline, self.title, self.emblem, self.hint, self.start,
                       Widget(size_hint_y=0.04), self.choices):
            self.body.add_widget(widget)
        self.bind(halo=lambda *_: setattr(self._halo_colour, "a", self.halo))
        pulse = Animation(halo=1.0, duration=1.2) + Animation(halo=0.0, duration=1.2)
        pulse.repeat = True
        pulse.start(self)

    def _place_halo(self, *_):
        gap = current().space(Space.GAP) / 2
        b = self.start
        self._halo.rounded_rectangle = (b.x - gap, b.y - gap, b.width + 2 * gap,
                                        b.height + 2 * gap, gap * 2)

    def on_touch_down(self, touch):
        # The technician's way in: five quick taps on the headline (no visible button).
        if self.headline.collide_point(*touch.pos):
            self.intents.technician_tap()
        # The village agent's way in: a tap on the emblem (no button a citizen would try).
        if self.emblem.collide_point(*touch.pos):
            self.intents.agent_entry()
        return super().on_touch_down(touch)

    def _place_emblem(self, *_):
        r = min(self.emblem.width, self.emblem.height) * 0.4
        self._emblem.circle = (self.emblem.center_x, self.emblem.center_y, r)

    def render(self, changed: set[str]) -> None:
        v = self.view
        self.headline.text = v.t("attract.headline")
        self.title.text = v.t("app.title")
        self.hint.text = v.t("attract.hint")
        self.start.text = v.t("attract.touch")
        self.choices.render(v)


class TechnicianPinScreen(EnterAccountScreen):
    """The PIN keypad; the digits typed show as dots."""

    title_key = "tech.pin_title"

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.prompt.text = v.t("tech.pin_prompt")
        self.entry.text = "●" * len(v.entry) if v.entry else "_"
        self.hint.text = ""


class AgentSignInScreen(TechnicianPinScreen):
    """The village agent's sign-in: a QR code to the scanner, or their ID card then the PIN."""

    title_key = "agent.entry"

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.prompt.text = v.t(v.status_key) if v.status_key else ""


class TechnicianScreen(KioskScreen):
    """Devices, supplies and recent device events, for the technician on site."""

    title_key = "tech.title"

    def build(self) -> None:
        self.devices_title = TextLabel("headline", TypeSize.BODY, bold=True, size_hint_y=0.06)
        self.devices = TextLabel("body", TypeSize.SMALL, halign="left", size_hint_y=0.34)
        self.events_title = TextLabel("headline", TypeSize.BODY, bold=True, size_hint_y=0.06)
        self.events = TextLabel("body", TypeSize.SMALL, halign="left", size_hint_y=0.3)
        self.note = TextLabel("done", TypeSize.SMALL, size_hint_y=0.06)
        row = BoxLayout(spacing=current().space(Space.GAP), size_hint_y=0.12)
        self.self_test = BigButton("tech.self_test", "success", size_hint_y=1)
        self.self_test.bind(on_release=lambda *_: self.intents.technician_action("self_test"))
        self.back = BigButton("tech.back", "secondary", size_hint_y=1)
        self.back.bind(on_release=lambda *_: self.intents.technician_action("back"))
        row.add_widget(self.self_test)
        row.add_widget(self.back)
        for widget in (self.devices_title, self.devices, self.events_title, self.events,
                       self.note, row):
            self.body.add_widget(widget)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.devices_title.text = v.t("tech.devices")
        self.devices.text = "\n".join(
            f"{name:<16} {health:<9} {reason:<16} {supplies}" for name, health, reason, supplies
            in v.device_rows) + "\n\n" + v.t("tech.attention", count=v.attention_count)
        self.events_title.text = v.t("tech.events")
        self.events.text = "\n".join(v.device_events) or "-"
        self.note.text = v.technician_note
        self.self_test.text = v.t("tech.self_test")
        self.back.text = v.t("common.back_home")


class OutOfServiceScreen(KioskScreen):
    """A calm, clear screen when nothing can be offered: the hotline, language, call staff."""

    has_header = False

    def build(self) -> None:
        self.title = TextLabel("alert", TypeSize.DISPLAY, bold=True, size_hint_y=0.3)
        self.reason = TextLabel("body", TypeSize.TITLE, size_hint_y=0.15)
        self.body_text = TextLabel("muted", TypeSize.BODY, size_hint_y=0.3)
        self.choices = _Choices(self)
        for widget in (self.title, self.reason, self.body_text, self.choices):
            self.body.add_widget(widget)
        self.choices.language.automation_id = "oos.language"

    def render(self, changed: set[str]) -> None:
        v = self.view
        self.title.text = v.t("oos.title")
        self.reason.text = v.t(v.out_of_service_key) if v.out_of_service_key else ""
        self.body_text.text = v.t("oos.body", hotline=v.hotline)
        self.choices.render(v)


SCREENS: dict[ScreenId, type[KioskScreen]] = {
    ScreenId.ATTRACT: AttractScreen,
    ScreenId.MENU: MenuScreen,
    ScreenId.READ_IDCARD: ReadIdCardScreen,
    ScreenId.PLACE_PERMIT: PlacePermitScreen,
    ScreenId.PLACE_DATA_PAGE: PlaceDataPageScreen,
    ScreenId.FACE: FaceScreen,
    ScreenId.CHOOSE: ChooseScreen,
    ScreenId.ENTER_ACCOUNT: EnterAccountScreen,
    ScreenId.CONFIRM: ConfirmScreen,
    ScreenId.SCAN_DOCUMENT: ScanDocumentScreen,
    ScreenId.PAY: PayScreen,
    ScreenId.PROCESSING: ProcessingScreen,
    ScreenId.RESULT: ResultScreen,
    ScreenId.OUT_OF_SERVICE: OutOfServiceScreen,
    ScreenId.TECHNICIAN_PIN: TechnicianPinScreen,
    ScreenId.TECHNICIAN: TechnicianScreen,
    ScreenId.AGENT_SIGN_IN: AgentSignInScreen,
    ScreenId.SEARCH: SearchScreen,
    ScreenId.GUIDE: GuideScreen,
    ScreenId.EVALUATE: EvaluateScreen,
}

__all__ = ["SCREENS", "KioskScreen"]
