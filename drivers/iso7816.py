"""ISO/IEC 7816-4 basics every chip protocol here shares: the transport, status words,
`ChipError` with its reasons, and BER-TLV.

A *transport* is anything with `transmit(apdu: bytes) -> tuple[bytes, int]` (response data,
SW1-SW2): `drivers.pcsc.PcscConnection`, or `drivers.secure_messaging.SecureMessaging`
around one. TLV parsing never trusts its input: anything malformed is
`ChipError(MALFORMED_DATA)`, and `Tlv` shows no values in `repr` (they may be personal data).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_NOT_FOUND = 0x6A82
SW_SM_MISSING = 0x6987  # expected SM data objects missing
SW_SM_INCORRECT = 0x6988  # SM data objects incorrect
SM_ABORTED = frozenset({SW_SM_MISSING, SW_SM_INCORRECT})  # the chip ended secure messaging

MAX_SHORT_LE = 256  # Le 00 in a short APDU
MAX_EXTENDED_LE = 65536  # Le 0000 in an extended APDU: "as many as the chip gives"


class Transport(Protocol):
    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...


class ChipReason(enum.Enum):
    NOT_A_TRAVEL_DOCUMENT = "not_a_travel_document"
    AUTHENTICATION_REFUSED = "authentication_refused"  # BAC: the MRZ data does not match
    SECURE_MESSAGING = "secure_messaging"  # a response failed its MAC, or SM was aborted
    ACCESS_DENIED = "access_denied"  # e.g. DG3/DG4 behind Extended Access Control
    FILE_NOT_FOUND = "file_not_found"
    CARD_REMOVED = "card_removed"
    MALFORMED_DATA = "malformed_data"
    UNEXPECTED_STATUS = "unexpected_status"


class ChipError(Exception):
    def __init__(self, reason: ChipReason, message: str = "", *, sw: int | None = None):
        super().__init__(f"{reason.value}: {message}" if message else reason.value)
        self.reason = reason
        self.sw = sw


class NotATravelDocument(ChipError):
    def __init__(self, message: str = "no ICAO LDS application", *, sw: int | None = None):
        super().__init__(ChipReason.NOT_A_TRAVEL_DOCUMENT, message, sw=sw)


def _malformed(message: str) -> ChipError:
    return ChipError(ChipReason.MALFORMED_DATA, message)


# --- BER-TLV -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tlv:
    tag: int  # the encoded tag bytes read as a big-endian integer, e.g. 0x5F1F
    value: bytes

    @property
    def constructed(self) -> bool:
        first = self.tag.to_bytes((self.tag.bit_length() + 7) // 8 or 1, "big")[0]
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        return parse_tlv(self.value)

    def __repr__(self) -> str:  # values may be personal data
        return f"Tlv(tag=0x{self.tag:X}, length={len(self.value)})"


def parse_header(data: bytes, offset: int = 0) -> tuple[int, int, int] | None:
    """(tag, value length, header length) of the TLV at `offset`; None if `data` ends early.

    Raises ChipError(MALFORMED_DATA) on encodings we do not accept (indefinite length,
    tags over 3 bytes, lengths over 4 bytes).
    """
    pos = offset
    if pos >= len(data):
        return None
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                return None
            byte = data[pos]
            pos += 1
            tag = (tag << 8) | byte
            if pos - offset > 3:
                raise _malformed("tag longer than 3 bytes")
            if not byte & 0x80:
                break
    if pos >= len(data):
        return None
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise _malformed("indefinite length")
    else:
        count = first & 0x7F
        if count > 4:
            raise _malformed("length field longer than 4 bytes")
        if pos + count > len(data):
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, length, pos - offset


def encode_length(n: int) -> bytes:
    """A BER length field (definite form)."""
    if n < 0x80:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    return bytes([0x80 | size]) + n.to_bytes(size, "big")


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV: the tag's bytes (0x7F49 is two), the length, the value."""
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big") + encode_length(len(value)) + value


def parse_tlv(data: bytes) -> list[Tlv]:
    """Parse a run of BER-TLV objects (one level). Anything malformed: ChipError."""
    data = bytes(data)
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        header = parse_header(data, pos)
        if header is None:
            raise _malformed("truncated TLV header")
        tag, length, header_len = header
        start = pos + header_len
        if start + length > len(data):
            raise _malformed("TLV value runs past the end")
        out.append(Tlv(tag, data[start : start + length]))
        pos = start + length
    return out


def single_object(data: bytes, tag: int, what: str) -> Tlv:
    """The one TLV object `data` holds, with tag `tag`; ChipError(MALFORMED_DATA) otherwise."""
    objects = parse_tlv(data)
    if len(objects) != 1 or objects[0].tag != tag:
        raise _malformed(f"{what}: expected one object with tag {tag:X}")
    return objects[0]


def find_child(children: list[Tlv], tag: int, what: str) -> bytes:
    """The value of the first of `children` with tag `tag`; ChipError(MALFORMED_DATA) if none."""
    for child in children:
        if child.tag == tag:
            return child.value
    raise _malformed(f"{what}: tag {tag:X} missing")
