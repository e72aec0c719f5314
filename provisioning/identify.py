"""Which device answers on a serial port: each known protocol asks its harmless question in turn.

Serial devices cannot be told apart by their port (a USB-serial bridge says nothing about what is
behind it), so the probe asks: the ID-card SAM its SAM id (GA 467 `12 FF`), the dispenser its
device information (CRT-571/591 `C A0`), the scanner its firmware (Honeywell menu `REVINF`).
None of the three moves anything or reads a card. Each question is framed so the other devices
ignore it (each looks for its own preamble: AA AA AA 96 69, STX F2, SYN M CR), and each is sent
at the baud rate of its device's profile. An answer that is a refusal in a device's own framing
still says which device it is. All calls block; the probe runs one thread per port.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from drivers.barcode_scanner import BarcodeScanner, ScannerError, ScannerFailure
from drivers.dispenser import CardDispenser, DispenserError, DispenserFailure
from drivers.idcard_sam import SamReader, SerialTransport
from drivers.idcard_sam_frames import SamError, SamFailure
from provisioning.profiles import SERIAL_ROLE_OF, SERIAL_ROLES, DeviceKind

log = logging.getLogger(__name__)


class PortUnavailable(Exception):
    """The port itself cannot be opened: no protocol can be tried on it."""


def _why_not_open(exc: BaseException) -> str:
    """The system's reason in words ("permission denied"), from anywhere in the cause chain."""
    seen: BaseException | None = exc
    while seen is not None:
        code = getattr(seen, "errno", None)
        if isinstance(code, int) and code > 0:
            hint = " (run as root, or join the dialout group)" if code == errno.EACCES else ""
            return os.strerror(code).lower() + hint
        seen = seen.__cause__ or seen.__context__
    return str(exc)


@dataclass(frozen=True)
class Identification:
    """What answered on a port: a kind and what it said about itself, or None and why not."""

    kind: DeviceKind | None
    detail: str
    port_opens: bool = True


def _ask_sam(port: str, baudrate: int, timeout: float) -> str | None:
    try:
        transport = SerialTransport(port, baudrate)
    except SamError as exc:
        raise PortUnavailable(str(exc)) from exc
    try:
        reader = SamReader(transport, timeout=timeout, attempts=1)
        try:
            return f"SAM {reader.read_sam_id()}"
        except SamError as exc:
            if exc.reason is SamFailure.PORT_GONE:
                raise PortUnavailable(str(exc)) from exc
            if exc.status is not None:  # a well-formed SAM frame, refusing: still a SAM module
                return f"SAM module (answers status {exc.status:02X})"
            return None
    finally:
        transport.close()


def _ask_dispenser(port: str, baudrate: int, timeout: float) -> str | None:
    unit = CardDispenser(port, baudrate=baudrate, ack_timeout=timeout, motion_timeout=timeout)
    try:
        return unit.device_info().strip() or "card dispenser"
    except DispenserError as exc:
        if exc.reason is DispenserFailure.OFFLINE:
            raise PortUnavailable(str(exc)) from exc
        if exc.code is not None:  # a negative reply in the unit's framing: still a dispenser
            return f"card dispenser (refuses device information: {exc.reason.value})"
        return None
    finally:
        unit.close()


def _ask_scanner(port: str, baudrate: int, timeout: float) -> str | None:
    scanner = BarcodeScanner(port, baudrate, timeout=timeout)
    try:
        return scanner.query_info().strip() or "barcode scanner"
    except ScannerError as exc:
        if exc.reason is ScannerFailure.OFFLINE:
            raise PortUnavailable(str(exc)) from exc
        return None
    finally:
        scanner.close()


_QUESTIONS: dict[DeviceKind, Callable[[str, int, float], str | None]] = {
    DeviceKind.ID_CARD_READER: _ask_sam,
    DeviceKind.DISPENSER: _ask_dispenser,
    DeviceKind.BARCODE_SCANNER: _ask_scanner,
}


def identify_serial(
    port: str, first: DeviceKind | None = None, timeout: float = 0.4
) -> Identification:
    """Asks each known serial protocol in turn (`first` first, the device it is expected to be),
    and stops at the first that answers. Never raises."""
    if not os.path.exists(port):
        return Identification(None, "the port does not exist", port_opens=False)
    order = sorted(SERIAL_ROLES, key=lambda role: role.kind is not first)
    for role in order:
        baudrate = role.profile.baudrate or 9600
        try:
            said = _QUESTIONS[role.kind](port, baudrate, timeout)
        except PortUnavailable as exc:
            return Identification(None, f"cannot open the port: {_why_not_open(exc)}", False)
        log.info("%s: %s %s", port, role.name, "answers" if said else "does not answer")
        if said is not None:
            return Identification(role.kind, said)
    tried = ", ".join(SERIAL_ROLE_OF[kind].title.removeprefix("the ") for kind in _QUESTIONS)
    return Identification(None, f"no known device answers (asked as: {tried})")
