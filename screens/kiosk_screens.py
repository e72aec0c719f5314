"""The citizen's screens. Each renders the session view and sends intents; none touches a device."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.graphics import Color, Line, RoundedRectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.i18n import format_fen
from kiosk.viewmodel import Intents, ScreenId, SessionView
from screens.screen_share import mark_personal  # widgets of viewmodel.PERSONAL_FIELDS
from screens.widgets import (
    BLUE,
    DARK,
    GREEN,
    GREY,
    LIGHT,
    RED,
    Background,
    BigButton,
    CameraPreview,
    Header,
    Panel,
    TextLabel,
    qr_texture,
)


class KioskScreen(Screen):
    """A screen with the standard header (title, language, exit) over a body column."""

    title_key = ""
    has_header = True

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(**kwargs)
        self.view, self.intents = view, intents
        root = BoxLayout(orientation="vertical")
        self.add_widget(Background(color=LIGHT))
        if self.has_header:
            self.header = Header(self.name, self._toggle_language, intents.cancel)
            root.add_widget(self.header)
        self.body = BoxLayout(orientation="vertical", padding=(60, 50), spacing=40)
        root.add_widget(self.body)
        self.add_widget(root)
        self.build()

    def _toggle_language(self) -> None:
        self.intents.set_language("en" if self.view.language == "zh" else "zh")

    def build(self) -> None:
        """Creates the body's widgets once."""

    def render(self, changed: set[str]) -> None:
        """Re-renders from the view; `changed` names the fields that changed."""
        if self.has_header:
            self.header.title.text = self.view.t(self.title_key)
            self.header.language.text = self.view.t("common.language")
            self.header.exit.text = self.view.t("common.exit")


class AttractScreen(KioskScreen):
    has_header = False

    def build(self) -> None:
        self.headline = TextLabel(font_size=96, bold=True, color=BLUE, size_hint_y=0.25)
        self.headline.automation_id = "attract.headline"
        self.title = TextLabel(font_size=64, size_hint_y=0.12)
        self.hint = TextLabel(font_size=44, color=GREY, size_hint_y=0.12)
        self.emblem = Widget(size_hint_y=0.25)
        with self.emblem.canvas:
            Color(*BLUE)
            self._emblem = Line(circle=(540, 900, 160), width=10)
        self.emblem.bind(pos=self._place_emblem, size=self._place_emblem)
        self.start = BigButton("attract.start", font_size=64, height=220)
        self.start.bind(on_release=lambda *_: self.intents.touch_start())
        self.language = BigButton(
            "attract.language",
            color=GREY,
            height=130,
            font_size=44,
            size_hint_x=None,
            width=300,
            pos_hint={"center_x": 0.5},
        )
        self.language.bind(on_release=lambda *_: self._toggle_language())
        for widget in (
            self.headline,
            self.title,
            self.emblem,
            self.hint,
            self.start,
            self.language,
        ):
            self.body.add_widget(widget)
        pulse = Animation(opacity=0.55, duration=1.2) + Animation(opacity=1, duration=1.2)
        pulse.repeat = True
        pulse.start(self.start)

    def on_touch_down(self, touch):
        # The technician's way in: five quick taps on the headline (no visible button).
        if self.headline.collide_point(*touch.pos):
            self.intents.technician_tap()
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
        self.language.text = v.t("common.language")


class MenuScreen(KioskScreen):
    title_key = "menu.title"

    def build(self) -> None:
        self.banner = TextLabel(font_size=40, color=RED, size_hint_y=None, height=0)
        self.tiles = BoxLayout(orientation="vertical", spacing=26)
        self.body.add_widget(self.banner)
        self.body.add_widget(self.tiles)
        self.body.add_widget(Widget(size_hint_y=0.05))
        self._rendered: tuple = ()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.banner.text = "" if v.network_ok else v.t("network.down")
        self.banner.height = 0 if v.network_ok else 80
        key = (v.services, v.language)
        if key == self._rendered:
            return
        self._rendered = key
        self.tiles.clear_widgets()
        if not v.services:
            self.tiles.add_widget(TextLabel(text=v.t("menu.empty")))
        for tile in v.services:
            text = f"{v.pick(tile.title)}\n[size=34]{v.pick(tile.summary)}[/size]"
            note = tile.reason_key if not tile.available else tile.warning_key
            if note:
                text += f"\n[size=32][color=ffe08a]{v.t(note)}[/color][/size]"
            button = BigButton(
                f"service.{tile.code}",
                text=text,
                markup=True,
                height=250,
                color=BLUE if tile.available else GREY,
                disabled=not tile.available,
            )
            button.bind(on_release=lambda _b, code=tile.code: self.intents.choose_service(code))
            self.tiles.add_widget(button)


