"""Certificate dispenser / motorised card transport on a serial port.

The framing and handshake follow the public Creator CRT-571/591 protocol (the TTCE K720 uses
the same ACK/NAK/ENQ dialogue with a shorter frame):

    frame   STX(0xF2) ADDR LEN_H LEN_L TEXT ETX(0x03) BCC      BCC = XOR of STX .. ETX
    command TEXT = 'C' CM PM [DATA]
    reply   TEXT = 'P' CM PM ST0 ST1 ST2 [DATA]   (done)  or  'N' CM PM E1 E0   (refused)

The host sends a command frame; the unit answers ACK (0x06) when the frame was well formed or
NAK (0x15) when not (the host sends it again, at most three times). The host then sends ENQ
(0x05) and the unit sends the reply frame once the movement is over.

ST0 card position ('0' none, '1' at the mouth, '2' read/write position, '3' print position),
ST1 card stock ('0' empty, '1' low, '2' enough), ST2 retain bin ('0' room, '1' full).
E1E0 error codes: see `ERROR_CODES`. All calls block; peripherals run them on a worker thread.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum, StrEnum

from drivers.serial_link import CARD_DISPENSER, SerialLink, SerialLinkError

# A pulled USB-serial adapter fails in any of these (termios.error is no OSError).

log = logging.getLogger(__name__)

STX, ETX, ACK, NAK, ENQ, EOT = 0xF2, 0x03, 0x06, 0x15, 0x05, 0x04
MAX_TEXT = 512
RETRIES = 3


class Command(bytes, Enum):
    """CM PM pairs of the commands the kiosk uses."""

    INITIALIZE = b"00"  # reset; a card in the channel stays where it is
    INITIALIZE_CAPTURE = b"01"  # reset, capturing a card in the channel to the bin
    STATUS = b"10"
    MOVE_TO_MOUTH = b"20"  # eject: hold the card at the mouth for the citizen to take
    MOVE_TO_READ_WRITE = b"21"
    MOVE_TO_PRINT = b"22"
    CAPTURE = b"23"  # into the retain bin
    ACCEPT = b"30"  # take a card the citizen pushed into the mouth to the read/write position
    DISPENSE = b"40"  # a card from the stock to the read/write position
    DEVICE_INFO = b"A0"


class CardPosition(StrEnum):
    NONE = "none"
    MOUTH = "mouth"
    READ_WRITE = "read_write"
    PRINT = "print"


class StockLevel(StrEnum):
    EMPTY = "empty"
    LOW = "low"
    OK = "ok"


_POSITIONS = {b"0"[0]: CardPosition.NONE, b"1"[0]: CardPosition.MOUTH,
              b"2"[0]: CardPosition.READ_WRITE, b"3"[0]: CardPosition.PRINT}  # fmt: skip
_STOCK = {b"0"[0]: StockLevel.EMPTY, b"1"[0]: StockLevel.LOW, b"2"[0]: StockLevel.OK}
_BIN = {b"0"[0]: False, b"1"[0]: True}


class DispenserFailure(Enum):
    OFFLINE = "offline"  # the port cannot be opened or went away
    NO_REPLY = "no_reply"  # the unit does not answer
    GARBLED = "garbled"  # the answer is not a valid frame, or not the answer to our command
    JAM = "jam"
    STOCK_EMPTY = "stock_empty"
    BIN_FULL = "bin_full"
    NO_CARD = "no_card"
    CHANNEL_OCCUPIED = "channel_occupied"
    REFUSED = "refused"  # any other negative reply


ERROR_CODES = {
    b"00": DispenserFailure.REFUSED,  # undefined command
    b"01": DispenserFailure.REFUSED,  # parameter error
    b"02": DispenserFailure.REFUSED,  # cannot be executed in this state
    b"10": DispenserFailure.JAM,
    b"20": DispenserFailure.STOCK_EMPTY,
    b"21": DispenserFailure.BIN_FULL,
    b"30": DispenserFailure.NO_CARD,
    b"31": DispenserFailure.CHANNEL_OCCUPIED,
}


class DispenserError(Exception):
    def __init__(self, reason: DispenserFailure, message: str, code: bytes | None = None):
        super().__init__(message)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class DispenserStatus:
    card: CardPosition
    stock: StockLevel
    bin_full: bool


@dataclass(frozen=True)
class Reply:
    positive: bool
    command: bytes  # CM PM echoed
    status: DispenserStatus | None  # positive replies only
    error: bytes | None  # E1 E0, negative replies only
    data: bytes = b""


# -- framing (pure; fuzzed) -------------------------------------------------------------------


def bcc(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_frame(address: int, text: bytes) -> bytes:
    if not 0 <= address <= 0xFF or len(text) > MAX_TEXT:
        raise ValueError("address must be one byte and text at most 512 bytes")
    body = bytes([STX, address]) + len(text).to_bytes(2, "big") + text + bytes([ETX])
    return body + bytes([bcc(body)])


@dataclass(frozen=True)
class Frame:
    address: int
    text: bytes


@dataclass(frozen=True)
class Control:
    byte: int  # ACK, NAK, ENQ or EOT


@dataclass(frozen=True)
class Garbage:
    data: bytes
    why: str


Token = Frame | Control | Garbage


class FrameReader:
    """Incremental decoder: bytes in, tokens out. Never raises; buffers at most one frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Token]:
        self._buffer += data
        tokens: list[Token] = []
        buf = self._buffer
        while buf:
            head = buf[0]
            if head in (ACK, NAK, ENQ, EOT):
                tokens.append(Control(head))
                del buf[:1]
                continue
            if head != STX:
                end = next(
                    (i for i, b in enumerate(buf) if b in (STX, ACK, NAK, ENQ, EOT)), len(buf)
                )
                tokens.append(Garbage(bytes(buf[:end]), "bytes outside a frame"))
                del buf[:end]
                continue
            if len(buf) < 4:
                break
            length = int.from_bytes(buf[2:4], "big")
            if length > MAX_TEXT:
                tokens.append(Garbage(bytes(buf[:1]), "length out of range"))
                del buf[:1]  # resynchronise on the next STX
                continue
            size = 4 + length + 2
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            if frame[-2] != ETX or bcc(frame[:-1]) != frame[-1]:
                tokens.append(Garbage(frame[:1], "bad ETX or BCC"))
                del buf[:1]
                continue
            tokens.append(Frame(frame[1], frame[4:-2]))
            del buf[:size]
        return tokens

    def reset(self) -> None:
        self._buffer.clear()


