"""What a receipt says and the ESC/POS bytes it becomes: the document, its lines, and composing
them (pure: no printer, no connection; drivers.receipt_printer sends the result in one write).
Non-ASCII lines go out in the printer's GB18030 code page or, for printers without a Chinese
font, as a raster bit image drawn here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

FS = b"\x1c"
GS = b"\x1d"
ENTER_CHINESE = FS + b"&"  # FS &: select Kanji (GB18030) character mode
LEAVE_CHINESE = FS + b"."  # FS .: cancel Kanji character mode
DEFAULT_CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PAPER_WIDTH_DOTS = 576


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class CjkMode(StrEnum):
    """How non-ASCII lines reach the paper: the printer's GB18030 code page, or as a bitmap."""

    CODE_PAGE = "code_page"
    RASTER = "raster"


@dataclass(frozen=True)
class ReceiptLine:
    """One printed line; text must not contain control characters (no ESC/POS injection)."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "align", Align(self.align))
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in self.text):
            raise ValueError("receipt line text must not contain control characters")


@dataclass(frozen=True)
class ReceiptDocument:
    """A receipt: lines, then an optional QR code with a caption under it."""

    lines: tuple[ReceiptLine, ...]
    qr: str | None = None
    qr_caption: str | None = None
    qr_module_size: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if self.qr_caption is not None:
            ReceiptLine(self.qr_caption)  # same validation as a line
        if not 1 <= self.qr_module_size <= 16:
            raise ValueError("qr_module_size must be 1..16 dots")


def compose(
    document: ReceiptDocument,
    cjk: CjkMode = CjkMode.CODE_PAGE,
    font_path: Path = DEFAULT_CJK_FONT,
) -> bytes:
    """The ESC/POS byte stream for `document`, ending in a cut."""
    out = Dummy()
    out.hw("INIT")
    for line in document.lines:
        _compose_line(out, line, cjk, font_path)
    if document.qr:
        out.set(align="center", bold=False, custom_size=True, width=1, height=1)
        # native=True sends GS ( k so the printer draws the symbol itself.
        out.qr(document.qr, ec=QR_ECLEVEL_M, size=document.qr_module_size, native=True)
        if document.qr_caption:
            _compose_line(out, ReceiptLine(document.qr_caption, Align.CENTER), cjk, font_path)
    out.cut()
    return bytes(out.output)


def _compose_line(out: Dummy, line: ReceiptLine, cjk: CjkMode, font_path: Path) -> None:
    size = 2 if line.double else 1
    out.set(align=line.align.value, bold=line.bold, custom_size=True, width=size, height=size)
    if line.text.isascii():
        out.text(line.text + "\n")
    elif cjk is CjkMode.RASTER:
        # Printers without a Chinese font get the line as a bitmap (GS v 0).
        out._raw(raster_line(line.text, size, line.bold, font_path))
    else:
        # GB18030 covers all of Unicode and keeps ASCII as single bytes, so the whole line
        # goes in Kanji mode.
        out._raw(ENTER_CHINESE + line.text.encode("gb18030") + LEAVE_CHINESE + b"\n")


def raster_line(text: str, scale: int = 1, bold: bool = False, font_path: Path = DEFAULT_CJK_FONT) -> bytes:  # fmt: skip
    """`GS v 0` raster bit image of one line of text, 24 dots high per scale step."""
    font = ImageFont.truetype(str(font_path), 22 * scale)
    height = 24 * scale + 6
    image = Image.new("L", (PAPER_WIDTH_DOTS, height), 255)
    draw = ImageDraw.Draw(image)
    draw.text((0, height - 5), text, font=font, fill=0, anchor="ls", stroke_width=int(bold))
    ink = np.asarray(image) < 128
    columns = np.flatnonzero(ink.any(axis=0))
    width = int(columns[-1]) + 1 if columns.size else 8
    width_bytes = (width + 7) // 8
    bits = np.zeros((height, width_bytes * 8), dtype=bool)
    bits[:, :width] = ink[:, :width]
    data = np.packbits(bits, axis=1).tobytes()  # row-major, MSB first, 1 = black
    header = GS + b"v0\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
    return header + data
