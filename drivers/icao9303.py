"""ICAO 9303 eMRTD reading: the LDS application's files, EF.COM and DG1 (MRZ).

`IcaoReader` speaks ISO 7816-4 over any *transport* with
`transmit(apdu: bytes) -> tuple[bytes, int]` (response data, SW1-SW2): a
`drivers.pcsc.PcscConnection` in the clear, or a `drivers.secure_messaging.SecureMessaging`
wrapping one after Basic Access Control (`drivers.bac`). This module does not change
between the two. Reads use the largest block the transport allows (`max_read`, extended
length above 256), the first read of a file greedy (header and body in one round trip
where the chip allows it), READ BINARY with odd INS (B1) for offsets above 32767, and
`partial` keeps what was read of a file so a new reader (after the card came back) goes
on from the offset reached.

Errors: everything the chip or its data gets wrong is a `ChipError` with a `reason`.
Transport failures pass through *as they are* (e.g. `drivers.pcsc.CardRemoved`): this
module does not know its transport and does not re-wrap them.

Personal data: `MrzData` masks its personal fields in `repr`; nothing here logs APDUs,
file contents or MRZ text.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

LDS_AID = bytes.fromhex("A0000002471001")
FID_EF_COM = 0x011E
FID_EF_SOD = 0x011D
FID_DG1 = 0x0101
SFI_EF_ATR_INFO = 0x01  # EF.ATR/INFO 2F01 in the MF (ISO 7816-4, 8.2.1.1)


def dg_fid(number: int) -> int:
    """The file identifier of data group `number` (1..16): 0101..0110."""
    if not 1 <= number <= 16:
        raise ValueError("data groups are numbered 1..16")
    return 0x0100 + number


SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_NOT_FOUND = 0x6A82

MAX_SHORT_LE = 256  # Le 00 in a short APDU
MAX_EXTENDED_LE = 65536  # Le 0000 in an extended APDU
_MAX_OFFSET = 0x7FFF  # READ BINARY B0: 15-bit offset in P1-P2; beyond it, B1 with DO54
_MAX_FILE = 0xFFFFFF  # no LDS file comes near 16 MB: anything longer is garbage

# EF.COM tag list -> data group number (ICAO 9303 Part 10, table 1)
DG_TAGS = {
    0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8,
    0x69: 9, 0x6A: 10, 0x6B: 11, 0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16,
}  # fmt: skip


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


def _single(data: bytes, tag: int, what: str) -> Tlv:
    objects = parse_tlv(data)
    if len(objects) != 1 or objects[0].tag != tag:
        raise _malformed(f"{what}: expected one object with tag {tag:X}")
    return objects[0]


def _find(children: list[Tlv], tag: int, what: str) -> bytes:
    for child in children:
        if child.tag == tag:
            return child.value
    raise _malformed(f"{what}: tag {tag:X} missing")


# --- EF.COM ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EfCom:
    lds_version: str  # four digits as stored, e.g. "0107" for LDS 1.7
    unicode_version: str  # six digits as stored, e.g. "040000" for Unicode 4.0.0
    data_groups: tuple[int, ...]  # data group numbers, e.g. (1, 2); unknown tags skipped


def parse_ef_com(data: bytes) -> EfCom:
    children = _single(data, 0x60, "EF.COM").children()

    def digits(tag: int, size: int) -> str:
        raw = _find(children, tag, "EF.COM")
        if len(raw) != size or not all(0x30 <= b <= 0x39 for b in raw):
            raise _malformed(f"EF.COM: tag {tag:X} is not {size} digits")
        return raw.decode("ascii")

    tags = _find(children, 0x5C, "EF.COM")
    groups = tuple(DG_TAGS[t] for t in tags if t in DG_TAGS)
    return EfCom(digits(0x5F01, 4), digits(0x5F36, 6), groups)


def parse_atr_info(data: bytes) -> tuple[int, int] | None:
    """EF.ATR/INFO's extended length information DO 7F66: (max command, max response) bytes.

    None when the DO is absent or malformed (the chip then gets short APDUs only).
    """
    try:
        for obj in parse_tlv(data):
            if obj.tag == 0x7F66:
                values = [c for c in obj.children() if c.tag == 0x02]
                if len(values) >= 2 and all(0 < len(v.value) <= 3 for v in values[:2]):
                    max_command = int.from_bytes(values[0].value, "big")
                    max_response = int.from_bytes(values[1].value, "big")
                    if max_command > 0 and max_response > 0:
                        return max_command, max_response
    except ChipError:
        return None
    return None


# --- MRZ / DG1 ---------------------------------------------------------------------------

_MRZ_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3 check digit: weights 7-3-1, 0-9, A=10..Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(field):
        if "0" <= ch <= "9":
            value = ord(ch) - 48
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _cd_ok(field: str, digit: str, *, filler_ok: bool = False) -> bool:
    if filler_ok and digit == "<" and set(field) <= {"<"}:
        return True
    return check_digit(field) == digit


def _mask(value: str, keep: int = 0) -> str:
    if not value:
        return "''"
    return "'" + "*" * max(len(value) - keep, 3) + (value[-keep:] if keep else "") + "'"


@dataclass(frozen=True, repr=False)
class MrzData:
    """The MRZ of DG1, fields with fillers removed. `repr` masks personal fields."""

    document_code: str
    issuing_state: str
    document_number: str
    birth_date: str  # YYMMDD
    sex: str  # "M", "F" or "<"
    expiry_date: str  # YYMMDD
    nationality: str
    surname: str
    given_names: str  # space-separated
    optional_data: str
    check_digits_ok: bool

    def __repr__(self) -> str:
        return (
            f"MrzData(document_code={self.document_code!r}, "
            f"issuing_state={self.issuing_state!r}, "
            f"document_number={_mask(self.document_number, 2)}, "
            f"birth_date={_mask(self.birth_date)}, sex='*', "
            f"expiry_date={_mask(self.expiry_date)}, nationality={_mask(self.nationality)}, "
            f"surname={_mask(self.surname)}, given_names={_mask(self.given_names)}, "
            f"optional_data={_mask(self.optional_data)}, "
            f"check_digits_ok={self.check_digits_ok})"
        )

    __str__ = __repr__


def _clean(field: str) -> str:
    return field.rstrip("<").replace("<", " ")


def _names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return _clean(surname).strip(), _clean(given).strip()


def parse_mrz(mrz: str) -> MrzData:
    """Parse a TD1 (3x30), TD2 (2x36) or TD3 (2x44) MRZ; line breaks are ignored.

    Check digits that do not match give `check_digits_ok=False`, not an error.
    """
    text = "".join(mrz.split())
    if not set(text) <= _MRZ_CHARS:
        raise _malformed("MRZ holds characters outside A-Z 0-9 <")
    if len(text) == 90:
        return _parse_td1(text)
    if len(text) == 72:
        return _parse_td23(text, 36)
    if len(text) == 88:
        return _parse_td23(text, 44)
    raise _malformed(f"MRZ of {len(text)} characters is neither TD1, TD2 nor TD3")


def _parse_td1(text: str) -> MrzData:
    l1, l2, l3 = text[0:30], text[30:60], text[60:90]
    number, number_cd, optional = l1[5:14], l1[14], l1[15:30]
    if number_cd == "<" and optional[0] != "<":
        # long document number: continues in the optional data, then its check digit
        extension, _, rest = optional.partition("<")
        number, number_cd, optional = number + extension[:-1], extension[-1], rest
    ok = (
        _cd_ok(number, number_cd)
        and _cd_ok(l2[0:6], l2[6])
        and _cd_ok(l2[8:14], l2[14])
        and _cd_ok(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
    )
    surname, given = _names(l3)
    return MrzData(
        document_code=_clean(l1[0:2]),
        issuing_state=_clean(l1[2:5]),
        document_number=_clean(number),
        birth_date=l2[0:6],
        sex=l2[7],
        expiry_date=l2[8:14],
        nationality=_clean(l2[15:18]),
        surname=surname,
        given_names=given,
        optional_data=(_clean(optional) + " " + _clean(l2[18:29])).strip(),
        check_digits_ok=ok,
    )


def _parse_td23(text: str, width: int) -> MrzData:
    l1, l2 = text[:width], text[width:]
    if width == 44:  # TD3: personal number with its own check digit
        optional = l2[28:42]
        ok_optional = _cd_ok(optional, l2[42], filler_ok=True)
        composite = l2[0:10] + l2[13:20] + l2[21:43]
    else:  # TD2
        optional = l2[28:35]
        ok_optional = True
        composite = l2[0:10] + l2[13:20] + l2[21:35]
    ok = (
        _cd_ok(l2[0:9], l2[9])
        and _cd_ok(l2[13:19], l2[19])
        and _cd_ok(l2[21:27], l2[27])
        and ok_optional
        and _cd_ok(composite, l2[width - 1])
    )
    surname, given = _names(l1[5:width])
    return MrzData(
        document_code=_clean(l1[0:2]),
        issuing_state=_clean(l1[2:5]),
        document_number=_clean(l2[0:9]),
        birth_date=l2[13:19],
        sex=l2[20],
        expiry_date=l2[21:27],
        nationality=_clean(l2[10:13]),
        surname=surname,
        given_names=given,
        optional_data=_clean(optional),
        check_digits_ok=ok,
    )


def parse_dg1(data: bytes) -> MrzData:
    """DG1 = 61 { 5F1F MRZ }."""
    mrz = _find(_single(data, 0x61, "DG1").children(), 0x5F1F, "DG1")
    try:
        text = mrz.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed("DG1: MRZ is not ASCII") from None
    return parse_mrz(text)


# --- the reader --------------------------------------------------------------------------


_ACCESS_DENIED = frozenset({0x6982, 0x6985})  # security status / conditions of use
_TOO_LONG = frozenset({0x6700, 0x6B00})  # chips that refuse an Le past the end of the file


class IcaoReader:
    """Reads the LDS application of an eMRTD over `transport`.

    `max_read` is the largest READ BINARY Le to ask for: 256 in the clear with short
    APDUs, less under secure messaging (`drivers.secure_messaging.max_read_for`), up to
    65536 with extended length. `partial` maps a file identifier to the bytes already
    read from it (shared with a later reader to resume). `apdu_count` counts APDUs sent.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        max_read: int = MAX_SHORT_LE,
        partial: dict[int, bytes] | None = None,
    ) -> None:
        if not 1 <= max_read <= MAX_EXTENDED_LE:
            raise ValueError("max_read must be 1..65536")
        self.transport = transport
        self.max_read = max_read
        self.partial: dict[int, bytes] = {} if partial is None else partial
        self.greedy = True  # first read of a file asks for max_read bytes at once
        self.apdu_count = 0

    def __repr__(self) -> str:
        return f"IcaoReader(apdus={self.apdu_count}, max_read={self.max_read})"

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdu_count += 1
        data, sw = self.transport.transmit(apdu)
        return bytes(data), sw

    def select_application(self) -> None:
        data, sw = self._transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(LDS_AID)]) + LDS_AID)
        if sw == SW_OK:
            return
        if sw in (SW_NOT_FOUND, 0x6A81, 0x6A86, 0x6D00, 0x6E00):
            raise NotATravelDocument(f"SELECT LDS application: SW {sw:04X}", sw=sw)
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"SELECT application: {sw:04X}", sw=sw)

    def select_file(self, fid: int) -> None:
        data, sw = self._transmit(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big"))
        if sw == SW_NOT_FOUND:
            raise ChipError(ChipReason.FILE_NOT_FOUND, f"EF {fid:04X}", sw=sw)
        if sw in _ACCESS_DENIED:
            raise ChipError(ChipReason.ACCESS_DENIED, f"SELECT EF {fid:04X}: {sw:04X}", sw=sw)
        if sw != SW_OK:
            raise ChipError(ChipReason.UNEXPECTED_STATUS, f"SELECT EF {fid:04X}: {sw:04X}", sw=sw)

    def read_atr_info(self) -> tuple[int, int] | None:
        """EF.ATR/INFO's extended length limits, read by SFI before the application is
        selected (one APDU); None when the chip has no such file or no such DO."""
        apdu = bytes([0x00, 0xB0, 0x80 | SFI_EF_ATR_INFO, 0x00, 0x00])
        data, sw = self._transmit(apdu)
        if sw not in (SW_OK, SW_END_OF_FILE) or not data:
            return None
        return parse_atr_info(data)

    def read_binary(self, offset: int, length: int) -> bytes:
        """One READ BINARY of up to `length` bytes (1..65536) at `offset` of the current EF.

        Offsets up to 32767 use INS B0; beyond, INS B1 with the offset in DO54 and the
        data coming back in DO53 (ISO 7816-4, 11.3.3).
        """
        if not 0 <= offset <= _MAX_FILE:
            raise _malformed(f"offset {offset} beyond any LDS file")
        length = max(1, min(length, MAX_EXTENDED_LE))
        if offset <= _MAX_OFFSET:
            apdu = bytes([0x00, 0xB0, offset >> 8, offset & 0xFF]) + _le_field(length)
            data, sw = self._transmit(apdu)
            self._check_read(sw)
            return data[:length]
        do54 = b"\x54" + encode_length(len(_min_bytes(offset))) + _min_bytes(offset)
        # the answer carries a DO53 header around the data: ask for room for it
        length = max(1, min(length, self.max_read - 4))
        le = min(length + 1 + len(encode_length(length)), MAX_EXTENDED_LE)
        body = (
            bytes([len(do54)]) + do54
            if le <= MAX_SHORT_LE
            else (b"\x00" + len(do54).to_bytes(2, "big") + do54)
        )
        tail = bytes([le % 256]) if le <= MAX_SHORT_LE else (le % 65536).to_bytes(2, "big")
        data, sw = self._transmit(bytes([0x00, 0xB1, 0x00, 0x00]) + body + tail)
        self._check_read(sw)
        if not data:
            return b""
        header = parse_header(data)
        if header is None or header[0] != 0x53:
            raise _malformed("READ BINARY B1: answer is not a DO53")
        _tag, size, header_len = header
        return data[header_len : header_len + size][:length]

    @staticmethod
    def _check_read(sw: int) -> None:
        if sw in (SW_OK, SW_END_OF_FILE):
            return
        if sw in _ACCESS_DENIED:
            raise ChipError(ChipReason.ACCESS_DENIED, f"READ BINARY: {sw:04X}", sw=sw)
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"READ BINARY: {sw:04X}", sw=sw)

    def _read_head(self, offset: int) -> bytes:
        """Read at `offset` before the file's length is known: greedy when allowed."""
        if self.greedy:
            try:
                return self.read_binary(offset, self.max_read)
            except ChipError as exc:
                sw = exc.sw or 0
                if sw & 0xFF00 == 0x6C00 and sw & 0xFF:  # "Le should be xx"
                    return self.read_binary(offset, sw & 0xFF)
                if sw not in _TOO_LONG:
                    raise
                self.greedy = False  # this chip wants exact lengths: header first from now
                log.debug("chip refused a greedy read (%04X): reading headers first", sw)
        return self.read_binary(offset, 4)

    def read_file(self, fid: int) -> bytes:
        """Select EF `fid` and read one whole TLV-encoded file (header + value).

        Goes on from `partial[fid]` when an earlier reader was cut off mid-file.
        """
        content = self.partial.get(fid, b"")
        self.select_file(fid)
        header = parse_header(content) if content else None
        while header is None:
            if len(content) >= 8:
                raise _malformed(f"EF {fid:04X}: no TLV header")
            more = self._read_head(len(content))
            if not more:
                raise _malformed(f"EF {fid:04X}: no TLV header")
            content += more
            self.partial[fid] = content
            header = parse_header(content)
        _tag, length, header_len = header
        total = header_len + length
        if total > _MAX_FILE:
            raise _malformed(f"EF {fid:04X}: {total} bytes is too long for an LDS file")
        content = content[:total]
        while len(content) < total:
            chunk = self.read_binary(len(content), min(self.max_read, total - len(content)))
            if not chunk:
                raise _malformed(f"EF {fid:04X} ends before its TLV length")
            content += chunk
            self.partial[fid] = content
        self.partial.pop(fid, None)
        log.debug("read EF %04X: %d bytes", fid, total)
        return content

    def read_ef_com(self) -> EfCom:
        return parse_ef_com(self.read_file(FID_EF_COM))

    def read_dg1(self) -> MrzData:
        return parse_dg1(self.read_file(FID_DG1))


def _le_field(le: int) -> bytes:
    """Le of a case-2 APDU: one byte up to 256, else the extended form 00 Le1 Le2."""
    if le <= MAX_SHORT_LE:
        return bytes([le % 256])
    return b"\x00" + (le % 65536).to_bytes(2, "big")


def _min_bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
