"""SAM_A frames of the resident identity-card reader (GA 467): the commands and status words,
encoding a request, decoding and resynchronising a stream of responses, and the protocol's
errors. The frame layout and the reader that uses it are described in drivers.idcard_sam.

Personal data: a frame's payload is never logged or shown in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
# A read with fingerprint is the longest answer: 3 + 6 + 256 + 1024 + 1024 + 1 = 2314 bytes.
MAX_FRAME_LENGTH = 4096


class Command(IntEnum):
    """CMD and PARA as one big-endian 16-bit value."""

    RESET_SAM = 0x10FF
    SAM_STATUS = 0x11FF
    READ_SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_BASE = 0x3001
    READ_NEW_ADDRESS = 0x3003
    READ_BASE_WITH_FINGERPRINT = 0x3010


class Status(IntEnum):
    """SW3, the SAM_A's operation status (GA 467 annex)."""

    CHECKSUM_ERROR = 0x10  # the module received a frame whose checksum failed
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21  # unknown command
    UNAUTHORISED = 0x23
    UNRECOVERABLE = 0x24
    CARD_AUTH_FAILED = 0x31
    SAM_AUTH_FAILED = 0x32
    VERIFY_FAILED = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80  # no card
    SELECT_FAILED = 0x81
    OK = 0x90
    NO_CONTENT = 0x91  # e.g. no new address on the card
    CARD_FOUND = 0x9F


class SamFailure(StrEnum):
    NO_RESPONSE = "no_response"  # nothing came back in time
    TRUNCATED = "truncated"  # a frame started but did not finish in time
    BAD_CHECKSUM = "bad_checksum"
    MALFORMED = "malformed"  # a frame that parses but cannot be this command's answer
    REJECTED = "rejected"  # the module refused our frame (checksum, length)
    NO_CARD = "no_card"
    SELECT_FAILED = "select_failed"
    READ_FAILED = "read_failed"  # the card or the SAM failed the read (auth, RF, removed)
    SAM_FAULT = "sam_fault"  # the SAM itself is broken or not authorised
    NOT_SUPPORTED = "not_supported"
    CARD_DATA_INVALID = "card_data_invalid"  # the text block is not a resident card's
    PORT_GONE = "port_gone"  # the serial port failed or vanished


class SamError(Exception):
    """A SAM command failed; `reason` says how, `status` is SW3 when the module answered."""

    def __init__(self, reason: SamFailure, message: str = "", status: int | None = None) -> None:
        super().__init__(f"{reason.value}: {message}" if message else reason.value)
        self.reason = reason
        self.status = status


def checksum(body: bytes) -> int:
    """XOR of every byte of LEN..DATA."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode_request(command: Command | int, data: bytes = b"") -> bytes:
    """A request frame for `command` (CMD<<8 | PARA) with its data."""
    body = (len(data) + 3).to_bytes(2, "big") + int(command).to_bytes(2, "big") + data
    return PREAMBLE + body + bytes([checksum(body)])


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A response frame: what a module sends (for tests and tools)."""
    body = (len(data) + 4).to_bytes(2, "big") + bytes([sw1, sw2, sw3]) + data
    return PREAMBLE + body + bytes([checksum(body)])


@dataclass(frozen=True, repr=False)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    def __repr__(self) -> str:  # the data may be a card's contents
        return f"Response(sw={self.sw1:02X}{self.sw2:02X}{self.sw3:02X}, data=<{len(self.data)} bytes>)"


class FrameDecoder:
    """Finds response frames in a byte stream, skipping garbage and broken frames.

    `feed` bytes, then call `next_frame` until it returns None; a frame whose checksum fails is
    consumed and raised as SamError(BAD_CHECKSUM), so the stream stays in step.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a frame."""
        return len(self._buffer)

    def next_frame(self) -> Response | None:
        while True:
            start = self._buffer.find(PREAMBLE)
            if start < 0:
                # keep a tail that may be the beginning of a preamble
                keep = next(
                    (
                        n
                        for n in range(len(PREAMBLE) - 1, 0, -1)
                        if self._buffer.endswith(PREAMBLE[:n])
                    ),
                    0,
                )
                del self._buffer[: len(self._buffer) - keep]
                return None
            del self._buffer[:start]
            if len(self._buffer) < len(PREAMBLE) + 2:
                return None
            length = int.from_bytes(self._buffer[5:7], "big")
            if not 4 <= length <= MAX_FRAME_LENGTH:
                del self._buffer[:1]  # not a real preamble: look further
                continue
            end = len(PREAMBLE) + 2 + length
            if len(self._buffer) < end:
                return None
            frame = bytes(self._buffer[:end])
            del self._buffer[:end]
            if checksum(frame[5:-1]) != frame[-1]:
                raise SamError(SamFailure.BAD_CHECKSUM, "response checksum mismatch")
            return Response(frame[7], frame[8], frame[9], frame[10:-1])


def parse_response(frame: bytes) -> Response:
    """Parse exactly one whole response frame; anything else raises SamError."""
    if not frame.startswith(PREAMBLE):
        raise SamError(SamFailure.MALFORMED, "no preamble")
    decoder = FrameDecoder()
    decoder.feed(frame)
    response = decoder.next_frame()
    if response is None:
        raise SamError(SamFailure.TRUNCATED, "incomplete frame")
    if decoder.pending:
        raise SamError(SamFailure.MALFORMED, "bytes after the frame")
    return response
