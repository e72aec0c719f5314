"""The ESC/POS interpreter: the receipt printer's firmware as a pure state machine.

`EscposInterpreter` is fed the raw bytes a host sends: it answers real-time status queries
(DLE EOT n, GS r n, GS I n) from the printer's sensors and builds a page model; each cut
finalises a `Page`. It knows no transport; `simulator.escpos_printer` serves it over TCP,
a serial pty and a simulated USB device.

Byte layouts follow the Epson ESC/POS Application Programming Guide (command reference).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import qrcode
import qrcode.constants

log = logging.getLogger(__name__)

# Protect the simulator from hostile or broken input; a real receipt is far below these.
MAX_LINE_CHARS = 1024
MAX_PAGE_BLOCKS = 4096
MAX_RASTER_BYTES = 2_000_000
MAX_QR_DATA = 7089  # GS ( k fn 80: largest QR payload (numeric, version 40)

NUL, HT, LF, FF, CR, DLE, EOT, ENQ, DC4, CAN, ESC, FS, GS = (
    0x00, 0x09, 0x0A, 0x0C, 0x0D, 0x10, 0x04, 0x05, 0x14, 0x18, 0x1B, 0x1C, 0x1D,
)  # fmt: skip

# Parameter byte counts of fixed-length commands, after the two command bytes.
_ESC_FIXED = {
    FF: 0, 0x20: 1, ord("!"): 1, ord("$"): 2, ord("%"): 1, ord("-"): 1, ord("2"): 0,
    ord("3"): 1, ord("<"): 0, ord("="): 1, ord("?"): 1, ord("@"): 0, ord("E"): 1,
    ord("G"): 1, ord("J"): 1, ord("L"): 0, ord("M"): 1, ord("R"): 1, ord("S"): 0,
    ord("T"): 1, ord("U"): 1, ord("V"): 1, ord("W"): 8, ord("\\"): 2, ord("a"): 1,
    ord("c"): 2, ord("d"): 1, ord("e"): 1, ord("i"): 0, ord("m"): 0, ord("p"): 3,
    ord("r"): 1, ord("t"): 1, ord("u"): 1, ord("v"): 0, ord("{"): 1,
}  # fmt: skip
_GS_FIXED = {
    ord("!"): 1, ord("$"): 2, ord("/"): 1, ord(":"): 0, ord("B"): 1, ord("E"): 1,
    ord("H"): 1, ord("I"): 1, ord("L"): 2, ord("P"): 2, ord("T"): 1, ord("W"): 2,
    ord("\\"): 2, ord("^"): 3, ord("a"): 1, ord("b"): 1, ord("c"): 0, ord("f"): 1,
    ord("g"): 4, ord("h"): 1, ord("r"): 1, ord("w"): 1, ord("z"): 3,
}  # fmt: skip
_FS_FIXED = {
    ord("!"): 1, ord("&"): 0, ord("-"): 1, ord("."): 0, ord("2"): 74, ord("?"): 2,
    ord("C"): 1, ord("S"): 2, ord("W"): 1, ord("p"): 2,
}  # fmt: skip
# DLE DC4 fn: total length including DLE DC4 fn.
_DLE_DC4_LENGTH = {1: 5, 2: 5, 3: 8, 7: 4, 8: 10}

# ESC t n: character code tables (page 0 is PC437); unknown pages fall back to it.
_CODE_PAGES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
    17: "cp866", 18: "cp852", 19: "cp858",
}  # fmt: skip

_QR_ERROR_LEVELS = {
    48: qrcode.constants.ERROR_CORRECT_L,
    49: qrcode.constants.ERROR_CORRECT_M,
    50: qrcode.constants.ERROR_CORRECT_Q,
    51: qrcode.constants.ERROR_CORRECT_H,
}
_TEXT_RUN = re.compile(rb"[\x20-\xff]+")


class Align(Enum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class PaperSensors:
    """What the printer's sensors see; status replies are derived from it."""

    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    cutter_error: bool = False

    @property
    def offline(self) -> bool:
        return self.paper_out or self.cover_open or self.cutter_error


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


