"""Receipt printer driver: ESC/POS with python-escpos over TCP (port 9100), serial or USB.

Documents are composed into one ESC/POS byte stream and sent in a single write, so a dropped
connection cannot leave half a command behind. Status comes from the real-time `DLE EOT n`
queries (n = 1 printer, 2 offline cause, 3 error cause, 4 paper sensor), answered at once on
the same channel (Epson ESC/POS reference, DLE EOT); `GS r 1` is decoded too for printers
that only answer that. `ReceiptPrinter` knows the protocol; each subclass only opens its
python-escpos connector (`EscposReceiptPrinter` TCP, `SerialReceiptPrinter` serial, and
`drivers.escpos_usb.UsbReceiptPrinter` USB). All calls block; the peripheral layer runs them
in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from types import TracebackType

import numpy as np
from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, Network
from PIL import Image, ImageDraw, ImageFont

from drivers.serial_link import ESCPOS_SERIAL, SerialLink, SerialLinkError

log = logging.getLogger(__name__)

FS = b"\x1c"
GS = b"\x1d"
ENTER_CHINESE = FS + b"&"  # FS &: select Kanji (GB18030) character mode
LEAVE_CHINESE = FS + b"."  # FS .: cancel Kanji character mode
DLE_EOT = b"\x10\x04"
DEFAULT_CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PAPER_WIDTH_DOTS = 576

# DLE EOT replies: bits 1 and 4 are fixed to 1, bits 0 and 7 to 0.
_STATUS_FIXED_MASK = 0x93
_STATUS_FIXED_VALUE = 0x12
_OFFLINE = 0x08  # n=1, bit 3
_COVER_OPEN = 0x04  # n=2, bit 2
_AUTOCUTTER_ERROR = 0x08  # n=3, bit 3
_UNRECOVERABLE_ERROR = 0x20  # n=3, bit 5
_PAPER_NEAR_END = 0x0C  # n=4, bits 2-3
_PAPER_OUT = 0x60  # n=4, bits 5-6
# GS r 1 reply: bits 0-1 near end, bits 2-3 paper end, bit 4 and bit 7 fixed 0.
_GS_R_FIXED_MASK = 0x90


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class CjkMode(StrEnum):
    """How non-ASCII lines reach the paper: the printer's GB18030 code page, or as a bitmap."""

    CODE_PAGE = "code_page"
    RASTER = "raster"


class PrinterFailure(Enum):
    OFFLINE = "offline"
    NO_REPLY = "no_reply"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    CUTTER_ERROR = "cutter_error"
    IO_ERROR = "io_error"


