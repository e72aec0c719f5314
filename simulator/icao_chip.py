"""A simulated ICAO 9303 travel-document chip (eMRTD), read in the clear.

This is the far side of the wire: an ISO 7816-4 APDU handler holding the LDS
application with EF.COM and DG1. It is served to pcscd by `simulator.vicc`
and never imports `drivers/` (the small pieces it shares with the reader, the
7-3-1 check digit and BER-TLV lengths, are duplicated here on purpose).

Supported commands (CLA 00 only; secure messaging comes later):

- SELECT by DF name  ``00 A4 04 0C|00 Lc AID``: the LDS AID, else 6A82.
- SELECT EF by FID   ``00 A4 02 0C 02 FID``: EF.COM 011E, DG1 0101, else 6A82
  (also 6A82 while the application is not selected).
- READ BINARY        ``00 B0 P1 P2 Le``: data+9000; data+6282 when fewer than Le
  bytes remain; 6B00 at or past the end; 6986 with no EF selected.
- 6D00 unknown INS, 6E00 bad CLA, 6700 wrong length, 6A86 bad P1-P2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from threading import Lock

LDS_AID = bytes.fromhex("A0000002471001")
FID_EF_COM = 0x011E
FID_DG1 = 0x0101

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_NO_EF_SELECTED = 0x6986
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


def _with_tck(without_tck: bytes) -> bytes:
    """Append TCK: the XOR of every byte after TS (needed when T!=0 is indicated)."""
    tck = 0
    for b in without_tck[1:]:
        tck ^= b
    return without_tck + bytes([tck])


# PC/SC part 3 ATR for an ISO 14443-4 type B card: 3B 88 80 01, then 8 historical
# bytes (ATQB application data, protocol info, MBLI/CID), then TCK.
DEFAULT_ATR = _with_tck(bytes.fromhex("3B888001 00000000 778181 00"))


# --- MRZ (ICAO 9303 Part 3/5) ----------------------------------------------------------

_MRZ_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3 check digit: weights 7-3-1, A=10..Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(field):
        if ch.isdigit():
            value = ord(ch) - ord("0")
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _mrz_text(text: str) -> str:
    """Upper-case Latin text as MRZ characters: spaces and hyphens become fillers."""
    out = []
    for ch in text.upper():
        if ch in _MRZ_ALPHABET:
            out.append(ch)
        elif ch in " -,":
            out.append("<")
        # apostrophes and other marks are dropped (ICAO 9303 Part 3, 6.A)
    return "".join(out)


def _field(text: str, width: int) -> str:
    value = _mrz_text(text)
    if len(value) > width:
        raise ValueError(f"MRZ field longer than {width} characters")
    return value.ljust(width, "<")


@dataclass
class TravelDocumentHolder:
    """The personal data printed in the MRZ and stored in DG1 (test data only)."""

    document_code: str = "CS"
    issuing_state: str = "CHN"
    document_number: str = "C01234567"
    birth_date: str = "900115"
    sex: str = "F"
    expiry_date: str = "330115"
    nationality: str = "CHN"
    surname: str = "ZHANG"
    given_names: str = "SAN"
    optional_data: str = ""

    def __repr__(self) -> str:  # never leak personal data into logs
        number = self.document_number
        return (
            f"TravelDocumentHolder(document_code={self.document_code!r}, "
            f"issuing_state={self.issuing_state!r}, document_number='***{number[-2:]}')"
        )


def mrz_td1(holder: TravelDocumentHolder) -> str:
    """The TD1 MRZ (3 lines of 30, concatenated: 90 characters) with all check digits."""
    number = _field(holder.document_number, 9)
    line1 = (
        _field(holder.document_code, 2)
        + _field(holder.issuing_state, 3)
        + number
        + check_digit(number)
        + _field(holder.optional_data, 15)
    )
    birth = _field(holder.birth_date, 6)
    expiry = _field(holder.expiry_date, 6)
    line2 = (
        birth
        + check_digit(birth)
        + _field(holder.sex or "<", 1)
        + expiry
        + check_digit(expiry)
        + _field(holder.nationality, 3)
        + "<" * 11
    )
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    name = _mrz_text(holder.surname) + "<<" + _mrz_text(holder.given_names)
    line3 = name[:30].ljust(30, "<")
    return line1 + line2 + line3


# --- BER-TLV encoding --------------------------------------------------------------------


def _ber_length(n: int) -> bytes:
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
    return tag_bytes + _ber_length(len(value)) + value


def ef_com(data_group_tags: bytes = b"\x61") -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0, and the tags of the data groups present."""
    return tlv(
        0x60,
        tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, data_group_tags),
    )