@dataclass
class _Style:
    bold: bool = False
    width: int = 1
    height: int = 1
    underline: bool = False
    align: Align = Align.LEFT
    chinese: bool = False
    code_page: str = "cp437"
    qr_module_size: int = 3
    qr_error: int = qrcode.constants.ERROR_CORRECT_L
    qr_data: bytes = b""
    graphics: RasterBlock | None = None

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
        style = self._style
        if cmd in _ESC_FIXED:
            size = 2 + _ESC_FIXED[cmd]
            if avail < size:
                return 0
            n = buf[pos + 2] if size > 2 else 0
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
            return size
        if cmd == ord("*"):  # ESC * m nL nH d1..dk: column bit image (skipped, not drawn)
            if avail < 5:
                return 0
            columns = buf[pos + 3] + 256 * buf[pos + 4]
            size = 5 + columns * (3 if buf[pos + 2] in (32, 33) else 1)
            return size if avail >= size else 0
        if cmd == ord("D"):  # ESC D n1..nk NUL: tab stops, at most 32
            end = buf.find(b"\x00", pos + 2, pos + 2 + 33)
            if end >= 0:
                return end - pos + 1
            return 2 + 33 if avail >= 2 + 33 else 0
        if cmd == ord("&"):  # ESC & y c1 c2 [x d1..d(y*x)]...: user-defined characters
            if avail < 5:
                return 0
            y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
            size = 5
            for _ in range(max(0, c2 - c1 + 1)):
                if avail < size + 1:
                    return 0
                size += 1 + y * buf[pos + size]
            return size if avail >= size else 0
        if cmd == ord("("):  # ESC ( fn pL pH data
            return _length_prefixed(buf, pos, avail)
        return 2  # unknown ESC x: skip the two command bytes

    def _gs(self, buf: bytearray, pos: int, out: bytearray) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        style = self._style
        if cmd in _GS_FIXED:
            size = 2 + _GS_FIXED[cmd]
            if avail < size:
                return 0
            n = buf[pos + 2] if size > 2 else 0
            if cmd == ord("!"):  # character size: bits 4-6 width - 1, bits 0-2 height - 1
                style.width = ((n >> 4) & 0x07) + 1
                style.height = (n & 0x07) + 1
            elif cmd == ord("B"):
                pass  # white/black reverse: not drawn
            elif cmd == ord("r"):
                if n in (1, 49):
                    out.append(self._paper_sensor_status())
                elif n in (2, 50):
                    out.append(0x00)  # drawer kick connector low
            elif cmd == ord("I"):
                out += _printer_id_reply(n)
            return size
        if cmd == ord("V"):  # GS V m / GS V m n: cut
            if avail < 3:
                return 0
            size = 4 if buf[pos + 2] in (65, 66, 97, 98, 103, 104) else 3
            if avail < size:
                return 0
            self._cut()
            return size
        if cmd == ord("("):
            size = _length_prefixed(buf, pos, avail)
            if size and buf[pos + 2] == ord("k"):
                self._two_dimensional_code(bytes(buf[pos + 5 : pos + size]))
            elif size and buf[pos + 2] == ord("L"):
                self._graphics(bytes(buf[pos + 5 : pos + size]))
            return size
        if cmd == ord("8"):  # GS 8 L p1 p2 p3 p4 ...: 32-bit length graphics, discarded
            if avail < 7:
                return 0
            self._discard = int.from_bytes(buf[pos + 3 : pos + 7], "little")
            return 7
        if cmd == ord("v"):  # GS v 0 m xL xH yL yH d1..dk: raster bit image
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
                raster = RasterBlock(width_bytes, height, data, scale_x, scale_y, style.align)
                self._add_block(raster)
            return 8 + count
        if cmd == ord("*"):  # GS * x y d1..d(x*y*8): downloaded bit image
            if avail < 4:
                return 0
            size = 4 + buf[pos + 2] * buf[pos + 3] * 8
            return size if avail >= size else 0
        if cmd == ord("k"):  # barcodes (skipped, not drawn)
            if avail < 3:
                return 0
            kind = buf[pos + 2]
            if kind <= 6:  # GS k m d1..dk NUL
                end = buf.find(b"\x00", pos + 3, pos + 3 + 256)
                if end >= 0:
                    return end - pos + 1
                return 3 + 256 if avail >= 3 + 256 else 0
            if 65 <= kind <= 79:  # GS k m n d1..dn
                if avail < 4:
                    return 0
                size = 4 + buf[pos + 3]
                return size if avail >= size else 0
            return 3
        return 2

    def _fs(self, buf: bytearray, pos: int) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        if cmd in _FS_FIXED:
            size = 2 + _FS_FIXED[cmd]
            if avail < size:
                return 0
            if cmd == ord("&"):
                self._style.chinese = True
            elif cmd == ord("."):
                self._style.chinese = False
            return size
        if cmd == ord("("):
            return _length_prefixed(buf, pos, avail)
        if cmd == ord("g"):  # FS g 1|2 m a1..a4 nL nH [d1..dk]: NV user memory
            if avail < 3:
                return 0
            if buf[pos + 2] not in (1, 2):
                return 3
            if avail < 10:
                return 0
            size = 10 + (buf[pos + 8] + 256 * buf[pos + 9] if buf[pos + 2] == 1 else 0)
            return size if avail >= size else 0
        return 2

    def _dle(self, buf: bytearray, pos: int, out: bytearray) -> int:
        avail = len(buf) - pos
        if avail < 2:
            return 0
        cmd = buf[pos + 1]
        if cmd == EOT:  # DLE EOT n: real-time status transmission
            if avail < 3:
                return 0
            n = buf[pos + 2]
            if n in (7, 8, 18):  # DLE EOT n a
                return 4 if avail >= 4 else 0
            if 1 <= n <= 4:
                out.append(self._realtime_status(n))
            return 3
        if cmd == ENQ:
            return 3 if avail >= 3 else 0
        if cmd == DC4:
            if avail < 3:
                return 0
            size = _DLE_DC4_LENGTH.get(buf[pos + 2], 3)
            return size if avail >= size else 0
        return 1

    # -- status -----------------------------------------------------------------------------

    def _realtime_status(self, n: int) -> int:
        """DLE EOT n reply: bits 1 and 4 are fixed to 1, bits 0 and 7 to 0."""
        sensors = self._sensors()
        status = 0x12
        if n == 1 and sensors.offline:
            status |= 0x08  # bit 3: offline
        elif n == 2:
            if sensors.cover_open:
                status |= 0x04  # bit 2: cover open
            if sensors.paper_out:
                status |= 0x20  # bit 5: printing stopped by paper end
            if sensors.cutter_error:
                status |= 0x40  # bit 6: error occurred
        elif n == 3:
            if sensors.cutter_error:
                status |= 0x08  # bit 3: autocutter error
        elif n == 4:
            if sensors.paper_near_end:
                status |= 0x0C  # bits 2-3: roll paper near-end sensor
            if sensors.paper_out:
                status |= 0x60  # bits 5-6: roll paper end sensor
        return status

    def _paper_sensor_status(self) -> int:
        """GS r 1 reply: bits 0-1 near end, bits 2-3 paper end, bit 4 fixed 0."""
        sensors = self._sensors()
        return (0x03 if sensors.paper_near_end else 0) | (0x0C if sensors.paper_out else 0)

    # -- two-dimensional codes and graphics -------------------------------------------------

    def _two_dimensional_code(self, body: bytes) -> None:
        """GS ( k pL pH cn fn [parameters]; only cn = 49 (QR Code) is acted on."""
        if len(body) < 2 or body[0] != 49:
            return
        fn, params, style = body[1], body[2:], self._style
        if fn == 67 and params:  # fn 167: module size in dots
            if 1 <= params[0] <= 16:
                style.qr_module_size = params[0]
        elif fn == 69 and params:  # fn 169: error correction level
            style.qr_error = _QR_ERROR_LEVELS.get(params[0], style.qr_error)
        elif fn == 80 and params:  # fn 180: store data (m = 48)
            style.qr_data = params[1 : 1 + MAX_QR_DATA]
        elif fn == 81:  # fn 181: print the stored symbol
            self._print_qr()

    def _print_qr(self) -> None:
        style = self._style
        if not style.qr_data:
            return
        code = qrcode.QRCode(error_correction=style.qr_error, border=0)
        try:
            code.add_data(style.qr_data)
            code.make(fit=True)
        except (qrcode.exceptions.DataOverflowError, ValueError):
            log.debug("QR data does not fit a symbol; nothing printed")
            return
        if self._spans:
            self._end_line()
        modules = tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())
        payload = style.qr_data.decode("utf-8", errors="replace")
        self._add_block(QrBlock(payload, modules, style.qr_module_size, style.align))

    def _graphics(self, body: bytes) -> None:
        """GS ( L m fn ...: fn 112 stores raster graphics, fn 50 prints them."""
        if len(body) < 2 or body[0] != 48:
            return
        fn = body[1]
        if fn == 112 and len(body) >= 10:
            scale_x, scale_y = body[3], body[4]
            width = body[6] + 256 * body[7]
            height = body[8] + 256 * body[9]
            width_bytes = (width + 7) // 8
            data = body[10 : 10 + width_bytes * height]
            if width_bytes and height and len(data) == width_bytes * height:
                self._style.graphics = RasterBlock(
                    width_bytes, height, data,
                    2 if scale_x == 2 else 1, 2 if scale_y == 2 else 1, Align.LEFT,
                )  # fmt: skip
        elif fn in (50, 2) and self._style.graphics is not None:
            if self._spans:
                self._end_line()
            graphics = self._style.graphics
            self._add_block(
                RasterBlock(
                    graphics.width_bytes,
                    graphics.height,
                    graphics.data,
                    graphics.scale_x,
                    graphics.scale_y,
                    self._style.align,
                )  # fmt: skip
            )
            self._style.graphics = None


def _style_key(span: TextSpan) -> tuple[bool, int, int, bool]:
    return (span.bold, span.width, span.height, span.underline)


def _length_prefixed(buf: bytearray, pos: int, avail: int) -> int:
    """Size of an `X ( fn pL pH d1..dk` command (k = pL + 256 pH), or 0 when incomplete."""
    if avail < 5:
        return 0
    size = 5 + buf[pos + 3] + 256 * buf[pos + 4]
    return size if avail >= size else 0


def _printer_id_reply(n: int) -> bytes:
    """GS I n: 1 model, 2 type (multi-byte font), 3 firmware; 65+ as `_ text NUL` blocks."""
    if n in (1, 49):
        return b"\x20"
    if n in (2, 50):
        return b"\x02"
    if n in (3, 51):
        return b"\x00"
    texts = {65: b"1.00", 66: b"KIOSK-SIM", 67: b"ESC/POS Simulator", 68: b"0000000000"}
    if n in texts:
        return b"_" + texts[n] + b"\x00"
    return b""
