"""The ESC/POS interpreter: the receipt printer's firmware as a pure state machine.

`EscposInterpreter` is fed the raw bytes a host sends: it answers real-time status queries
(DLE EOT n, GS r n, GS I n) from the printer's sensors (simulator.escpos_status) and builds a
page model (simulator.escpos_page); each cut finalises a `Page`. How many bytes each command
takes is simulator.escpos_framing's; this module gives the commands it knows their meaning. It
knows no transport; `simulator.escpos_printer` serves it over TCP, a serial pty and a
simulated USB device.

Byte layouts follow the Epson ESC/POS Application Programming Guide (command reference).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator import escpos_framing as framing
from simulator.escpos_framing import DLE, EOT, ESC, FF, FS, GS, HT, LF
from simulator.escpos_page import Align, Block, Page, RasterBlock, TextLine, TextSpan
from simulator.escpos_status import (
    PaperSensors,
    paper_sensor_status,
    printer_id_reply,
    realtime_status,
)
from simulator.escpos_symbols import StoredSymbols

log = logging.getLogger(__name__)

# Protect the simulator from hostile or broken input; a real receipt is far below these.
MAX_LINE_CHARS = 1024
MAX_PAGE_BLOCKS = 4096
MAX_RASTER_BYTES = 2_000_000

# ESC t n: character code tables (page 0 is PC437); unknown pages fall back to it.
_CODE_PAGES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
    17: "cp866", 18: "cp852", 19: "cp858",
}  # fmt: skip

_TEXT_RUN = re.compile(rb"[\x20-\xff]+")


@dataclass
class _Style:
    bold: bool = False
    width: int = 1
    height: int = 1
    underline: bool = False
    align: Align = Align.LEFT
    chinese: bool = False
    code_page: str = "cp437"
    symbols: StoredSymbols = field(default_factory=StoredSymbols)

    def span(self, text: str) -> TextSpan:
        return TextSpan(text, self.bold, self.width, self.height, self.underline)


class EscposInterpreter:
    """Feed it the bytes a host sends; it keeps the page model and returns status replies.

    Never raises on any input and consumes every byte in bounded time: unknown commands are
    skipped, oversized data blocks are discarded as they stream past.
    """

    def __init__(self, sensors: Callable[[], PaperSensors] | None = None) -> None:
        self._sensors = sensors or PaperSensors
        self._buffer = bytearray()
        self._discard = 0
        self._text = bytearray()
        self._style = _Style()
        self._blocks: list[Block] = []
        self._spans: list[TextSpan] = []
        self._line_align: Align | None = None
        self._pages: list[Page] = []

    # -- public -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Consume `data`; return the bytes the printer sends back (status replies)."""
        replies = bytearray()
        buf = self._buffer
        buf += data
        pos = 0
        while pos < len(buf):
            if self._discard:
                skipped = min(self._discard, len(buf) - pos)
                self._discard -= skipped
                pos += skipped
                continue
            if buf[pos] >= 0x20:
                match = _TEXT_RUN.match(buf, pos)
                assert match is not None
                self._text += match.group()
                pos = match.end()
                continue
            self._flush_text()
            try:
                used = self._control(buf, pos, replies)
            except Exception:  # a bug here must not take the printer down; skip the byte
                log.exception("escpos interpreter failed on byte 0x%02x", buf[pos])
                used = 1
            if used == 0:
                break  # incomplete command: wait for more bytes
            pos += used
        del buf[:pos]
        return bytes(replies)

    def take_pages(self) -> list[Page]:
        """Pages finished by a cut since the last call."""
        pages, self._pages = self._pages, []
        return pages

    # -- text and page model ----------------------------------------------------------------

    def _flush_text(self) -> None:
        if not self._text:
            return
        raw = bytes(self._text)
        self._text.clear()
        encoding = "gb18030" if self._style.chinese else self._style.code_page
        self._add_text(raw.decode(encoding, errors="replace"))

    def _add_text(self, text: str) -> None:
        used = sum(len(span.text) for span in self._spans)
        text = text[: max(0, MAX_LINE_CHARS - used)]
        if not text:
            return
        if self._line_align is None:
            self._line_align = self._style.align  # ESC a acts at the start of a line
        span = self._style.span(text)
        last = self._spans[-1] if self._spans else None
        if last is not None and _style_key(last) == _style_key(span):
            self._spans[-1] = TextSpan(last.text + text, *_style_key(span))
        else:
            self._spans.append(span)

    def _end_line(self) -> None:
        align = self._line_align if self._line_align is not None else self._style.align
        self._add_block(TextLine(tuple(self._spans), align))
        self._spans = []
        self._line_align = None

    def _feed_lines(self, count: int) -> None:
        """ESC d n: print the buffer, then feed n lines in all."""
        if self._spans:
            self._end_line()
            count -= 1
        for _ in range(max(0, count)):
            self._end_line()

    def _add_block(self, block: Block) -> None:
        if len(self._blocks) < MAX_PAGE_BLOCKS:
            self._blocks.append(block)

    def _cut(self) -> None:
        if self._spans:
            self._end_line()
        self._pages.append(Page(tuple(self._blocks)))
        self._blocks = []

    def _initialise(self) -> None:
        """ESC @: clear the print buffer and reset modes; printed lines stay on the paper."""
        self._spans = []
        self._line_align = None
        self._style = _Style()

    # -- command decoding -------------------------------------------------------------------

    def _control(self, buf: bytearray, pos: int, out: bytearray) -> int:
        """Execute the control sequence at `pos`; return bytes used, or 0 when incomplete."""
        byte = buf[pos]
        if byte == LF:
            self._end_line()
            return 1
        if byte == HT:
            used = sum(len(span.text) for span in self._spans)
            self._add_text(" " * (8 - used % 8))
            return 1
        if byte == FF:
            if self._spans:
                self._end_line()
            return 1
        if byte == ESC:
            return self._esc(buf, pos)
        if byte == GS:
            return self._gs(buf, pos, out)
        if byte == FS:
            return self._fs(buf, pos)
        if byte == DLE:
            return self._dle(buf, pos, out)
        return 1  # CR, CAN and other C0 bytes: nothing to do on a roll printer

    def _esc(self, buf: bytearray, pos: int) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        if cmd in framing.ESC_FIXED:
            size = 2 + framing.ESC_FIXED[cmd]
            if avail < size:
                return 0
            self._esc_mode(cmd, buf[pos + 2] if size > 2 else 0)
            return size
        skipped = {
            ord("*"): framing.esc_bit_image,  # column bit image: skipped, not drawn
            ord("D"): framing.esc_tab_stops,
            ord("&"): framing.esc_user_characters,
            ord("("): framing.length_prefixed,
        }.get(cmd)
        return skipped(buf, pos, avail) if skipped else 2  # unknown ESC x: skip its two bytes

    def _esc_mode(self, cmd: int, n: int) -> None:
        """ESC x n of fixed length: print modes, alignment, feeds, code page, old cuts."""
        style = self._style
        if cmd == ord("@"):
            self._initialise()
        elif cmd == ord("!"):  # print mode: bit3 emphasised, bit4 2x high, bit5 2x wide
            style.bold = bool(n & 0x08)
            style.height = 2 if n & 0x10 else 1
            style.width = 2 if n & 0x20 else 1
            style.underline = bool(n & 0x80)
        elif cmd == ord("E"):
            style.bold = bool(n & 0x01)
        elif cmd == ord("-"):
            style.underline = n in (1, 2, 49, 50)
        elif cmd == ord("a"):
            if n in (0, 1, 2, 48, 49, 50):
                style.align = Align(n % 48)
        elif cmd == ord("d"):
            self._feed_lines(n)
        elif cmd == ord("J"):
            if self._spans:
                self._end_line()
        elif cmd == ord("t"):
            style.code_page = _CODE_PAGES.get(n, "cp437")
        elif cmd in (ord("i"), ord("m")):  # obsolete cut commands
            self._cut()

    def _gs(self, buf: bytearray, pos: int, out: bytearray) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        if cmd in framing.GS_FIXED:
            size = 2 + framing.GS_FIXED[cmd]
            if avail < size:
                return 0
            self._gs_fixed(cmd, buf[pos + 2] if size > 2 else 0, out)
            return size
        if cmd == ord("V"):
            size = framing.gs_cut(buf, pos, avail)
            if size:
                self._cut()
            return size
        if cmd == ord("("):
            size = framing.length_prefixed(buf, pos, avail)
            if size and buf[pos + 2] == ord("k"):
                body = bytes(buf[pos + 5 : pos + size])
                self._print_block(self._style.symbols.two_dimensional_code(body, self._style.align))
            elif size and buf[pos + 2] == ord("L"):
                body = bytes(buf[pos + 5 : pos + size])
                self._print_block(self._style.symbols.graphics_function(body, self._style.align))
            return size
        if cmd == ord("8"):  # GS 8 L p1 p2 p3 p4 ...: 32-bit length graphics, discarded
            if avail < 7:
                return 0
            self._discard = int.from_bytes(buf[pos + 3 : pos + 7], "little")
            return 7
        if cmd == ord("v"):
            return self._raster_bit_image(buf, pos, avail)
        if cmd == ord("*"):
            return framing.gs_downloaded_bit_image(buf, pos, avail)
        if cmd == ord("k"):  # barcodes: skipped, not drawn
            return framing.gs_barcode(buf, pos, avail)
        return 2

    def _gs_fixed(self, cmd: int, n: int, out: bytearray) -> None:
        """GS x n of fixed length: character size, and the status and id queries."""
        if cmd == ord("!"):  # character size: bits 4-6 width - 1, bits 0-2 height - 1
            self._style.width = ((n >> 4) & 0x07) + 1
            self._style.height = (n & 0x07) + 1
        elif cmd == ord("r"):
            if n in (1, 49):
                out.append(paper_sensor_status(self._sensors()))
            elif n in (2, 50):
                out.append(0x00)  # drawer kick connector low
        elif cmd == ord("I"):
            out += printer_id_reply(n)
        # GS B (white/black reverse) and the rest: not drawn

    def _raster_bit_image(self, buf: bytearray, pos: int, avail: int) -> int:
        """GS v 0 m xL xH yL yH d1..dk: raster bit image."""
        if avail < 8:
            return 0
        mode = buf[pos + 3]
        width_bytes = buf[pos + 4] + 256 * buf[pos + 5]
        height = buf[pos + 6] + 256 * buf[pos + 7]
        count = width_bytes * height
        if count > MAX_RASTER_BYTES:
            self._discard = count
            return 8
        if avail < 8 + count:
            return 0
        if count:
            if self._spans:
                self._end_line()
            scale_x = 2 if mode in (1, 3, 49, 51) else 1
            scale_y = 2 if mode in (2, 3, 50, 51) else 1
            data = bytes(buf[pos + 8 : pos + 8 + count])
            raster = RasterBlock(width_bytes, height, data, scale_x, scale_y, self._style.align)
            self._add_block(raster)
        return 8 + count

    def _fs(self, buf: bytearray, pos: int) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        if cmd in framing.FS_FIXED:
            size = 2 + framing.FS_FIXED[cmd]
            if avail < size:
                return 0
            if cmd == ord("&"):
                self._style.chinese = True
            elif cmd == ord("."):
                self._style.chinese = False
            return size
        if cmd == ord("("):
            return framing.length_prefixed(buf, pos, avail)
        if cmd == ord("g"):
            return framing.fs_nv_memory(buf, pos, avail)
        return 2

    def _dle(self, buf: bytearray, pos: int, out: bytearray) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        size = framing.dle(buf, pos, avail)
        # DLE EOT n (1..4): real-time status transmission, answered at once.
        if size == 3 and buf[pos + 1] == EOT and 1 <= buf[pos + 2] <= 4:
            out.append(realtime_status(self._sensors(), buf[pos + 2]))
        return size

    def _print_block(self, block: Block | None) -> None:
        """A stored symbol printed: on a line of its own."""
        if block is None:
            return
        if self._spans:
            self._end_line()
        self._add_block(block)


def _style_key(span: TextSpan) -> tuple[bool, int, int, bool]:
    return (span.bold, span.width, span.height, span.underline)
