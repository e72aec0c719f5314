"""Barcode / QR scanner on a serial port (RS-232 or USB-CDC), in suffix-terminated mode.

Each decoded symbol arrives as its data followed by the configured suffix (CR by default, as
most kiosk scanners ship). A scanner has no status of its own to send, so the driver asks for
one: the Honeywell-style menu query `SYN M CR REVINF.` is answered `REVINF<text>ACK.`
(ENQ or NAK instead of ACK when the command is unknown or refused). A scanner that answers no
query is silent; one whose lines are not text is garbled. All calls block.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum

from drivers.serial_link import SERIAL_SCANNER, SerialLink, SerialLinkError

# A pulled USB-serial adapter fails in any of these (termios.error is no OSError).

log = logging.getLogger(__name__)

SYN, CR, ACK, ENQ, NAK = 0x16, 0x0D, 0x06, 0x05, 0x15
MENU_PREFIX = bytes([SYN]) + b"M\r"
INFO_QUERY = b"REVINF"
MAX_LINE = 2048  # a version-40 QR code holds at most 2953 bytes; kiosk codes are far shorter


class ScannerFailure(Enum):
    OFFLINE = "offline"
    NO_REPLY = "no_reply"
    GARBLED = "garbled"


class ScannerError(Exception):
    def __init__(self, reason: ScannerFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ScanLine:
    """One decoded symbol's data. A payment code is a bearer token: the repr hides it."""

    data: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ScanLine({len(self.data)} chars)"


@dataclass(frozen=True)
class MenuReply:
    command: str
    body: str
    accepted: bool


@dataclass(frozen=True)
class LineNoise:
    length: int
    why: str


ScannerToken = ScanLine | MenuReply | LineNoise


class LineDecoder:
    """Bytes in, tokens out: scans end with the suffix, menu replies with ACK/ENQ/NAK '.'.

    Never raises; a line longer than `max_line` is thrown away as noise.
    """

    def __init__(self, suffix: bytes = b"\r", max_line: int = MAX_LINE) -> None:
        if not suffix:
            raise ValueError("a suffix is needed to tell scans apart")
        self.suffix = suffix
        self.max_line = max_line
        self._buffer = bytearray()

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> list[ScannerToken]:
        self._buffer += data
        tokens: list[ScannerToken] = []
        buf = self._buffer
        while buf:
            end_scan = buf.find(self.suffix)
            end_menu = min((i for i in (buf.find(bytes([c]) + b".") for c in (ACK, ENQ, NAK))
                            if i >= 0), default=-1)  # fmt: skip
            if end_menu >= 0 and (end_scan < 0 or end_menu < end_scan):
                tokens.append(self._menu(bytes(buf[:end_menu]), buf[end_menu]))
                del buf[: end_menu + 2]
                continue
            if end_scan >= 0:
                tokens.append(self._scan(bytes(buf[:end_scan])))
                del buf[: end_scan + len(self.suffix)]
                continue
            if len(buf) > self.max_line:
                tokens.append(LineNoise(len(buf), "line too long"))
                buf.clear()
            break
        return tokens

    def _scan(self, raw: bytes) -> ScannerToken:
        raw = raw.lstrip(b"\n") if self.suffix == b"\r" else raw  # CR LF configured as CR
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return LineNoise(len(raw), "not UTF-8")
        if not text or not text.isprintable() or len(text) > self.max_line:
            return LineNoise(len(raw), "not a printable line")
        return ScanLine(text)

    @staticmethod
    def _menu(raw: bytes, status: int) -> ScannerToken:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return LineNoise(len(raw), "menu reply not ASCII")
        command = text[: len(INFO_QUERY)]
        if not text.isprintable() or not command.isalpha() or not command.isupper():
            return LineNoise(len(raw), "not a menu reply")
        return MenuReply(command, text[len(command) :], status == ACK)


class BarcodeScanner:
    """A serial scanner; opens on first use and after a failure."""

    def __init__(
        self, port: str, baudrate: int = 9600, suffix: bytes = b"\r", timeout: float = 0.5
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.decoder = LineDecoder(suffix)
        self._link = SerialLink(port, SERIAL_SCANNER, baudrate)
        self._scans: list[ScanLine] = []
        self.noise_seen = 0

    @property
    def connected(self) -> bool:
        return self._link.connected

    def connect(self) -> None:
        if self._link.connected:
            return
        try:
            self._link.open()
        except SerialLinkError as error:
            raise ScannerError(ScannerFailure.OFFLINE, f"cannot open {self.port}") from error
        self.decoder.reset()

    def close(self) -> None:
        self._link.close()

    def read_scans(self, wait: float) -> list[ScanLine]:
        """Scans that arrived, waiting up to `wait` s for the first; GARBLED on noise."""
        scans, self._scans = self._scans, []
        if scans:
            return scans
        deadline = time.monotonic() + wait
        while True:
            tokens = self._read(max(0.0, deadline - time.monotonic()))
            scans = self._take(tokens)
            if scans or time.monotonic() >= deadline:
                return scans

    def query_info(self) -> str:
        """The scanner's answer to the REVINF menu query: proves it is there and sane."""
        self.connect()
        self._write(MENU_PREFIX + INFO_QUERY + b".")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for token in self._read(deadline - time.monotonic()):
                if isinstance(token, MenuReply) and token.command == INFO_QUERY.decode():
                    if not token.accepted:
                        raise ScannerError(ScannerFailure.GARBLED, "info query refused")
                    return token.body
                self._scans.extend(self._take([token]))
        raise ScannerError(ScannerFailure.NO_REPLY, f"no answer on {self.port}")

    def _take(self, tokens: list[ScannerToken]) -> list[ScanLine]:
        scans = [token for token in tokens if isinstance(token, ScanLine)]
        if any(isinstance(token, LineNoise) for token in tokens):
            self.noise_seen += 1
            self._scans.extend(scans)  # good scans next to noise are still good
            raise ScannerError(ScannerFailure.GARBLED, "noise on the scanner line")
        return scans

    def _write(self, data: bytes) -> None:
        try:
            self._link.write(data)
        except SerialLinkError as error:
            raise ScannerError(ScannerFailure.OFFLINE, f"{self.port} went away") from error

    def _read(self, wait: float) -> list[ScannerToken]:
        self.connect()
        try:
            chunk = self._link.read(4096, wait)
        except SerialLinkError as error:
            raise ScannerError(ScannerFailure.OFFLINE, f"{self.port} went away") from error
        return self.decoder.feed(chunk)
