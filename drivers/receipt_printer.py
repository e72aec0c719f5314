"""Receipt printer driver: ESC/POS with python-escpos over TCP (port 9100), serial or USB.

Documents are composed into one ESC/POS byte stream and sent in a single write, so a dropped
connection cannot leave half a command behind. Status comes from the real-time `DLE EOT n`
queries (n = 1 printer, 2 offline cause, 3 error cause, 4 paper sensor), answered at once on
the same channel (Epson ESC/POS reference, DLE EOT); `GS r 1` is decoded too for printers
that only answer that. `ReceiptPrinter` knows the protocol; each subclass only opens its
python-escpos connector (`EscposReceiptPrinter` TCP, `SerialReceiptPrinter` serial, and
`drivers.escpos_usb.UsbReceiptPrinter` USB); what the bytes say is drivers.receipt_layout's.
All calls block; the peripheral layer runs them
in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from types import TracebackType

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Network

from drivers.receipt_layout import CjkMode, ReceiptDocument, compose
from drivers.serial_link import ESCPOS_SERIAL, SerialLink, SerialLinkError

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
GS_R_1 = b"\x1dr\x01"  # GS r 1: transmit the paper sensor status

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
            return decode_paper_sensor(self._query(GS_R_1))
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
