"""ISO/IEC 7816-4 on the card's side: command APDUs as they arrive, status words, BER-TLV."""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_AUTH_FAILED = 0x6300
SW_SECURITY_STATUS = 0x6982
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
SW_NO_EF_SELECTED = 0x6986
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


def sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


@dataclass(frozen=True)
class Command:
    """A command APDU. `le` is None (no data expected) or 1..65536; `le_max` when the Le
    field is all zeros, Ne "maximum" (ISO 7816-4, 5.1): as many bytes as the card gives."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool
    le_max: bool = False


def parse_command(apdu: bytes) -> Command | None:
    """Any ISO 7816-4 case, short or extended; None when the lengths do not add up."""
    if len(apdu) < 4:
        return None
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None, False)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0] or 256, False, body[0] == 0)
    if body[0]:
        lc = body[0]
        if len(body) == 1 + lc:
            return Command(cla, ins, p1, p2, body[1:], None, False)
        if len(body) == 2 + lc:
            return Command(cla, ins, p1, p2, body[1:-1], body[-1] or 256, False, body[-1] == 0)
        return None
    if len(body) == 3:
        le = int.from_bytes(body[1:], "big")
        return Command(cla, ins, p1, p2, b"", le or 65536, True, le == 0)
    lc = int.from_bytes(body[1:3], "big")
    if lc and len(body) == 3 + lc:
        return Command(cla, ins, p1, p2, body[3:], None, True)
    if lc and len(body) == 5 + lc:
        le = int.from_bytes(body[-2:], "big")
        return Command(cla, ins, p1, p2, body[3:-2], le or 65536, True, le == 0)
    return None


# --- BER-TLV -------------------------------------------------------------------------------


def ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return bytes([0x82]) + n.to_bytes(2, "big")
    raise ValueError("TLV value too long")


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV object; `tag` is given as its encoded bytes read as an integer."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + ber_length(len(value)) + value


def _ber_length_of(data: bytes, pos: int) -> tuple[int, int] | None:
    """(length, bytes used) of the BER length field at `pos`; None when malformed."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, 1
    count = first & 0x7F
    if count == 0 or count > 3 or pos + 1 + count > len(data):
        return None
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), 1 + count


def simple_tlvs(data: bytes) -> list[tuple[int, bytes]] | None:
    """One-byte-tag BER-TLV objects (all SM data objects are); None when malformed."""
    out = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        parsed = _ber_length_of(data, pos + 1)
        if parsed is None:
            return None
        length, used = parsed
        start = pos + 1 + used
        if start + length > len(data):
            return None
        out.append((tag, data[start : start + length]))
        pos = start + length
    return out


def oid_tlv(dotted: str) -> bytes:
    """An object identifier, DER-encoded (06 L value)."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for n in parts[2:]:
        chunk = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            chunk.insert(0, 0x80 | (n & 0x7F))
        body += bytes(chunk)
    return tlv(0x06, body)
