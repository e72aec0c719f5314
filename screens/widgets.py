"""Widgets shared by the kiosk screens, all drawn from the theme's tokens: text that fits its
box, big buttons, the header and footer bars, panels, QR codes and the camera preview."""

from __future__ import annotations

import qrcode
from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from screens.theme import TEXT_PAIRS, Space, TypeSize, current

# Text may shrink this far below its size token before it counts as overflowing.
MIN_FIT = 0.7


# Sizes found by FitText, by everything they depend on (FitText._fit_key); the oldest go first.
_FITTED: dict[tuple, tuple[float, tuple]] = {}
_FITTED_MAX = 4096


class FitText:
    """Wraps a label's text to its width and shrinks it (to MIN_FIT) until it fits its box."""

    nominal_font_size = 0.0
    text_padding = 0.0
    single_line_first = False       # short labels (buttons) shrink before they wrap
    min_fit = MIN_FIT

    def _setup_fit(self, font_size: float, padding: float) -> None:
        self.nominal_font_size = font_size
        self.text_padding = padding
        self._fit_trigger = Clock.create_trigger(self._fit, -1)
        self.bind(size=self._fit_trigger, text=self._fit_trigger)  # type: ignore[attr-defined]

    def set_nominal(self, font_size: float) -> None:
        self.nominal_font_size = font_size
        self._fit_trigger()

    def _fit(self, *_) -> None:
        label: Label = self  # type: ignore[assignment]
        if label.width <= 1 or label.height <= 1:
            return
        key = self._fit_key()
        fitted = _FITTED.get(key)
        if fitted is not None:
            # Fitted before (a result tile again at the next keystroke, a guide's tab): its
            # size at once, and Kivy renders the text once instead of once per trial size.
            label.font_size, label.text_size = fitted
            return
        self._fit_anew()
        if len(_FITTED) >= _FITTED_MAX:
            _FITTED.pop(next(iter(_FITTED)))
        _FITTED[key] = (label.font_size, tuple(label.text_size))

    def _fit_key(self) -> tuple:
        """Everything the fitted size depends on."""
        label: Label = self  # type: ignore[assignment]
        return (label.text, label.markup, label.font_name, label.bold, label.italic,
                label.line_height, label.halign, label.valign, tuple(label.padding),
                label.width, label.height, self.nominal_font_size, self.text_padding,
                self.min_fit, self.single_line_first)

    def _fit_anew(self) -> None:
        label: Label = self  # type: ignore[assignment]
        smallest = self.nominal_font_size * self.min_fit
        # Small boxes get small margins: the padding never takes more than a few percent.
        pad = min(self.text_padding, label.width * 0.04)
        width = max(1.0, label.width - 2 * pad)
        if self.single_line_first and "\n" not in label.text:
            size = self.nominal_font_size
            while True:
                # One line at this size (measured unwrapped), and its height once laid out.
                label.font_size = size
                label.text_size = (None, None)
                label.texture_update()
                if label.texture_size[0] <= width:
                    label.text_size = (width, None)
                    label.texture_update()
                    if label.texture_size[1] <= label.height:
                        return
                if size <= smallest:
                    break
                size = max(size * 0.92, smallest)
        label.text_size = (max(1.0, label.width - 2 * pad), None)
        size = self.nominal_font_size
        while True:
            label.font_size = size
            label.texture_update()
            tw, th = label.texture_size
            if (th <= label.height and tw <= label.width) or size <= smallest:
                break
            size = max(size * 0.92, smallest)
        if label.valign == "top":             # a page of text starts at the top of its box
            label.text_size = (label.text_size[0], label.height)


class TextLabel(FitText, Label):
    """Text in a named colour pair (screens.theme.TEXT_PAIRS) at a type size token."""

    def __init__(self, pair: str = "body", size: TypeSize = TypeSize.BODY, **kwargs):
        theme = current()
        self.pair = pair
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        super().__init__(color=theme.text(pair)[0], font_size=theme.font(size),
                         line_height=theme.mode.line_height, **kwargs)
        self._setup_fit(theme.font(size), theme.space(Space.GAP))

    def set_pair(self, pair: str) -> None:
        self.pair = pair
        self.color = current().text(pair)[0]


