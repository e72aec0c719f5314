"""Guidance drawn with Kivy's canvas and animations (no video files): the step progress bar, the
placement guide of each reader (where it is on the kiosk, which side up, an arrow), and the
busy spinner."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from screens.theme import Space, TypeSize, current
from screens.widgets import TextLabel

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


class StageBar(BoxLayout):
    """①身份证 ②通行证 ③人像 ④选择 ⑤支付 ⑥完成: built from the flow's stages."""

    def __init__(self, **kwargs):
        theme = current()
        self.full_height = theme.space(Space.PROGRESS) * (1 + (theme.mode.type_scale - 1) / 2)
        super().__init__(orientation="horizontal", size_hint_y=None, height=0,
                         padding=(theme.space(Space.GAP), theme.space(Space.GAP) / 3),
                         spacing=theme.space(Space.GAP) / 2, **kwargs)
        self._rendered: tuple = ()

    def render(self, view) -> None:
        key = (view.stages, view.stage_index, view.language)
        if key == self._rendered:
            return
        self._rendered = key
        self.clear_widgets()
        self.height = self.full_height if view.stages else 0
        for index, stage in enumerate(view.stages):
            mark = CIRCLED[index] if index < len(CIRCLED) else str(index + 1)
            pair = "headline" if index == view.stage_index else \
                "body" if index < view.stage_index else "muted"
            label = TextLabel(pair, TypeSize.SMALL, text=f"{mark}{view.t(stage)}",
                              bold=index == view.stage_index)
            label.automation_id = f"progress.{index}"
            self.add_widget(_Stage(label, current_stage=index == view.stage_index,
                                   done=index < view.stage_index))


class _Stage(FloatLayout):
    """One stage: its label over a bar, filled when done or current."""

    def __init__(self, label: TextLabel, current_stage: bool, done: bool, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        with self.canvas.before:
            Color(*theme.colour("primary" if current_stage or done else "outline"))
            self._bar = Rectangle()
        self._thick = theme.space(Space.LINE) * (3 if current_stage else 1.5)
        label.size_hint = (1, 0.85)
        label.pos_hint = {"x": 0, "top": 1}
        self.add_widget(label)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bar.pos, self._bar.size = (self.x, self.y), (self.width, self._thick)


class PlacementGuide(FloatLayout):
    """The kiosk's front, its reader lit where it really is, and a card (or page) gliding onto
    it, side up as the label on it says, under a pulsing arrow."""

    phase = NumericProperty(0.0)

    def __init__(self, reader_at: float = 0.72, page: bool = False, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        self.reader_at = reader_at          # the reader's place across the kiosk (0..1)
        self.page = page                    # a document page on the scan area, not a card
        with self.canvas:
            Color(*theme.colour("guide_device"))
            self._body = RoundedRectangle(radius=[theme.space(Space.RADIUS)])
            Color(*theme.colour("surface"))
            self._screen = Rectangle()
            Color(*theme.colour("primary_note"))
            self._reader = RoundedRectangle(radius=[theme.space(Space.RADIUS) / 2])
            Color(*theme.colour("guide_card"))
            self._card = RoundedRectangle(radius=[theme.space(Space.RADIUS) / 3])
            Color(*theme.colour("guide_device"))
            self._photo = Rectangle()
            Color(*theme.colour("danger"))
            self._shaft = Line(width=theme.space(Space.LINE) * 2)
            self._head = Triangle()
        self.side = TextLabel("card_label", TypeSize.SMALL, size_hint=(None, None))
        self.side.min_fit = 0.4            # a note on the picture; the instruction says it too
        self.add_widget(self.side)
        self.bind(pos=self._draw, size=self._draw, phase=self._draw)
        self._animation = (Animation(phase=1.0, duration=1.6, t="out_quad")
                           + Animation(phase=1.0, duration=0.8)
                           + Animation(phase=0.0, duration=0.01))
        self._animation.repeat = True

    def start(self) -> None:
        self._animation.start(self)

    def stop(self) -> None:
        self._animation.cancel(self)

    def _draw(self, *_):
        w, h = self.width, self.height
        if w <= 1 or h <= 1:
            return
        kw, kh = min(w * 0.8, h * 0.9 * 0.75), h * 0.9      # the kiosk, upright
        kx, ky = self.center_x - kw / 2, self.y + h * 0.05
        self._body.pos, self._body.size = (kx, ky), (kw, kh)
        self._screen.pos = (kx + kw * 0.1, ky + kh * 0.45)
        self._screen.size = (kw * 0.8, kh * 0.48)
        rw, rh = kw * 0.5, kh * 0.1
        rx = kx + kw * self.reader_at - rw / 2
        ry = ky + kh * 0.12
        self._reader.pos, self._reader.size = (rx, ry), (rw, rh)
        cw = rw * (0.6 if self.page else 0.95)
        ch = cw * (1.3 if self.page else 0.63)
        # The card glides from above the kiosk onto the reader.
        start_y, end_y = ky + kh * 0.5, ry + rh / 2 - ch / 2 + rh * 0.2
        cy = start_y + (end_y - start_y) * self.phase
        cx = rx + rw / 2 - cw / 2
        self._card.pos, self._card.size = (cx, cy), (cw, ch)
        photo = ch * 0.5
        self._photo.pos = (cx + cw * 0.08, cy + ch * 0.3 if self.page else cy + ch / 2 - photo / 2)
        self._photo.size = (cw * 0.84, ch * 0.06) if self.page else (photo * 0.8, photo)
        self.side.size = (cw * (0.9 if self.page else 0.66), ch * (0.45 if self.page else 0.85))
        self.side.pos = (cx + cw * 0.05 if self.page else cx + cw * 0.32, cy + ch * 0.5
                         if self.page else cy + ch / 2 - self.side.height / 2)
        ax = rx + rw / 2
        top, tip = cy + ch + kh * 0.16, cy + ch + kh * 0.04
        self._shaft.points = (ax, top, ax, tip + kh * 0.03)
        head = kw * 0.05
        self._head.points = (ax - head, tip + kh * 0.03, ax + head, tip + kh * 0.03, ax, tip)


class BusySpinner(Widget):
    """A turning arc: the kiosk is working."""

    angle = NumericProperty(0.0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        theme = current()
        with self.canvas:
            Color(*theme.colour("outline"))
            self._ring = Line(width=theme.space(Space.LINE) * 2)
            Color(*theme.colour("primary"))
            self._arc = Line(width=theme.space(Space.LINE) * 3)
        self.bind(pos=self._draw, size=self._draw, angle=self._draw)
        self._animation = Animation(angle=360, duration=1.2) + Animation(angle=0, duration=0)
        self._animation.repeat = True

    def start(self) -> None:
        self._animation.start(self)

    def stop(self) -> None:
        self._animation.cancel(self)

    def _draw(self, *_):
        r = min(self.width, self.height) / 2 * 0.8
        self._ring.circle = (self.center_x, self.center_y, r)
        self._arc.circle = (self.center_x, self.center_y, r, self.angle, self.angle + 100)


__all__ = ["PlacementGuide", "StageBar", "BusySpinner"]