def dg1(mrz: str) -> bytes:
    return tlv(0x61, tlv(0x5F1F, mrz.encode("ascii")))


# --- the chip ----------------------------------------------------------------------------


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class IcaoChip:
    """An eMRTD chip with the LDS application, EF.COM and DG1, readable without BAC.

    `slow_s` is slept before every APDU answer, to let tests pull the card mid-read.
    The card object protocol (`atr`, `power_on`, `power_off`, `reset`, `process_apdu`)
    is what `simulator.vicc.VirtualCardSlot` serves.
    """

    def __init__(
        self, holder: TravelDocumentHolder, slow_s: float = 0.0, atr: bytes = DEFAULT_ATR
    ) -> None:
        self.slow_s = slow_s
        self._atr = atr
        self._files = {FID_EF_COM: ef_com(b"\x61"), FID_DG1: dg1(mrz_td1(holder))}
        self._lock = Lock()
        self._app_selected = False
        self._current: int | None = None
        self.apdu_count = 0

    def __repr__(self) -> str:
        return f"IcaoChip(slow_s={self.slow_s}, apdus={self.apdu_count})"

    # card object protocol

    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> None:
        self._reset_state()

    def power_off(self) -> None:
        self._reset_state()

    def reset(self) -> None:
        self._reset_state()

    def _reset_state(self) -> None:
        with self._lock:
            self._app_selected = False
            self._current = None

    def process_apdu(self, apdu: bytes) -> bytes:
        if self.slow_s > 0:
            time.sleep(self.slow_s)
        with self._lock:
            self.apdu_count += 1
            return self._dispatch(bytes(apdu))

    # ISO 7816-4

    def _dispatch(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return _sw(SW_WRONG_LENGTH)
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        if cla != 0x00:
            return _sw(SW_CLA_NOT_SUPPORTED)
        body = apdu[4:]
        if ins == 0xA4:
            return self._select(p1, p2, body)
        if ins == 0xB0:
            return self._read_binary(p1, p2, body)
        return _sw(SW_INS_NOT_SUPPORTED)

    @staticmethod
    def _command_data(body: bytes) -> bytes | None:
        """Data of a short case 3/4 command (Lc data [Le]); None when the length is wrong."""
        if not body:
            return None
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            return None
        return body[1 : 1 + lc]

    def _select(self, p1: int, p2: int, body: bytes) -> bytes:
        data = self._command_data(body)
        if data is None:
            return _sw(SW_WRONG_LENGTH)
        if p1 == 0x04 and p2 in (0x0C, 0x00):
            if data != LDS_AID:
                return _sw(SW_NOT_FOUND)
            self._app_selected = True
            self._current = None
            if p2 == 0x00:  # return FCI
                return tlv(0x6F, tlv(0x84, LDS_AID)) + _sw(SW_OK)
            return _sw(SW_OK)
        if p1 == 0x02 and p2 == 0x0C:
            if len(data) != 2:
                return _sw(SW_WRONG_LENGTH)
            fid = int.from_bytes(data, "big")
            if not self._app_selected or fid not in self._files:
                return _sw(SW_NOT_FOUND)
            self._current = fid
            return _sw(SW_OK)
        return _sw(SW_WRONG_P1P2)

    def _read_binary(self, p1: int, p2: int, body: bytes) -> bytes:
        if len(body) != 1:  # exactly a short Le
            return _sw(SW_WRONG_LENGTH)
        if p1 & 0x80:  # short-EF addressing is not offered
            return _sw(SW_WRONG_P1P2)
        if self._current is None:
            return _sw(SW_NO_EF_SELECTED)
        content = self._files[self._current]
        offset = (p1 << 8) | p2
        le = body[0] or 256
        if offset >= len(content):
            return _sw(SW_WRONG_OFFSET)
        chunk = content[offset : offset + le]
        return chunk + _sw(SW_OK if len(chunk) == le else SW_END_OF_FILE)
