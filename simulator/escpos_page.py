"""What a simulated receipt printer has printed: pages of text lines, QR codes and raster
images, as the ESC/POS interpreter builds them and the renderer draws them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Align(Enum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class TextSpan:
    text: str
    bold: bool = False
    width: int = 1
    height: int = 1
    underline: bool = False


@dataclass(frozen=True)
class TextLine:
    spans: tuple[TextSpan, ...]
    align: Align = Align.LEFT

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True)
class QrBlock:
    payload: str
    modules: tuple[tuple[bool, ...], ...]
    module_size: int
    align: Align


@dataclass(frozen=True)
class RasterBlock:
    width_bytes: int
    height: int
    data: bytes  # row-major, MSB first, 1 = black (ESC/POS raster format)
    scale_x: int
    scale_y: int
    align: Align


Block = TextLine | QrBlock | RasterBlock


@dataclass(frozen=True)
class Page:
    """One receipt between two cuts."""

    blocks: tuple[Block, ...]

    @property
    def text_lines(self) -> list[str]:
        lines = [block.text for block in self.blocks if isinstance(block, TextLine)]
        while lines and not lines[-1].strip():
            lines.pop()  # the feed before the cut
        return lines

    @property
    def qr_payloads(self) -> tuple[str, ...]:
        return tuple(block.payload for block in self.blocks if isinstance(block, QrBlock))