# Button kinds: (text pair, the graphic pair that draws its edge on the background).
BUTTON_PAIRS = {"primary": "button", "secondary": "secondary_button", "danger": "danger_button",
                "success": "success_button", "header": "header"}


class BigButton(FitText, Button):
    """A touch target large enough for any hand; `automation_id` names it for the scripted
    citizen. Disabled, it keeps a readable reason and an outline that stands out."""

    def __init__(self, automation_id: str, kind: str = "primary",
                 type_size: TypeSize = TypeSize.BUTTON, **kwargs):
        theme = current()
        self.kind = kind
        fg, bg = theme.text(BUTTON_PAIRS[kind])
        dis_fg, dis_bg = theme.text("disabled_button")
        if "size_hint" not in kwargs:
            kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.space(Space.BUTTON))
        super().__init__(
            background_normal="", background_down="", background_disabled_normal="",
            background_disabled_down="", background_color=dis_bg if kwargs.get("disabled")
            else bg, color=fg, disabled_color=dis_fg, halign="center", valign="middle",
            font_size=theme.font(type_size), line_height=theme.mode.line_height, **kwargs)
        self._colours = (bg, dis_bg)
        self.automation_id = automation_id
        self.single_line_first = True
        self._setup_fit(theme.font(type_size), theme.space(Space.GAP))
        with self.canvas.after:
            edge = "on_primary" if kind == "header" else "outline"
            self._edge_colour = Color(*theme.colour(edge))
            self._edge = Line(width=theme.space(Space.LINE) / 1.5)
        self._edge_colour.a = 1 if kind == "header" or self.disabled else 0
        self.bind(pos=self._draw_edge, size=self._draw_edge, disabled=self._on_disabled)
        self.bind(state=self._on_state)

    def set_kind(self, kind: str) -> None:
        """Another kind of button (a chosen tab, a picked tag): its own contrast pair."""
        if kind == self.kind:
            return
        theme = current()
        self.kind = kind
        fg, bg = theme.text(BUTTON_PAIRS[kind])
        self._colours = (bg, self._colours[1])
        self.color = fg
        self._on_disabled()

    def _on_state(self, *_):
        # Pressed: a darker face, same text colour (the contrast pair still holds).
        bg = self._colours[0]
        self.background_color = tuple(c * 0.8 for c in bg[:3]) + (1,) \
            if self.state == "down" else bg

    def _on_disabled(self, *_):
        self.background_color = self._colours[1] if self.disabled else self._colours[0]
        self._edge_colour.a = 1 if self.kind == "header" or self.disabled else 0

    def _draw_edge(self, *_):
        self._edge.rectangle = (self.x + 1, self.y + 1, self.width - 2, self.height - 2)


class Background(Widget):
    def __init__(self, colour: str = "background", **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*current().colour(colour))
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._rect.pos, self._rect.size = self.pos, self.size


class Bar(BoxLayout):
    """The header and footer: a band of the primary colour holding buttons."""

    def __init__(self, **kwargs):
        theme = current()
        super().__init__(orientation="horizontal", size_hint_y=None,
                         height=theme.space(Space.BAR), padding=theme.space(Space.GAP) / 1.5,
                         spacing=theme.space(Space.GAP), **kwargs)
        with self.canvas.before:
            Color(*theme.colour("primary"))
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._rect.pos, self._rect.size = self.pos, self.size