class PrinterError(Exception):
    """A receipt could not be printed or the printer not queried; `reason` says why."""

    def __init__(self, reason: PrinterFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PrinterOffline(PrinterError):
    """No connection to the printer, it dropped, or the printer stopped answering."""

    def __init__(self, message: str) -> None:
        super().__init__(PrinterFailure.OFFLINE, message)


class PrinterSilent(PrinterOffline):
    """Connected, but the printer did not answer a status query in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reason = PrinterFailure.NO_REPLY


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_out: bool
    cutter_error: bool = False


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


# -- status decoding (pure; fuzzed) -----------------------------------------------------------


def decode_realtime_status(n: int, reply: bytes) -> int:
    """The status byte of a `DLE EOT n` reply; PrinterError(IO_ERROR) unless it is one valid byte."""
    if len(reply) != 1 or reply[0] & _STATUS_FIXED_MASK != _STATUS_FIXED_VALUE:
        raise PrinterError(
            PrinterFailure.IO_ERROR, f"unexpected status reply {reply[:16].hex()} to DLE EOT {n}"
        )
    return reply[0]


def decode_status(replies: dict[int, bytes]) -> PrinterStatus:
    """A `PrinterStatus` from the replies to DLE EOT 1, 2, 3 and 4 (each must be present)."""
    printer = decode_realtime_status(1, replies.get(1, b""))
    offline_cause = decode_realtime_status(2, replies.get(2, b""))
    error_cause = decode_realtime_status(3, replies.get(3, b""))
    paper = decode_realtime_status(4, replies.get(4, b""))
    return PrinterStatus(
        online=not printer & _OFFLINE,
        cover_open=bool(offline_cause & _COVER_OPEN),
        paper_near_end=paper & _PAPER_NEAR_END == _PAPER_NEAR_END,
        paper_out=paper & _PAPER_OUT == _PAPER_OUT,
        cutter_error=bool(error_cause & (_AUTOCUTTER_ERROR | _UNRECOVERABLE_ERROR)),
    )


def decode_paper_sensor(reply: bytes) -> tuple[bool, bool]:
    """(near_end, paper_out) from a `GS r 1` reply."""
    if len(reply) != 1 or reply[0] & _GS_R_FIXED_MASK:
        raise PrinterError(
            PrinterFailure.IO_ERROR, f"unexpected reply {reply[:16].hex()} to GS r 1"
        )
    return bool(reply[0] & 0x03), bool(reply[0] & 0x0C)


# -- composing --------------------------------------------------------------------------------


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


# -- the printer ------------------------------------------------------------------------------


class ReceiptPrinter:
    """An ESC/POS receipt printer on some transport; connects on first use and after a drop."""

    #: On serial links an empty read means the time-out ran out; on TCP it means hang-up.
    empty_reply_is_timeout = False

    def __init__(self, address: str, timeout: float = 5.0, cjk: CjkMode = CjkMode.CODE_PAGE):
        self.address = address
        self.timeout = timeout
        self.cjk = cjk
        self._printer: Escpos | None = None

    def _open_connector(self) -> Escpos:
        """A connected python-escpos printer; raises DeviceNotFoundError when unreachable."""
        raise NotImplementedError

    def _is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, TimeoutError)

    @property
    def connected(self) -> bool:
        return self._printer is not None

    def connect(self) -> None:
        if self._printer is not None:
            return
        try:
            self._printer = self._open_connector()
        except (DeviceNotFoundError, OSError) as error:
            log.warning("receipt printer unreachable", extra={"device": self.address})
            raise PrinterOffline(f"cannot connect to printer at {self.address}") from error

    def close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                printer.close()
            except Exception:  # noqa: BLE001 - a dead transport may fail any way on close
                log.debug("error closing printer", extra={"device": self.address})

    def __enter__(self) -> ReceiptPrinter:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1, 2, 3, 4) for its state."""
        try:
            return decode_status({n: self._query(DLE_EOT + bytes([n])) for n in (1, 2, 3, 4)})
        except PrinterError as error:
            if error.reason is PrinterFailure.IO_ERROR:
                self._drop("garbled status")  # what follows on the wire is not to be trusted
            raise

    def paper_sensor(self) -> tuple[bool, bool]:
        """(near_end, paper_out) from `GS r 1`."""
        try:
            return decode_paper_sensor(self._query(GS + b"r\x01"))
        except PrinterError as error:
            if error.reason is PrinterFailure.IO_ERROR:
                self._drop("garbled paper sensor reply")
            raise

    def print_document(self, document: ReceiptDocument) -> None:
        """Print and cut one receipt; refuses when the printer could not print it all."""
        state = self.status()
        if state.cover_open:
            raise PrinterError(PrinterFailure.COVER_OPEN, "printer cover is open")
        if state.paper_out:
            raise PrinterError(PrinterFailure.PAPER_OUT, "printer is out of paper")
        if state.cutter_error:
            raise PrinterError(PrinterFailure.CUTTER_ERROR, "printer cutter is jammed")
        if not state.online:
            raise PrinterOffline("printer reports offline")
        self._send(compose(document, self.cjk))

    # -- transport ------------------------------------------------------------------------

    def _connected_printer(self) -> Escpos:
        self.connect()
        assert self._printer is not None
        return self._printer

    def _send(self, data: bytes) -> None:
        printer = self._connected_printer()
        try:
            printer._raw(data)
        except OSError as error:
            self._drop("send failed")
            raise PrinterOffline(f"connection to printer at {self.address} lost") from error

    def _query(self, command: bytes) -> bytes:
        """One real-time query round trip; the reply is expected to be a single byte."""
        printer = self._connected_printer()
        try:
            reply = bytes(printer.query_status(command))
        except OSError as error:
            # A late answer would be read as the reply to the next query: start afresh.
            if self._is_timeout(error):
                self._drop("status timeout")
                raise PrinterSilent(f"printer at {self.address} does not answer") from error
            self._drop("status failed")
            raise PrinterOffline(f"connection to printer at {self.address} lost") from error
        if not reply:
            self._drop("no reply")
            if self.empty_reply_is_timeout:
                raise PrinterSilent(f"printer at {self.address} does not answer")
            raise PrinterOffline(f"printer at {self.address} closed the connection")
        return reply

    def _drop(self, why: str) -> None:
        log.warning("receipt printer connection dropped: %s", why, extra={"device": self.address})
        self.close()


class EscposReceiptPrinter(ReceiptPrinter):
    """A network ESC/POS receipt printer (raw TCP, port 9100)."""

    def __init__(
        self, host: str, port: int = 9100, timeout: float = 5.0, cjk: CjkMode = CjkMode.CODE_PAGE
    ) -> None:
        super().__init__(f"{host}:{port}", timeout, cjk)
        self.host = host
        self.port = port

    def _open_connector(self) -> Escpos:
        printer = Network(self.host, self.port, timeout=self.timeout)
        printer.open()
        return printer


class _SerialLinkConnector(Escpos):  # type: ignore[misc]  # python-escpos ships no types
    """python-escpos's protocol over our serial link. Its own Serial connector reads 16 bytes,
    which waits out the whole time-out for a one-byte status reply; the link returns what has
    arrived once the first byte is in. Link failures come out as OSError, as from a socket."""

    def __init__(self, link: SerialLink, timeout: float) -> None:
        super().__init__()
        self.link = link
        self.timeout = timeout

    def open(self) -> None:
        try:
            self.link.open()
        except SerialLinkError as error:
            raise DeviceNotFoundError(f"serial printer {self.link.port} not found") from error

    def _raw(self, msg: bytes) -> None:
        try:
            self.link.write(bytes(msg))
        except SerialLinkError as error:
            raise OSError(str(error)) from error

    def _read(self) -> bytes:
        try:
            return self.link.read(16, self.timeout)
        except SerialLinkError as error:
            raise OSError(str(error)) from error

    def close(self) -> None:
        self.link.close()


class SerialReceiptPrinter(ReceiptPrinter):
    """An ESC/POS receipt printer on a serial port (RS-232 or USB-CDC)."""

    empty_reply_is_timeout = True

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        timeout: float = 2.0,
        cjk: CjkMode = CjkMode.CODE_PAGE,
    ) -> None:
        super().__init__(port, timeout, cjk)
        self.port = port
        self.baudrate = baudrate

    def _open_connector(self) -> Escpos:
        printer = _SerialLinkConnector(SerialLink(self.port, ESCPOS_SERIAL, self.baudrate),
                                       self.timeout)
        printer.open()
        return printer