class PlaceCardScreen(KioskScreen):
    """A card over a reader, and one instruction: the ID card and the permit screens."""

    card_color: tuple[float, float, float, float] = (0.85, 0.9, 0.97, 1)
    instruction_key = ""

    def build(self) -> None:
        self.picture = Widget(size_hint_y=0.5)
        with self.picture.canvas:
            Color(*BLUE)
            self._reader = RoundedRectangle(radius=[30])
            Color(*self.card_color)
            self._card = RoundedRectangle(radius=[18])
        self.picture.bind(pos=self._draw, size=self._draw)
        self.instruction = TextLabel(size_hint_y=0.3)
        self.body.add_widget(self.picture)
        self.body.add_widget(self.instruction)

    def _draw(self, *_):
        p = self.picture
        self._reader.pos, self._reader.size = (p.center_x - 320, p.y + 40), (640, 120)
        self._card.pos, self._card.size = (p.center_x - 215, p.y + 190), (430, 270)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        self.instruction.text = self.view.t(self.view.status_key or self.instruction_key)
        self.instruction.color = BLUE if self.view.busy else DARK


class ReadIdCardScreen(PlaceCardScreen):
    title_key = "idcard.title"
    instruction_key = "idcard.instruction"
    card_color = (0.98, 0.93, 0.85, 1)


class PlacePermitScreen(PlaceCardScreen):
    title_key = "permit.title"
    instruction_key = "permit.instruction"


class FaceScreen(KioskScreen):
    title_key = "face.title"

    def build(self) -> None:
        self.preview = mark_personal(CameraPreview(size_hint_y=0.7))
        self.instruction = TextLabel(size_hint_y=0.15, font_size=56, bold=True)
        self.body.add_widget(self.preview)
        self.body.add_widget(self.instruction)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        if "preview" in changed or "faces" in changed:
            self.preview.show_frame(self.view.preview, self.view.faces == 1)
        self.instruction.text = self.view.t(self.view.status_key or "face.instruction")
        self.instruction.color = GREEN if self.view.faces == 1 else DARK


class ChooseScreen(KioskScreen):
    title_key = "choose.default_title"

    def build(self) -> None:
        self.options = BoxLayout(orientation="vertical", spacing=30)
        self.body.add_widget(self.options)
        self.body.add_widget(Widget())
        self._rendered: tuple = ()

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        if v.choose_title:
            self.header.title.text = v.pick(v.choose_title)
        key = (v.options, v.language)
        if key == self._rendered:
            return
        self._rendered = key
        self.options.clear_widgets()
        for option in v.options:
            text = v.pick(option.title)
            if option.fee_fen is not None:
                fee = v.t("choose.fee", fee=format_fen(option.fee_fen, v.language))
                text += f"\n[size=40]{fee}[/size]"
            button = BigButton(f"option.{option.code}", text=text, markup=True, height=230)
            button.bind(on_release=lambda _b, code=option.code: self.intents.choose_option(code))
            self.options.add_widget(button)


class EnterAccountScreen(KioskScreen):
    """A large keypad; a bill's barcode held to the scanner fills the number too."""

    title_key = "account.title"

    def build(self) -> None:
        self.prompt = TextLabel(font_size=46, size_hint_y=0.12)
        self.entry = mark_personal(TextLabel(font_size=80, bold=True, color=BLUE, size_hint_y=0.1))
        self.error = TextLabel(font_size=40, color=RED, size_hint_y=0.06)
        self.hint = TextLabel(font_size=36, color=GREY, size_hint_y=0.06)
        grid = GridLayout(cols=3, spacing=20, size_hint_y=0.6)
        self.keys = {}
        for key in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "back", "0", "ok"]:
            color = RED if key == "back" else GREEN if key == "ok" else BLUE
            button = BigButton(f"key.{key}", text=key, font_size=64, color=color, size_hint_y=1)
            button.bind(on_release=lambda _b, k=key: self.intents.key_press(k))
            self.keys[key] = button
            grid.add_widget(button)
        for widget in (self.prompt, self.entry, self.error, grid, self.hint):
            self.body.add_widget(widget)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.prompt.text = v.pick(v.entry_title) if v.entry_title else v.t("account.title")
        self.entry.text = v.entry or "_"
        self.error.text = v.t(v.entry_error_key) if v.entry_error_key else ""
        self.hint.text = v.t("account.scan_hint")
        self.keys["back"].text = v.t("keypad.back")
        self.keys["ok"].text = v.t("keypad.ok")