def parse_reply(text: bytes) -> Reply:
    """A reply TEXT; DispenserError(GARBLED) when it is none."""
    if len(text) >= 6 and text[:1] == b"P":
        try:
            status = DispenserStatus(_POSITIONS[text[3]], _STOCK[text[4]], _BIN[text[5]])
        except KeyError:
            raise DispenserError(DispenserFailure.GARBLED, f"bad status {text[3:6]!r}") from None
        return Reply(True, text[1:3], status, None, text[6:])
    if len(text) == 5 and text[:1] == b"N":
        return Reply(False, text[1:3], None, text[3:5])
    raise DispenserError(DispenserFailure.GARBLED, f"not a reply: {text[:16]!r}")


# -- the unit ---------------------------------------------------------------------------------


class CardDispenser:
    """A CRT-571/591-style unit on a serial port; opens on first use and after a failure."""

    def __init__(
        self,
        port: str,
        address: int = 0,
        baudrate: int = 9600,
        ack_timeout: float = 0.5,
        motion_timeout: float = 5.0,
    ) -> None:
        self.port = port
        self.address = address
        self.baudrate = baudrate
        self.ack_timeout = ack_timeout
        self.motion_timeout = motion_timeout
        self._link = SerialLink(port, CARD_DISPENSER, baudrate)
        self._reader = FrameReader()

    @property
    def connected(self) -> bool:
        return self._link.connected

    def connect(self) -> None:
        if self._link.connected:
            return
        try:
            self._link.open()
        except SerialLinkError as error:
            raise DispenserError(DispenserFailure.OFFLINE, f"cannot open {self.port}") from error
        self._reader.reset()

    def close(self) -> None:
        self._link.close()

    # -- commands ---------------------------------------------------------------------------

    def status(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.STATUS))

    def device_info(self) -> str:
        return self.execute(Command.DEVICE_INFO).data.decode("ascii", "replace")

    def initialize(self, capture: bool = False) -> DispenserStatus:
        cmd = Command.INITIALIZE_CAPTURE if capture else Command.INITIALIZE
        return self._status_of(self.execute(cmd))

    def accept(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.ACCEPT))

    def dispense(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.DISPENSE))

    def move_to_read_write(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.MOVE_TO_READ_WRITE))

    def move_to_print(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.MOVE_TO_PRINT))

    def eject(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.MOVE_TO_MOUTH))

    def capture(self) -> DispenserStatus:
        return self._status_of(self.execute(Command.CAPTURE))

    def execute(self, command: Command, data: bytes = b"") -> Reply:
        """One command: frame, ACK (resending on NAK), ENQ, reply. Raises DispenserError."""
        try:
            reply = self._execute(command, data)
        except DispenserError as error:
            if error.reason in (DispenserFailure.OFFLINE, DispenserFailure.NO_REPLY,
                                DispenserFailure.GARBLED):  # fmt: skip
                self.close()  # start afresh: a late byte must not answer the next command
            raise
        if not reply.positive:
            assert reply.error is not None
            reason = ERROR_CODES.get(reply.error, DispenserFailure.REFUSED)
            raise DispenserError(reason, f"{command.name} refused: {reply.error!r}", reply.error)
        return reply

    @staticmethod
    def _status_of(reply: Reply) -> DispenserStatus:
        assert reply.status is not None
        return reply.status

    def _execute(self, command: Command, data: bytes) -> Reply:
        self.connect()
        frame = encode_frame(self.address, b"C" + command.value + data)
        for _ in range(RETRIES):
            self._write(frame)
            token = self._next_token(self.ack_timeout)
            if token == Control(ACK):
                break
            if token != Control(NAK):
                raise DispenserError(DispenserFailure.GARBLED, f"expected ACK, got {token!r}")
        else:
            raise DispenserError(DispenserFailure.GARBLED, "command refused with NAK 3 times")
        self._write(bytes([ENQ]))
        token = self._next_token(self.motion_timeout)
        if not isinstance(token, Frame):
            raise DispenserError(DispenserFailure.GARBLED, f"expected a reply, got {token!r}")
        reply = parse_reply(token.text)
        if reply.command != command.value or token.address != self.address:
            raise DispenserError(DispenserFailure.GARBLED, "reply to another command")
        return reply

    def _write(self, data: bytes) -> None:
        try:
            self._link.write(data)  # the profile drops stale input first
        except SerialLinkError as error:
            raise DispenserError(DispenserFailure.OFFLINE, f"{self.port} went away") from error

    def _next_token(self, timeout: float) -> Token:
        """The next token from the unit; NO_REPLY when nothing comes within `timeout`."""
        deadline = time.monotonic() + timeout
        pending: list[Token] = []
        while not pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DispenserError(DispenserFailure.NO_REPLY, f"no answer on {self.port}")
            try:
                chunk = self._link.read(4096, left)
            except SerialLinkError as error:
                raise DispenserError(DispenserFailure.OFFLINE, f"{self.port} went away") from error
            pending = self._reader.feed(chunk)
        return pending[0]  # the unit says one thing at a time; anything after it is noise
