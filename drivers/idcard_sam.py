"""The SAM_A serial protocol of second-generation resident identity-card readers (GA 467).

Frames (all lengths big-endian):

    request:  AA AA AA 96 69 | LEN(2) | CMD | PARA | DATA...       | CHK
    response: AA AA AA 96 69 | LEN(2) | SW1 | SW2  | SW3 | DATA... | CHK

LEN counts every byte after itself, the checksum included, and CHK is the XOR of all bytes
between the preamble and itself (LEN..DATA). So "find card" is `AA AA AA 96 69 00 03 20 01 22`.
Success is SW1 SW2 = 00 00 with SW3 0x90 (0x9F for a card found); SW3 carries the SAM's verdict.

Commands and answers used here (command, parameter -> answer data):
    20 01 find card       -> 9F + 4 bytes, or 80 when no card is in the field
    20 02 select card     -> 90 + 8 bytes (the card's serial), or 81
    30 01 read base info  -> 90 + text length(2) + photo length(2) + text(256) + photo(1024)
    30 10 read base info with fingerprint
                          -> 90 + text, photo and fingerprint lengths(2 each) + the three blocks
                             (the fingerprint block is 1024 bytes, or 0 when none was enrolled)
    30 03 read new address -> 90 + 70 bytes of UCS-2, or 91 when the card has none
    10 FF reset SAM, 11 FF SAM status (90 when healthy), 12 FF read SAM ID (90 + 16 bytes)
Where sources disagree: some vendor manuals list 11 FF as "reset"; we follow the more common
table (10 FF reset, 11 FF status, 12 FF SAM ID), and a module that answers 0x21 (unknown
command) to any of them raises `SamFailure.NOT_SUPPORTED` rather than a protocol error.

Resynchronisation: the reader skips bytes until a preamble, refuses a length outside the
protocol's range by sliding one byte further, and treats a frame whose checksum fails as lost.
Before each command it drops whatever the module sent late, so a broken or late answer never
pairs with the next command. The photo (WLT, 1024 bytes) needs the vendor's licensed decoder:
it is handed on as it came. The frames, commands, status words and errors are
drivers.idcard_sam_frames'; this module is the reader that speaks them over a serial link.

Personal data: no frame payload is ever logged; only commands and status words are.
All calls block; the peripheral layer runs them on the device's worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from drivers.idcard_sam_frames import (
    Command,
    FrameDecoder,
    Response,
    SamError,
    SamFailure,
    Status,
    encode_request,
)
from drivers.idcard_text import TEXT_BLOCK_SIZE, IdentityText, TextBlockError, decode_text_block
from drivers.serial_link import IDCARD_SAM, SerialLink, SerialLinkError

T = TypeVar("T")

log = logging.getLogger(__name__)

PHOTO_BLOCK_SIZE = 1024
NEW_ADDRESS_SIZE = 70

_READ_FAILURES = {
    Status.CARD_AUTH_FAILED, Status.SAM_AUTH_FAILED, Status.VERIFY_FAILED,
    Status.UNKNOWN_CARD_TYPE, Status.READ_FAILED, Status.RANDOM_FAILED,
}  # fmt: skip
_SAM_FAULTS = {
    Status.UNAUTHORISED, Status.UNRECOVERABLE, Status.SAM_SELF_TEST_FAILED,
    Status.SAM_NOT_AUTHORISED,
}  # fmt: skip


class SamTransport(Protocol):
    """What the reader needs of a wire: write bytes, read what arrives, drop stale input."""

    def write(self, data: bytes) -> None: ...

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to `max_bytes` once some arrive; b"" when none did within `timeout` seconds."""
        ...

    def discard_input(self) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """The SAM's serial link (a USB-serial adapter, or the simulator's pty), 115200 8N1."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self.port = port
        self._link = SerialLink(port, IDCARD_SAM, baudrate)
        self._guarded(self._link.open)

    def write(self, data: bytes) -> None:
        self._guarded(self._link.write, data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        return self._guarded(self._link.read, max_bytes, timeout)

    def discard_input(self) -> None:
        self._guarded(self._link.discard_input)

    def close(self) -> None:
        self._link.close()

    @staticmethod
    def _guarded(call: Callable[..., T], *args: object) -> T:
        try:
            return call(*args)
        except SerialLinkError as exc:
            raise SamError(SamFailure.PORT_GONE, str(exc)) from exc


@dataclass(frozen=True, repr=False)
class CardContents:
    """What a base-information read returns. `repr` shows sizes, never contents."""

    text: IdentityText
    photo: bytes  # WLT-compressed, 1024 bytes; decoded only by the vendor's licensed library
    fingerprint: bytes | None = None

    def __repr__(self) -> str:
        fp = "None" if self.fingerprint is None else f"<{len(self.fingerprint)} bytes>"
        return (
            f"CardContents(text={self.text!r}, photo=<{len(self.photo)} bytes>, fingerprint={fp})"
        )


class SamReader:
    """The SAM_A command set over a transport; retries a command whose frame broke on the wire."""

    def __init__(self, transport: SamTransport, timeout: float = 1.0, read_timeout: float = 3.0,
                 attempts: int = 3) -> None:  # fmt: skip
        self.transport = transport
        self.timeout = timeout
        self.read_timeout = read_timeout  # a base read moves 1.3 kB over RF and serial
        self.attempts = max(1, attempts)

    def _exchange(self, command: Command, timeout: float) -> Response:
        self.transport.discard_input()
        self.transport.write(encode_request(command))
        decoder = FrameDecoder()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if decoder.pending:
                    raise SamError(SamFailure.TRUNCATED, f"{command.name}: frame incomplete")
                raise SamError(SamFailure.NO_RESPONSE, f"{command.name}: no answer")
            chunk = self.transport.read(4096, remaining)
            if chunk:
                decoder.feed(chunk)
                response = decoder.next_frame()
                if response is not None:
                    return response

    def transact(self, command: Command, timeout: float | None = None) -> Response:
        """Send one command and return its answer, retrying frames lost or refused on the wire."""
        timeout = self.timeout if timeout is None else timeout
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._exchange(command, timeout)
            except SamError as exc:
                if exc.reason not in (SamFailure.BAD_CHECKSUM, SamFailure.TRUNCATED):
                    raise
                log.info("%s: %s, attempt %d", command.name, exc.reason.value, attempt)
                if attempt == self.attempts:
                    raise
                continue
            if response.sw3 in (Status.CHECKSUM_ERROR, Status.LENGTH_ERROR):
                log.info("%s: module refused the frame (SW3 %02X)", command.name, response.sw3)
                if attempt == self.attempts:
                    raise SamError(SamFailure.REJECTED, command.name, response.sw3)
                continue
            log.debug("%s -> SW3 %02X, %d bytes", command.name, response.sw3, len(response.data))
            return response
        raise AssertionError("unreachable")

    def _check(self, command: Command, response: Response, ok: int = Status.OK) -> None:
        sw3 = response.sw3
        if response.sw1 == 0 and response.sw2 == 0 and sw3 == ok:
            return
        if sw3 == Status.COMMAND_ERROR:
            raise SamError(SamFailure.NOT_SUPPORTED, command.name, sw3)
        if sw3 == Status.FIND_FAILED:
            raise SamError(SamFailure.NO_CARD, command.name, sw3)
        if sw3 == Status.SELECT_FAILED:
            raise SamError(SamFailure.SELECT_FAILED, command.name, sw3)
        if sw3 in _READ_FAILURES:
            raise SamError(SamFailure.READ_FAILED, f"{command.name} SW3 {sw3:02X}", sw3)
        if sw3 in _SAM_FAULTS:
            raise SamError(SamFailure.SAM_FAULT, f"{command.name} SW3 {sw3:02X}", sw3)
        raise SamError(SamFailure.MALFORMED, f"{command.name}: unexpected SW {response!r}", sw3)

    def find_card(self) -> bool:
        """True when a card is in the field (SW3 9F), False when none (80)."""
        response = self.transact(Command.FIND_CARD)
        if response.sw3 == Status.FIND_FAILED:
            return False
        self._check(Command.FIND_CARD, response, ok=Status.CARD_FOUND)
        return True

    def select_card(self) -> None:
        self._check(Command.SELECT_CARD, self.transact(Command.SELECT_CARD))

    def sam_status(self) -> None:
        """Returns when the SAM reports itself healthy; SamError otherwise."""
        self._check(Command.SAM_STATUS, self.transact(Command.SAM_STATUS))

    def reset_sam(self) -> None:
        self._check(Command.RESET_SAM, self.transact(Command.RESET_SAM))

    def read_sam_id(self) -> str:
        """The SAM's identifier as printed on the module: `05.01-20240101-0000000001-0001234567`."""
        response = self.transact(Command.READ_SAM_ID)
        self._check(Command.READ_SAM_ID, response)
        data = response.data
        if len(data) != 16:
            raise SamError(SamFailure.MALFORMED, f"SAM ID of {len(data)} bytes")
        a, b = data[0:2], data[2:4]
        c, d, e = data[4:8], data[8:12], data[12:16]
        return (
            f"{int.from_bytes(a, 'little'):02d}.{int.from_bytes(b, 'little'):02d}-"
            f"{int.from_bytes(c, 'little'):08d}-{int.from_bytes(d, 'little'):010d}-"
            f"{int.from_bytes(e, 'little'):010d}"
        )

    def read_base(self, with_fingerprint: bool = False) -> CardContents:
        """Read text and photo (and the fingerprint block where the module supports it)."""
        command = Command.READ_BASE_WITH_FINGERPRINT if with_fingerprint else Command.READ_BASE
        response = self.transact(command, timeout=self.read_timeout)
        self._check(command, response)
        return parse_base_info(response.data, with_fingerprint)

    def read_new_address(self) -> str | None:
        """The address written after issue (追加住址), or None when the card has none."""
        response = self.transact(Command.READ_NEW_ADDRESS, timeout=self.read_timeout)
        if response.sw3 == Status.NO_CONTENT:
            return None
        self._check(Command.READ_NEW_ADDRESS, response)
        try:
            text = response.data.decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError as exc:
            raise SamError(SamFailure.CARD_DATA_INVALID, "new address is not UCS-2") from exc
        return text or None

    def read_card(self, with_fingerprint: bool = False) -> CardContents:
        """Find, select and read: the whole sequence a citizen's card needs."""
        if not self.find_card():
            raise SamError(SamFailure.NO_CARD)
        self.select_card()
        return self.read_base(with_fingerprint)


def parse_base_info(data: bytes, with_fingerprint: bool = False) -> CardContents:
    """Split a read-base answer into text, photo (and fingerprint); SamError when it cannot."""
    header = 6 if with_fingerprint else 4
    if len(data) < header:
        raise SamError(SamFailure.MALFORMED, "base information shorter than its header")
    lengths = [int.from_bytes(data[i : i + 2], "big") for i in range(0, header, 2)]
    if sum(lengths) + header != len(data):
        raise SamError(SamFailure.MALFORMED, "block lengths do not add up to the data")
    if lengths[0] != TEXT_BLOCK_SIZE:
        raise SamError(SamFailure.MALFORMED, f"text block of {lengths[0]} bytes")
    text_end = header + lengths[0]
    photo_end = text_end + lengths[1]
    try:
        text = decode_text_block(data[header:text_end])
    except TextBlockError as exc:
        raise SamError(SamFailure.CARD_DATA_INVALID, exc.reason.value) from exc
    fingerprint = data[photo_end:] if with_fingerprint else None
    return CardContents(text=text, photo=data[text_end:photo_end], fingerprint=fingerprint)