class ConfirmScreen(KioskScreen):
    title_key = "confirm.title"

    def build(self) -> None:
        self.lines = mark_personal(TextLabel(font_size=46, size_hint_y=0.4, halign="left"))
        self.amount = TextLabel(font_size=84, bold=True, color=RED, size_hint_y=0.15)
        self.pay = BigButton("confirm.pay", color=GREEN)
        self.pay.bind(on_release=lambda *_: self.intents.choose_option("confirm"))
        for widget in (self.lines, self.amount, self.pay):
            self.body.add_widget(widget)
        self.body.add_widget(Widget(size_hint_y=0.2))

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.lines.text = "\n".join(f"{v.pick(label)}：{value}" for label, value in v.confirm_lines)
        self.amount.text = v.t("confirm.amount", fee=format_fen(v.fee_fen, v.language))
        self.pay.text = v.t("confirm.pay")


class PayScreen(KioskScreen):
    title_key = "pay.title"

    def build(self) -> None:
        self.amount = TextLabel(font_size=88, bold=True, color=RED, size_hint_y=0.12)
        panel = Panel(
            size_hint=(None, None), size=(720, 720), pos_hint={"center_x": 0.5}, padding=30
        )
        self.qr = Image(fit_mode="contain")
        self.qr.automation_id = "pay.qr"
        panel.add_widget(self.qr)
        self.instruction = TextLabel(size_hint_y=0.12)
        self.order = TextLabel(font_size=36, color=GREY, size_hint_y=0.06)
        self.scan_hint = TextLabel(font_size=38, color=GREY, size_hint_y=0.06)
        for widget in (self.amount, panel, self.instruction, self.scan_hint, self.order):
            self.body.add_widget(widget)
        self._qr_payload = ""

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        if v.qr_payload and v.qr_payload != self._qr_payload:
            self.qr.texture = qr_texture(v.qr_payload)
            self._qr_payload = v.qr_payload
        self.amount.text = format_fen(v.fee_fen, v.language) if v.fee_fen else ""
        self.instruction.text = v.t("pay.instruction", fee=format_fen(v.fee_fen, v.language))
        self.order.text = v.t("pay.order", order=v.order_no) if v.order_no else ""
        self.scan_hint.text = v.t("pay.or_scan")


class ProcessingScreen(KioskScreen):
    title_key = "processing.title"

    def build(self) -> None:
        self.instruction = TextLabel(font_size=60)
        self.body.add_widget(self.instruction)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        self.instruction.text = self.view.t("processing.instruction")


class TechnicianPinScreen(EnterAccountScreen):
    """The PIN keypad; the digits typed show as dots."""

    title_key = "tech.pin_title"

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        self.prompt.text = v.t("tech.pin_prompt")
        self.entry.text = "●" * len(v.entry) if v.entry else "_"
        self.hint.text = ""


class TechnicianScreen(KioskScreen):
    """Devices, supplies and recent device events, for the technician on site."""

    title_key = "tech.title"

    def build(self) -> None:
        self.devices_title = TextLabel(font_size=44, bold=True, color=BLUE, size_hint_y=0.06)
        self.devices = TextLabel(font_size=34, halign="left", size_hint_y=0.34)
        self.events_title = TextLabel(font_size=44, bold=True, color=BLUE, size_hint_y=0.06)
        self.events = TextLabel(font_size=30, halign="left", size_hint_y=0.3)
        self.note = TextLabel(font_size=38, color=GREEN, size_hint_y=0.06)
        row = BoxLayout(spacing=30, size_hint_y=0.12)
        self.self_test = BigButton("tech.self_test", color=GREEN, size_hint_y=1)
        self.self_test.bind(on_release=lambda *_: self.intents.technician_action("self_test"))
        self.back = BigButton("tech.back", color=GREY, size_hint_y=1)
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


