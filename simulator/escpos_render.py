"""Draws an interpreted ESC/POS page as 80 mm thermal paper (576 dots at 203 dpi)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from simulator.escpos_page import Align, Page, QrBlock, RasterBlock, TextLine, TextSpan

DEFAULT_FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

PAPER_WIDTH_DOTS = 576  # 80 mm roll, 72 mm printable at 203 dpi
DOTS_PER_MM = 8  # 203 dpi
CELL_HEIGHT = 24  # font A: 12 x 24 dots; a GB18030 (Kanji) character is 24 x 24
NARROW_CELL = 12
WIDE_CELL = 24
DEFAULT_LINE_SPACING = 34  # ESC 2: about 1/6 inch at 203 dpi
MAX_PAGE_HEIGHT = 30_000


class _Fonts:
    """Latin in WenQuanYi Micro Hei Mono (fits 12-dot cells), CJK in the proportional face; and
    each character drawn once per size and style (`glyph`): a receipt repeats few of them."""

    def __init__(self, font_path: Path) -> None:
        self._path = font_path
        self._cache: dict[tuple[bool, int], ImageFont.FreeTypeFont] = {}
        self._glyphs: dict[tuple[str, int, int, bool, int], _Glyph] = {}

    def glyph(self, char: str, span: TextSpan, cell: int) -> _Glyph:
        height, width = min(span.height, 8), min(span.width, 8)
        key = (char, height, width, span.bold, cell)
        found = self._glyphs.get(key)
        if found is None:
            found = self._glyphs[key] = _draw_glyph(self.get(_is_wide(char), height), char,
                                                    height, width, span.bold, cell)
        return found

    def get(self, wide: bool, height: int) -> ImageFont.FreeTypeFont:
        key = (wide, height)
        if key not in self._cache:
            size = (24 if wide else 20) * height
            self._cache[key] = ImageFont.truetype(str(self._path), size, index=0 if wide else 1)
        return self._cache[key]


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _text_rows(line: TextLine) -> list[list[tuple[str, TextSpan, int]]]:
    """Lay out one printed line in cells, wrapping at the paper edge like the printer does."""
    rows: list[list[tuple[str, TextSpan, int]]] = [[]]
    x = 0
    for span in line.spans:
        for char in span.text:
            if not char.isprintable():
                char = "?"
            cell = (WIDE_CELL if _is_wide(char) else NARROW_CELL) * min(span.width, 8)
            if x + cell > PAPER_WIDTH_DOTS and rows[-1]:
                rows.append([])
                x = 0
            rows[-1].append((char, span, cell))
            x += cell
    return rows


def _x_for(align: Align, width: int) -> int:
    if align is Align.CENTER:
        return max(0, (PAPER_WIDTH_DOTS - width) // 2)
    if align is Align.RIGHT:
        return max(0, PAPER_WIDTH_DOTS - width)
    return 0


def _raster_image(block: RasterBlock) -> Image.Image:
    bits = np.unpackbits(np.frombuffer(block.data, dtype=np.uint8))
    pixels = np.where(bits.reshape(block.height, block.width_bytes * 8), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    if block.scale_x != 1 or block.scale_y != 1:
        size = (image.width * block.scale_x, image.height * block.scale_y)
        image = image.resize(size, Image.Resampling.NEAREST)
    return image.crop((0, 0, min(image.width, PAPER_WIDTH_DOTS), image.height))


def _qr_image(block: QrBlock) -> Image.Image:
    count = len(block.modules)
    module = max(1, min(block.module_size, PAPER_WIDTH_DOTS // max(count, 1)))
    pixels = np.where(np.array(block.modules, dtype=bool), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    return image.resize((count * module, count * module), Image.Resampling.NEAREST)


_FONTS: dict[Path, _Fonts] = {}


def render_page(page: Page, font_path: Path | None = None) -> Image.Image:
    """Draw a page as thermal paper: 576 dots wide, white, black print."""
    path = font_path or DEFAULT_FONT_PATH
    fonts = _FONTS.get(path) or _FONTS.setdefault(path, _Fonts(path))
    gap = DEFAULT_LINE_SPACING - CELL_HEIGHT
    margin = CELL_HEIGHT
    # Lay out first, so the paper is cut to length before drawing.
    rows: list[tuple[int, Align, list[tuple[str, TextSpan, int]], int]] = []
    images: list[tuple[int, Align, Image.Image]] = []
    y = margin
    for block in page.blocks:
        if y > MAX_PAGE_HEIGHT:
            break
        if isinstance(block, TextLine):
            for row in _text_rows(block):
                if y > MAX_PAGE_HEIGHT:
                    break
                height = max((min(span.height, 8) for _, span, _ in row), default=1)
                rows.append((y, block.align, row, height))
                y += CELL_HEIGHT * height + gap
        elif isinstance(block, QrBlock):
            image = _qr_image(block)
            quiet = 4 * max(1, block.module_size)  # ISO/IEC 18004 quiet zone
            images.append((y + quiet, block.align, image))
            y += image.height + 2 * quiet
        else:
            image = _raster_image(block)
            images.append((y, block.align, image))
            y += image.height
    paper = Image.new("L", (PAPER_WIDTH_DOTS, min(y, MAX_PAGE_HEIGHT) + margin), 255)
    for top, align, image in images:
        paper.paste(image, (_x_for(align, image.width), top))
    draw = ImageDraw.Draw(paper)
    for top, align, row, height in rows:
        x = _x_for(align, sum(cell for _, _, cell in row))
        for char, span, cell in row:
            _draw_char(paper, draw, fonts, char, span, x, top + CELL_HEIGHT * height, cell)
            x += cell
    return paper


@dataclass(frozen=True)
class _Glyph:
    """A character's ink as a mask, and where its top left lies from its cell's left and
    bottom on the paper."""

    mask: Image.Image | None   # None: a blank (a space)
    dx: int
    dy: int


def _draw_glyph(font: ImageFont.FreeTypeFont, char: str, height: int, width: int, bold: bool,
                cell: int) -> _Glyph:
    stroke = height if bold else 0
    tall = CELL_HEIGHT * height
    if width == height:   # on a canvas with room around the cell: ink may overhang it
        canvas = Image.new("L", (cell * 3, tall * 2), 255)
        ImageDraw.Draw(canvas).text((cell + cell // 2, tall + tall - 4 * height), char,
                                    font=font, fill=0, anchor="ms", stroke_width=stroke,
                                    stroke_fill=0)  # fmt: skip
        # The anchor's spot on the canvas is (x + cell // 2, bottom - 4 * height) on paper.
        left, top = -cell, -2 * tall
    else:  # drawn at the height's scale, then stretched sideways to the width's scale
        natural = cell * height // width
        canvas = Image.new("L", (natural, tall), 255)
        ImageDraw.Draw(canvas).text((natural // 2, tall - 4 * height), char, font=font, fill=0,
                                    anchor="ms", stroke_width=stroke, stroke_fill=0)
        canvas = canvas.resize((cell, tall), Image.Resampling.BILINEAR)
        left, top = 0, -tall   # the cell itself, standing on the baseline
    ink = ImageOps.invert(canvas)
    box = ink.getbbox()
    if box is None:
        return _Glyph(None, 0, 0)
    return _Glyph(ink.crop(box), left + box[0], top + box[1])


def _draw_char(
    paper: Image.Image,
    draw: ImageDraw.ImageDraw,
    fonts: _Fonts,
    char: str,
    span: TextSpan,
    x: int,
    bottom: int,
    cell: int,
) -> None:
    height = min(span.height, 8)
    glyph = fonts.glyph(char, span, cell)
    if glyph.mask is not None:   # black ink through the glyph's mask: neighbours stay
        paper.paste(0, (x + glyph.dx, bottom + glyph.dy), glyph.mask)
    if span.underline:
        draw.line((x, bottom - 1, x + cell - 1, bottom - 1), fill=0, width=max(1, height))