class Header(Bar):
    """The service's name, then sound, elder mode and language: on every screen of a visit."""

    def __init__(self, screen_name: str, intents, view, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        self.title = TextLabel("header", TypeSize.HEADING, halign="left")
        self.title.min_fit = 0.5            # a long service name may shrink further
        self.sound = BigButton(f"{screen_name}.sound", "header", TypeSize.SMALL,
                               size_hint=(None, 1), width=theme.font(TypeSize.SMALL) * 5)
        self.sound.bind(on_release=lambda *_: intents.cycle_volume())
        self.elder = BigButton(f"{screen_name}.elder", "header", TypeSize.SMALL,
                               size_hint=(None, 1), width=theme.font(TypeSize.SMALL) * 5.5)
        self.elder.bind(on_release=lambda *_: intents.set_elder(not view.elder))
        self.language = BigButton(f"{screen_name}.language", "header", TypeSize.SMALL,
                                  size_hint=(None, 1), width=theme.font(TypeSize.SMALL) * 4.5)
        self.language.bind(on_release=lambda *_: intents.set_language(
            "en" if view.language == "zh" else "zh"))
        for widget in (self.title, self.sound, self.elder, self.language):
            self.add_widget(widget)

    def render(self, view) -> None:
        title = view.pick(view.service_title) if view.service_title else view.t("app.title")
        # A village agent acting for citizens is marked on every screen of the visit.
        self.title.text = (f"{view.t('agent.mark', agent=view.agent_id)} · {title}"
                           if view.agent_id else title)
        self.sound.text = view.t(f"common.sound.{view.volume.value}")
        self.elder.text = view.t("common.elder_off" if view.elder else "common.elder_on")
        self.language.text = view.t("common.language")


class Footer(Bar):
    """The ways out: back (where safe), call staff, exit (which asks first)."""

    def __init__(self, screen_name: str, intents, **kwargs):
        super().__init__(**kwargs)
        self.back = BigButton(f"{screen_name}.back", "header", TypeSize.SMALL, size_hint_y=1)
        self.back.bind(on_release=lambda *_: intents.go_back())
        self.help = BigButton(f"{screen_name}.help", "header", TypeSize.SMALL, size_hint_y=1)
        self.help.bind(on_release=lambda *_: intents.call_staff())
        self.exit = BigButton(f"{screen_name}.exit", "danger", TypeSize.SMALL, size_hint_y=1)
        self.exit.bind(on_release=lambda *_: intents.ask_exit())
        for widget in (self.back, self.help, self.exit):
            self.add_widget(widget)

    def render(self, view) -> None:
        self.back.text = view.t("common.back")
        self.back.opacity = 1 if view.can_go_back else 0
        self.back.disabled = not view.can_go_back
        self.help.text = view.t("common.help")
        self.exit.text = view.t("common.exit")


class Panel(BoxLayout):
    """A white card with an outline, for QR codes, dialogs and notices."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        with self.canvas.before:
            Color(*theme.colour("surface"))
            self._rect = RoundedRectangle(radius=[theme.space(Space.RADIUS)])
            Color(*theme.colour("outline"))
            self._edge = Line(width=theme.space(Space.LINE) / 1.5)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        r = current().space(Space.RADIUS)
        self._rect.pos, self._rect.size = self.pos, self.size
        self._edge.rounded_rectangle = (self.x, self.y, self.width, self.height, r)


def qr_texture(payload: str, box: int = 12, mask_pattern: int | None = None) -> Texture:
    """A QR code as a texture. A fixed `mask_pattern` skips qrcode's search for the best of
    eight masks (most of its time: ~50 ms of a guide's tap); any mask reads the same."""
    code = qrcode.QRCode(box_size=box, border=4, mask_pattern=mask_pattern)
    code.add_data(payload)
    image = code.make_image().get_image().convert("RGB")
    texture = Texture.create(size=image.size, colorfmt="rgb")
    texture.blit_buffer(image.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = "nearest"
    return texture


class CameraPreview(Image):
    """Shows RGB frames (already mirrored) with an oval guide where the face belongs; only as
    large as positioning the face needs."""

    def __init__(self, **kwargs):
        super().__init__(fit_mode="contain", **kwargs)
        theme = current()
        self._size = None
        with self.canvas.after:
            self._guide_color = Color(*theme.colour("primary"))
            self._guide = Line(ellipse=(0, 0, 1, 1), width=theme.space(Space.LINE) * 1.5)
        self.bind(pos=self._layout, size=self._layout)

    def _layout(self, *_):
        w, h = self.norm_image_size
        gw, gh = w * 0.5, h * 0.72
        self._guide.ellipse = (self.center_x - gw / 2, self.center_y - gh / 2, gw, gh)

    def show_frame(self, frame, face_ok: bool) -> None:
        if frame is None:
            return
        h, w = frame.shape[:2]
        if self._size != (w, h):
            self.texture = Texture.create(size=(w, h), colorfmt="rgb")
            self.texture.flip_vertical()
            self._size = (w, h)
            self._layout()
        self.texture.blit_buffer(frame.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self._guide_color.rgba = current().colour("success" if face_ok else "primary")
        self.canvas.ask_update()


__all__ = ["TEXT_PAIRS", "Background", "BigButton", "CameraPreview", "Footer", "Header",
           "Panel", "TextLabel", "qr_texture"]