class ScanDocumentScreen(KioskScreen):
    title_key = "scan.title"

    def build(self) -> None:
        self.which = TextLabel(font_size=56, bold=True, color=BLUE, size_hint_y=0.2)
        self.picture = Widget(size_hint_y=0.45)
        with self.picture.canvas:
            Color(0.2, 0.22, 0.26, 1)
            self._bed = RoundedRectangle(radius=[20])
            Color(1, 1, 1, 1)
            self._page = RoundedRectangle(radius=[6])
        self.picture.bind(pos=self._draw, size=self._draw)
        self.instruction = TextLabel(size_hint_y=0.25)
        for widget in (self.which, self.picture, self.instruction):
            self.body.add_widget(widget)

    def _draw(self, *_):
        p = self.picture
        w, h = min(p.width * 0.8, 760), min(p.height * 0.9, 560)
        self._bed.pos, self._bed.size = (p.center_x - w / 2, p.center_y - h / 2), (w, h)
        self._page.pos = (p.center_x - h * 0.3, p.center_y - h * 0.42)
        self._page.size = (h * 0.6, h * 0.84)

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        material = v.pick(v.scan_material) if v.scan_material else ""
        self.which.text = v.t("scan.which", index=v.scan_index, total=v.scan_total,
                              material=material)
        self.instruction.text = v.t(v.status_key or "scan.place")
        self.instruction.color = RED if v.status_key.startswith("scan.problem") else DARK


class ResultScreen(KioskScreen):
    title_key = "result.ok.title"

    def build(self) -> None:
        self.headline = TextLabel(font_size=96, bold=True, size_hint_y=0.2)
        self.lines = mark_personal(TextLabel(font_size=50, size_hint_y=0.5))
        self.done = BigButton("result.done")
        self.done.bind(on_release=lambda *_: self.intents.finish())
        for widget in (self.headline, self.lines, self.done):
            self.body.add_widget(widget)
        self.body.add_widget(Widget(size_hint_y=0.1))

    def render(self, changed: set[str]) -> None:
        v = self.view
        self.title_key = v.result_title_key or "result.ok.title"
        super().render(changed)
        self.headline.text = v.t(self.title_key)
        self.headline.color = GREEN if v.result_ok else RED
        self.lines.text = "\n\n".join(v.pick(line) for line in v.result_lines)
        self.done.text = v.t("common.back_home")


class OutOfServiceScreen(KioskScreen):
    """A calm, clear screen when nothing can be offered; no buttons but the language switch."""

    has_header = False

    def build(self) -> None:
        self.title = TextLabel(font_size=110, bold=True, color=RED, size_hint_y=0.3)
        self.reason = TextLabel(font_size=54, size_hint_y=0.15)
        self.body_text = TextLabel(font_size=46, color=GREY, size_hint_y=0.3)
        self.language = BigButton("oos.language", color=GREY, height=130, font_size=44,
                                  size_hint_x=None, width=300, pos_hint={"center_x": 0.5})
        self.language.bind(on_release=lambda *_: self._toggle_language())
        for widget in (self.title, self.reason, self.body_text, self.language):
            self.body.add_widget(widget)

    def render(self, changed: set[str]) -> None:
        v = self.view
        self.title.text = v.t("oos.title")
        self.reason.text = v.t(v.out_of_service_key) if v.out_of_service_key else ""
        self.body_text.text = v.t("oos.body", hotline=v.hotline)
        self.language.text = v.t("common.language")


SCREENS: dict[ScreenId, type[KioskScreen]] = {
    ScreenId.ATTRACT: AttractScreen,
    ScreenId.MENU: MenuScreen,
    ScreenId.READ_IDCARD: ReadIdCardScreen,
    ScreenId.PLACE_PERMIT: PlacePermitScreen,
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
}


class IdlePrompt(BoxLayout):
    """ "Are you still there?": a panel over the screen with a countdown and a big button."""

    def __init__(self, view: SessionView, intents: Intents, **kwargs):
        super().__init__(
            orientation="vertical",
            padding=50,
            spacing=30,
            size_hint=(0.8, None),
            height=640,
            pos_hint={"center_x": 0.5, "center_y": 0.5},
            **kwargs,
        )
        self.view = view
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._bg = RoundedRectangle(radius=[30])
            Color(*BLUE)
            self._border = Line(width=4)
        self.bind(pos=self._sync, size=self._sync)
        self.title = TextLabel(font_size=72, bold=True, color=BLUE)
        self.body = TextLabel()
        self.button = BigButton("idle.continue")
        self.button.bind(on_release=lambda *_: intents.dismiss_idle_prompt())
        for widget in (self.title, self.body, self.button):
            self.add_widget(widget)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._border.rounded_rectangle = (self.x, self.y, self.width, self.height, 30)

    def render(self) -> None:
        self.title.text = self.view.t("idle.title")
        self.body.text = self.view.t("idle.body", seconds=self.view.idle_seconds_left)
        self.button.text = self.view.t("idle.continue")


__all__ = ["SCREENS", "IdlePrompt", "KioskScreen"]
