"""ICAO 9303 eMRTD reading: the LDS application's files, EF.COM and DG1 (MRZ).

`IcaoReader` speaks ISO 7816-4 over any *transport* (`drivers.iso7816.Transport`): a
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

Personal data: nothing here logs APDUs or file contents (the MRZ is `drivers.mrz`'s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers.iso7816 import (
    MAX_EXTENDED_LE,
    MAX_SHORT_LE,
    SW_END_OF_FILE,
    SW_NOT_FOUND,
    SW_OK,
    ChipError,
    ChipReason,
    NotATravelDocument,
    Transport,
    encode_length,
    find_child,
    parse_header,
    parse_tlv,
    single_object,
)
from drivers.mrz import MrzData, parse_dg1

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


_MAX_OFFSET = 0x7FFF  # READ BINARY B0: 15-bit offset in P1-P2; beyond it, B1 with DO54
_MAX_FILE = 0xFFFFFF  # no LDS file comes near 16 MB: anything longer is garbage

# EF.COM tag list -> data group number (ICAO 9303 Part 10, table 1)
DG_TAGS = {
    0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8,
    0x69: 9, 0x6A: 10, 0x6B: 11, 0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16,
}  # fmt: skip


def _malformed(message: str) -> ChipError:
    return ChipError(ChipReason.MALFORMED_DATA, message)


# --- EF.COM ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EfCom:
    lds_version: str  # four digits as stored, e.g. "0107" for LDS 1.7
    unicode_version: str  # six digits as stored, e.g. "040000" for Unicode 4.0.0
    data_groups: tuple[int, ...]  # data group numbers, e.g. (1, 2); unknown tags skipped


def parse_ef_com(data: bytes) -> EfCom:
    children = single_object(data, 0x60, "EF.COM").children()

    def digits(tag: int, size: int) -> str:
        raw = find_child(children, tag, "EF.COM")
        if len(raw) != size or not all(0x30 <= b <= 0x39 for b in raw):
            raise _malformed(f"EF.COM: tag {tag:X} is not {size} digits")
        return raw.decode("ascii")

    tags = find_child(children, 0x5C, "EF.COM")
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
