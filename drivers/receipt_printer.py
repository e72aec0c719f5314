"""Receipt printer driver: ESC/POS over TCP (port 9100) with python-escpos.

Documents are composed into one ESC/POS byte stream and sent in a single write, so a dropped
connection cannot leave half a command behind. Status comes from the real-time `DLE EOT n`
queries, answered at once on the same socket (Epson ESC/POS reference, DLE EOT).
All calls block; the peripheral layer runs them in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import TracebackType

from escpos.constants import QR_ECLEVEL_M
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, Network

log = logging.getLogger(__name__)

FS = b"\x1c"
ENTER_CHINESE = FS + b"&"  # FS &: select Kanji (GB18030) character mode
LEAVE_CHINESE = FS + b"."  # FS .: cancel Kanji character mode
DLE_EOT = b"\x10\x04"

# DLE EOT replies: bits 1 and 4 are fixed to 1, bits 0 and 7 to 0.
_STATUS_FIXED_MASK = 0x93
_STATUS_FIXED_VALUE = 0x12
_OFFLINE = 0x08  # n=1, bit 3
_COVER_OPEN = 0x04  # n=2, bit 2
_PAPER_NEAR_END = 0x0C  # n=4, bits 2-3
_PAPER_OUT = 0x60  # n=4, bits 5-6


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class PrinterFailure(Enum):
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    IO_ERROR = "io_error"


class PrinterError(Exception):
    """A receipt could not be printed or the printer not queried; `reason` says why."""

    def __init__(self, reason: PrinterFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PrinterOffline(PrinterError):
    """No TCP connection to the printer, it dropped, or the printer stopped answering."""

    def __init__(self, message: str) -> None:
        super().__init__(PrinterFailure.OFFLINE, message)


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_out: bool


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


def compose(document: ReceiptDocument) -> bytes:
    """The ESC/POS byte stream for `document`, ending in a cut."""
    out = Dummy()
    out.hw("INIT")
    for line in document.lines:
        _compose_line(out, line)
    if document.qr:
        out.set(align="center", bold=False, custom_size=True, width=1, height=1)
        # native=True sends GS ( k so the printer draws the symbol itself.
        out.qr(document.qr, ec=QR_ECLEVEL_M, size=document.qr_module_size, native=True)
        if document.qr_caption:
            _compose_line(out, ReceiptLine(document.qr_caption, Align.CENTER))
    out.cut()
    return bytes(out.output)


def _compose_line(out: Dummy, line: ReceiptLine) -> None:
    size = 2 if line.double else 1
    out.set(align=line.align.value, bold=line.bold, custom_size=True, width=size, height=size)
    if line.text.isascii():
        out.text(line.text + "\n")
    else:
        # GB18030 covers all of Unicode and keeps ASCII as single bytes, so the whole line
        # goes in Kanji mode.
        out._raw(ENTER_CHINESE + line.text.encode("gb18030") + LEAVE_CHINESE + b"\n")


class EscposReceiptPrinter:
    """A network ESC/POS receipt printer. Connects on first use and after a drop."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._printer: Network | None = None

    @property
    def connected(self) -> bool:
        return self._printer is not None

    def connect(self) -> None:
        if self._printer is not None:
            return
        printer = Network(self.host, self.port, timeout=self.timeout)
        try:
            printer.open()
        except DeviceNotFoundError as error:
            log.warning("receipt printer unreachable", extra={"device": self._address})
            raise PrinterOffline(f"cannot connect to printer at {self._address}") from error
        self._printer = printer

    def close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                printer.close()
            except OSError:
                log.debug("error closing printer socket", extra={"device": self._address})

    def __enter__(self) -> EscposReceiptPrinter:
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
        """Ask the printer (DLE EOT 1, 2, 4) for its state."""
        printer_status = self._query(1)
        offline_cause = self._query(2)
        paper_sensor = self._query(4)
        return PrinterStatus(
            online=not printer_status & _OFFLINE,
            cover_open=bool(offline_cause & _COVER_OPEN),
            paper_near_end=paper_sensor & _PAPER_NEAR_END == _PAPER_NEAR_END,
            paper_out=paper_sensor & _PAPER_OUT == _PAPER_OUT,
        )

    def print_document(self, document: ReceiptDocument) -> None:
        """Print and cut one receipt; refuses when the printer could not print it all."""
        state = self.status()
        if state.cover_open:
            raise PrinterError(PrinterFailure.COVER_OPEN, "printer cover is open")
        if state.paper_out:
            raise PrinterError(PrinterFailure.PAPER_OUT, "printer is out of paper")
        if not state.online:
            raise PrinterOffline("printer reports offline")
        self._send(compose(document))

    # -- transport ------------------------------------------------------------------------

    @property
    def _address(self) -> str:
        return f"{self.host}:{self.port}"

    def _connected_printer(self) -> Network:
        self.connect()
        assert self._printer is not None
        return self._printer

    def _send(self, data: bytes) -> None:
        printer = self._connected_printer()
        try:
            printer._raw(data)
        except OSError as error:
            self._drop("send failed")
            raise PrinterOffline(f"connection to printer at {self._address} lost") from error

    def _query(self, n: int) -> int:
        """One DLE EOT n round trip; the reply is a single status byte."""
        printer = self._connected_printer()
        try:
            reply = printer.query_status(DLE_EOT + bytes([n]))
        except TimeoutError as error:
            # A late answer would be read as the reply to the next query: start afresh.
            self._drop("status timeout")
            raise PrinterOffline(f"printer at {self._address} does not answer") from error
        except OSError as error:
            self._drop("status failed")
            raise PrinterOffline(f"connection to printer at {self._address} lost") from error
        if not reply:
            self._drop("connection closed")
            raise PrinterOffline(f"printer at {self._address} closed the connection")
        status = reply[0]
        if len(reply) != 1 or status & _STATUS_FIXED_MASK != _STATUS_FIXED_VALUE:
            self._drop("garbled status")
            raise PrinterError(
                PrinterFailure.IO_ERROR, f"unexpected status reply {reply.hex()} to DLE EOT {n}"
            )
        return status

    def _drop(self, why: str) -> None:
        log.warning("receipt printer connection dropped: %s", why, extra={"device": self._address})
        self.close()
