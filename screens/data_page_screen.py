"""Place the document's data page on the document camera: a picture of where it goes and of
the lines at its foot that must stay in view, the instruction (or what to change after a try
that did not read), and which try this is.

The picture is drawn once per palette with Pillow when the screen is built (no image file to
keep in step with the theme), in the theme's own colours.
"""

from __future__ import annotations

import functools

from kivy.graphics.texture import Texture
from kivy.uix.image import Image
from PIL import Image as PilImage
from PIL import ImageDraw

from screens.base import KioskScreen
from screens.theme import Palette, TypeSize, current
from screens.widgets import TextLabel

PICTURE_SIZE = (720, 560)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def draw_data_page_picture(palette: Palette, size: tuple[int, int] = PICTURE_SIZE) -> (
        PilImage.Image):  # fmt: skip
    """The scan area seen from above, a passport open at its data page lying in it face up,
    and the MRZ lines at the page's foot framed and pointed at, with no hand over them."""
    w, h = size
    image = PilImage.new("RGB", size, _rgb(palette.background))
    draw = ImageDraw.Draw(image)
    device, card, outline = _rgb(palette.guide_device), _rgb(palette.guide_card), \
        _rgb(palette.outline)
    # Pairs of screens.theme.GRAPHIC_PAIRS: guide_card, guide_reader (the arrow and the tick,
    # on the desk), guide_mrz_frame and guide_mrz_glyphs (on the page).
    primary, mark, text = _rgb(palette.primary), _rgb(palette.primary_note), _rgb(palette.text)
    line = max(2, w // 180)
    # The scan area: the desk under the camera, its corners marked.
    area = (w * 0.06, h * 0.04, w * 0.94, h * 0.96)
    draw.rounded_rectangle(area, radius=w // 40, fill=device)
    corner = w * 0.06
    for x, y, dx, dy in ((area[0], area[1], 1, 1), (area[2], area[1], -1, 1),
                         (area[0], area[3], 1, -1), (area[2], area[3], -1, -1)):
        x, y = x + dx * w * 0.03, y + dy * w * 0.03
        draw.line((x, y, x + dx * corner, y), fill=card, width=line * 2)
        draw.line((x, y, x, y + dy * corner), fill=card, width=line * 2)
    # The open document: the data page (lower half) under the facing page (upper half).
    left, right, top, fold, foot = w * 0.2, w * 0.8, h * 0.12, h * 0.42, h * 0.86
    draw.rectangle((left, top, right, fold), fill=card, outline=outline, width=line)
    draw.rectangle((left, fold, right, foot), fill=card, outline=outline, width=line)
    pw = (right - left) * 0.22
    draw.rectangle((left + pw * 0.25, fold + (foot - fold) * 0.1, left + pw * 1.25,
                    fold + (foot - fold) * 0.58), fill=device)  # fmt: skip
    for row in range(3):  # printed fields beside the photo
        y = fold + (foot - fold) * (0.14 + row * 0.16)
        draw.rectangle((left + pw * 1.6, y, right - pw * (0.4 + 0.5 * row), y + line * 2),
                       fill=outline)  # fmt: skip
    # The MRZ: two lines of characters at the foot, framed in the theme's primary colour.
    mrz_top, pitch = fold + (foot - fold) * 0.68, (right - left - pw * 0.5) / 30
    for row in range(2):
        y = mrz_top + row * (foot - fold) * 0.12
        for column in range(30):
            x = left + pw * 0.25 + column * pitch
            glyph = "<" if column % 7 in (5, 6) else "x"
            if glyph == "<":
                draw.line((x + pitch * 0.7, y, x + pitch * 0.2, y + pitch * 0.5, x + pitch * 0.7,
                           y + pitch), fill=text, width=max(1, line // 2))  # fmt: skip
            else:
                draw.rectangle((x + pitch * 0.2, y, x + pitch * 0.7, y + pitch), fill=text)
    band = (left + pw * 0.1, mrz_top - pitch * 0.6, right - pw * 0.1,
            mrz_top + (foot - fold) * 0.12 + pitch * 1.6)
    draw.rounded_rectangle(band, radius=line * 3, outline=primary, width=line * 2)
    # On the desk: an arrow up to the page's foot under the framed lines, and a tick beside
    # them (these must be seen).
    ax, head = (left + right) / 2, w * 0.035
    draw.line((ax, area[3] - line * 2, ax, foot + head * 1.4), fill=mark, width=line * 3)
    draw.polygon(((ax - head, foot + head * 1.6), (ax + head, foot + head * 1.6),
                  (ax, foot + line * 2)), fill=mark)  # fmt: skip
    tick = (right + w * 0.025, band[1])
    draw.line((tick[0], tick[1] + head, tick[0] + head * 0.6, tick[1] + head * 1.6,
               tick[0] + head * 1.6, tick[1]), fill=mark, width=line * 3)  # fmt: skip
    return image


@functools.cache
def _texture(palette: Palette) -> Texture:
    picture = draw_data_page_picture(palette).convert("RGBA")
    texture = Texture.create(size=picture.size, colorfmt="rgba")
    texture.blit_buffer(picture.tobytes(), colorfmt="rgba", bufferfmt="ubyte")
    texture.flip_vertical()
    return texture


class PlaceDataPageScreen(KioskScreen):
    """The data page onto the document camera; after a try that did not read, what to change."""

    title_key = "mrz.title"

    def build(self) -> None:
        self.picture = Image(texture=_texture(current().palette), fit_mode="contain",
                             size_hint_y=1.3)
        self.picture.automation_id = "data_page_picture"
        self.instruction = TextLabel("body", TypeSize.HEADING, bold=True, size_hint_y=0.5)
        self.attempt = TextLabel("muted", TypeSize.BODY, size_hint_y=0.15)
        self.where = TextLabel("muted", TypeSize.BODY, size_hint_y=0.2)
        self.split([self.picture], [self.instruction, self.attempt, self.where])

    def render(self, changed: set[str]) -> None:
        super().render(changed)
        v = self.view
        problem = v.status_key.startswith("mrz.problem.")
        self.instruction.text = v.t(v.status_key if v.status_key.startswith("mrz.")
                                    else "mrz.place")
        self.instruction.set_pair("alert" if problem else "done" if v.busy else "body")
        params = v.status_params
        self.attempt.text = v.t("mrz.attempt", **params) \
            if problem and "attempt" in params and "attempts" in params else ""
        self.where.text = v.t("guide.data_page")
