"""One serial link for every serial device (the ID-card SAM, the dispenser, the scanner, a
serial receipt printer): open, reconnect after the port went away, write, read with a
deadline, close. The protocols above it speak bytes and never touch pyserial.

Device differences are data (`SerialProfile`), as python-escpos keeps printer capability
profiles: line speed, whether stale input is dropped before each command, whether a write is
drained before the reply is awaited.
"""

from __future__ import annotations

import logging
import termios
import time
from dataclasses import dataclass
from enum import Enum
from typing import NoReturn

import serial

log = logging.getLogger(__name__)

# What a pulled USB-serial adapter raises, depending on the moment: pyserial's own error, the
# OS's, or termios's (which is no OSError).
_PORT_ERRORS = (serial.SerialException, OSError, termios.error)


class LinkFailure(Enum):
    CANNOT_OPEN = "cannot_open"  # no such port, or it is busy
    GONE = "gone"  # the port went away under a read or a write


class SerialLinkError(Exception):
    def __init__(self, reason: LinkFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SerialProfile:
    """A device's line and its quirks, as data."""

    name: str
    baudrate: int = 9600
    # Drop bytes that arrived before a command: a late reply must not answer the next one.
    discard_before_write: bool = False
    # Drain the write before awaiting the reply (a SAM answers only a complete frame).
    drain_after_write: bool = False
    write_timeout_s: float | None = 2.0
    # The port keeps one short read time-out: changing it per call would reconfigure the tty,
    # so a read with a deadline is a loop of slices this long.
    read_slice_s: float = 0.02


# The profiles of the devices the kiosk drives (their protocols: drivers.idcard_sam,
# drivers.dispenser, drivers.barcode_scanner, drivers.receipt_printer).
IDCARD_SAM = SerialProfile("idcard_sam", baudrate=115200, drain_after_write=True)
CARD_DISPENSER = SerialProfile("card_dispenser", baudrate=9600, discard_before_write=True)
SERIAL_SCANNER = SerialProfile("serial_scanner", baudrate=9600)
ESCPOS_SERIAL = SerialProfile("escpos_serial", baudrate=115200)


class SerialLink:
    """One port at `port`; opens on first use and again after it went away."""

    def __init__(self, port: str, profile: SerialProfile, baudrate: int | None = None) -> None:
        self.port = port
        self.profile = profile
        self.baudrate = baudrate or profile.baudrate
        self._serial: serial.Serial | None = None

    def __repr__(self) -> str:
        return f"SerialLink({self.port!r}, {self.profile.name}, open={self.connected})"

    @property
    def connected(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Opens the port if it is not open; SerialLinkError(CANNOT_OPEN) when it cannot."""
        if self._serial is not None:
            return
        try:
            self._serial = serial.Serial(
                self.port,
                self.baudrate,
                timeout=self.profile.read_slice_s,
                write_timeout=self.profile.write_timeout_s,
            )
        except (*_PORT_ERRORS, ValueError) as error:
            raise SerialLinkError(LinkFailure.CANNOT_OPEN, f"cannot open {self.port}: {error}") \
                from error
        log.debug("serial port opened", extra={"device": self.port})

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - a pulled adapter may fail any way on close
                log.debug("error closing serial port", extra={"device": self.port})

    def write(self, data: bytes) -> None:
        """Writes all of `data` (opening the port first); GONE closes the link."""
        port = self._opened()
        try:
            if self.profile.discard_before_write:
                port.reset_input_buffer()
            port.write(data)
            if self.profile.drain_after_write:
                port.flush()
        except _PORT_ERRORS as error:
            self._gone(error)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """What arrives within `timeout_s`: as soon as the first byte is in, it and whatever
        followed it (up to `max_bytes`); b"" at the deadline. GONE closes the link."""
        port = self._opened()
        deadline = time.monotonic() + max(timeout_s, 0.0)
        try:
            while True:
                first = port.read(1)
                if first:
                    waiting = min(port.in_waiting, max_bytes - 1)
                    return bytes(first + (port.read(waiting) if waiting > 0 else b""))
                if time.monotonic() >= deadline:
                    return b""
        except _PORT_ERRORS as error:
            self._gone(error)

    def discard_input(self) -> None:
        try:
            self._opened().reset_input_buffer()
        except _PORT_ERRORS as error:
            self._gone(error)

    def _opened(self) -> serial.Serial:
        self.open()
        assert self._serial is not None
        return self._serial

    def _gone(self, error: BaseException) -> NoReturn:
        self.close()  # the next call opens it again: the adapter may come back
        raise SerialLinkError(LinkFailure.GONE, f"{self.port} went away: {error}") from error
