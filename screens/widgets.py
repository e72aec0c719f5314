"""Widgets shared by the kiosk screens: big buttons, the header, QR codes and the camera preview."""

from __future__ import annotations

import qrcode
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

BLUE = (0.09, 0.33, 0.66, 1)
DARK = (0.12, 0.14, 0.18, 1)
LIGHT = (0.96, 0.97, 0.99, 1)
GREY = (0.55, 0.58, 0.62, 1)
RED = (0.75, 0.16, 0.16, 1)
GREEN = (0.12, 0.55, 0.27, 1)


class Background(Widget):
    def __init__(self, color=LIGHT, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*color)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._rect.pos, self._rect.size = self.pos, self.size


class BigButton(Button):
    """A touch target large enough for any hand; `automation_id` names it for the scripted citizen."""

    def __init__(self, automation_id: str, color=BLUE, **kwargs):
        kwargs.setdefault("font_size", 52)
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", 180)
        super().__init__(
            background_normal="", background_color=color, halign="center", valign="middle", **kwargs
        )
        self.automation_id = automation_id
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - 40, None)))


class TextLabel(Label):
    def __init__(self, **kwargs):
        kwargs.setdefault("color", DARK)
        kwargs.setdefault("font_size", 48)
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        super().__init__(**kwargs)
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - 60, None)))


class Header(BoxLayout):
    """Title, language switch and the way out, on every screen but the attract loop."""

    def __init__(self, screen_name: str, on_language, on_exit, **kwargs):
        super().__init__(
            orientation="horizontal", size_hint_y=None, height=170, padding=20, spacing=20, **kwargs
        )
        with self.canvas.before:
            Color(*BLUE)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)
        self.title = Label(font_size=56, bold=True, halign="left", valign="middle")
        self.title.bind(size=lambda *_: setattr(self.title, "text_size", self.title.size))
        self.language = BigButton(
            f"{screen_name}.language",
            color=(0.2, 0.45, 0.78, 1),
            size_hint=(None, 1),
            width=220,
            font_size=40,
        )
        self.language.bind(on_release=lambda *_: on_language())
        self.exit = BigButton(
            f"{screen_name}.exit", color=RED, size_hint=(None, 1), width=220, font_size=44
        )
        self.exit.bind(on_release=lambda *_: on_exit())
        self.add_widget(self.title)
        self.add_widget(self.language)
        self.add_widget(self.exit)

    def _sync(self, *_):
        self._rect.pos, self._rect.size = self.pos, self.size


def qr_texture(payload: str, box: int = 12) -> Texture:
    image = qrcode.make(payload, box_size=box, border=4).get_image().convert("RGB")
    texture = Texture.create(size=image.size, colorfmt="rgb")
    texture.blit_buffer(image.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = "nearest"
    return texture


class CameraPreview(Image):
    """Shows RGB frames (already mirrored) with an oval guide where the face belongs."""

    def __init__(self, **kwargs):
        super().__init__(fit_mode="contain", **kwargs)
        self._size = None
        with self.canvas.after:
            self._guide_color = Color(1, 1, 1, 0.9)
            self._guide = Line(ellipse=(0, 0, 1, 1), width=4)
            Color(*BLUE)
            self._frame = Line(rounded_rectangle=(0, 0, 1, 1, 20), width=3)
        self.bind(pos=self._layout, size=self._layout)

    def _layout(self, *_):
        w, h = self.width * 0.42, self.height * 0.7
        self._guide.ellipse = (self.center_x - w / 2, self.center_y - h / 2, w, h)
        self._frame.rounded_rectangle = (self.x, self.y, self.width, self.height, 20)

    def show_frame(self, frame, face_ok: bool) -> None:
        if frame is None:
            return
        h, w = frame.shape[:2]
        if self._size != (w, h):
            self.texture = Texture.create(size=(w, h), colorfmt="rgb")
            self.texture.flip_vertical()
            self._size = (w, h)
        self.texture.blit_buffer(frame.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self._guide_color.rgba = (0.2, 0.85, 0.35, 1) if face_ok else (1, 1, 1, 0.9)
        self.canvas.ask_update()


class Panel(BoxLayout):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._rect = RoundedRectangle(pos=self.pos, size=self.size, radius=[24])
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._rect.pos, self._rect.size = self.pos, self.size
