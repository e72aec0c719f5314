"""The resident identity-card reader service: a SAM_A module on a serial port.

Every pyserial call runs on the device's worker thread. The port is opened on first use and
reopened after it fails (a USB-serial adapter pulled and put back shows up at the same path).
A read is find -> select -> read, retried as a whole when a frame broke on the wire or the card
slipped mid-read; what the card holds lives only in the returned `IdCardRead`, whose repr masks it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from drivers.idcard_sam import SamReader, SerialTransport
from drivers.idcard_sam_frames import SamError, SamFailure
from drivers.idcard_text import IdentityText
from peripherals.base import DeviceService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceStatus

__all__ = ["IdCardRead", "IdCardReaderService", "IdentityText"]

log = logging.getLogger(__name__)

DEVICE = "idcard_reader"

_REASONS = {
    SamFailure.NO_RESPONSE: DeviceReason.DEVICE_SILENT,
    SamFailure.TRUNCATED: DeviceReason.GARBLED_RESPONSE,
    SamFailure.BAD_CHECKSUM: DeviceReason.GARBLED_RESPONSE,
    SamFailure.MALFORMED: DeviceReason.GARBLED_RESPONSE,
    SamFailure.REJECTED: DeviceReason.GARBLED_RESPONSE,
    SamFailure.NO_CARD: DeviceReason.NO_CARD,
    SamFailure.SELECT_FAILED: DeviceReason.CARD_UNREADABLE,
    SamFailure.READ_FAILED: DeviceReason.CARD_UNREADABLE,
    SamFailure.CARD_DATA_INVALID: DeviceReason.CARD_UNREADABLE,
    SamFailure.SAM_FAULT: DeviceReason.READER_UNAVAILABLE,
    SamFailure.NOT_SUPPORTED: DeviceReason.NOT_SUPPORTED,
    SamFailure.PORT_GONE: DeviceReason.READER_UNAVAILABLE,
}
# Worth another find/select/read: the wire or the RF field hiccupped.
_RETRYABLE = {
    SamFailure.TRUNCATED, SamFailure.BAD_CHECKSUM, SamFailure.MALFORMED, SamFailure.REJECTED,
    SamFailure.SELECT_FAILED, SamFailure.READ_FAILED,
}  # fmt: skip


@dataclass(frozen=True, repr=False)
class IdCardRead:
    """One card's contents. The photo is WLT as it came (the backend decodes it)."""

    text: IdentityText
    photo: bytes
    new_address: str | None = None

    def __repr__(self) -> str:
        address = "None" if self.new_address is None else "'***'"
        return f"IdCardRead(text={self.text!r}, photo=<{len(self.photo)} bytes>, new_address={address})"

    __str__ = __repr__


class IdCardReaderService(DeviceService):
    """A SAM_A reader at `port_path`; async methods, blocking work on one thread. Healthy
    while its SAM module answers its status and id.

    A SAM reader says nothing by itself when a card is laid on it: `wait_for_card` asks it (a
    find-card frame of a few bytes) every `poll_s`, 0.1 s by default: a citizen's card is read
    0.05 s after it lands on average (0.15 s at the earlier 0.3 s), for ten short frames a
    second on the serial line while the card screen waits."""

    kind = "idcard_sam"

    def __init__(self, port_path: str, poll_s: float = 0.1, *, baudrate: int = 115200,
                 command_timeout: float = 1.0, read_timeout: float = 3.0,
                 attempts: int = 3, name: str = DEVICE) -> None:  # fmt: skip
        super().__init__(name, port_path)
        self.port_path = port_path
        self.poll_s = poll_s
        self.baudrate = baudrate
        self.command_timeout = command_timeout
        self.read_timeout = read_timeout
        self.attempts = attempts
        self._transport: SerialTransport | None = None
        self._reader: SamReader | None = None

    # --- on the worker thread ---

    def _open(self) -> SamReader:
        if self._reader is None:
            self._transport = SerialTransport(self.port_path, self.baudrate)
            self._reader = SamReader(
                self._transport, self.command_timeout, self.read_timeout, self.attempts
            )
            log.info("identity-card reader opened", extra={"device": DEVICE})
        return self._reader

    def _drop_port(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._reader = None

    def _device_error(self, exc: SamError) -> DeviceError:
        if exc.reason is SamFailure.PORT_GONE:
            self._drop_port()  # reopen on the next call: the adapter may come back
        reason = _REASONS[exc.reason]
        log.info("identity-card reader: %s", exc.reason.value, extra={"device": DEVICE})
        return DeviceError(DEVICE, reason, exc.reason.value)

    def _card_present(self) -> bool:
        try:
            return self._open().find_card()
        except SamError as exc:
            raise self._device_error(exc) from exc

    def _read(self, with_new_address: bool) -> IdCardRead:
        last: SamError | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                reader = self._open()
                contents = reader.read_card()
                new_address = None
                if with_new_address:
                    try:
                        new_address = reader.read_new_address()
                    except SamError as exc:
                        if exc.reason is not SamFailure.NOT_SUPPORTED:
                            raise
                return IdCardRead(contents.text, contents.photo, new_address)
            except SamError as exc:
                last = exc
                if exc.reason not in _RETRYABLE:
                    break
                log.info("read attempt %d: %s", attempt, exc.reason.value, extra={"device": DEVICE})
        assert last is not None
        raise self._device_error(last) from last

    def _sam_id(self) -> str:
        try:
            reader = self._open()
            reader.sam_status()
            return reader.read_sam_id()
        except SamError as exc:
            raise self._device_error(exc) from exc

    def _hang_up(self) -> None:
        self._drop_port()

    def _refresh(self) -> DeviceStatus:
        try:
            sam = self._sam_id()
        except DeviceError as exc:
            return self._lost(exc.reason)
        self._keeper.set_identity(f"{self.port_path} SAM {sam}")
        return self._answered()

    # --- the async face ---

    async def card_present(self) -> bool:
        return await self._worker.call(self._card_present)

    async def wait_for_card(self, timeout: float) -> None:
        """Returns once a card lies on the reader; DeviceError(TIMEOUT) after `timeout` seconds.

        A reader that is gone or silent raises at once (READER_UNAVAILABLE, DEVICE_SILENT)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if await self.card_present():
                    return
            except DeviceError as exc:
                if exc.reason is not DeviceReason.GARBLED_RESPONSE:
                    raise
            if time.monotonic() + self.poll_s > deadline:
                raise DeviceError(DEVICE, DeviceReason.TIMEOUT, f"no card within {timeout:g} s")
            await asyncio.sleep(self.poll_s)

    async def read(self, with_new_address: bool = False) -> IdCardRead:
        """Find, select and read the card now; NO_CARD when none lies on the reader."""
        return await self._worker.call(self._read, with_new_address)

    async def sam_id(self) -> str:
        """The SAM module's identifier after a status check (for self-test and diagnostics)."""
        return await self._worker.call(self._sam_id)

    def close(self) -> None:
        super().close()
        self._drop_port()
