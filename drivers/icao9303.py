"""ICAO 9303 eMRTD file access: the LDS application's files, EF.COM, the reader.

`IcaoReader` speaks ISO 7816-4 over any *transport* (`drivers.iso7816.Transport`): a
`drivers.pcsc.PcscConnection` in the clear, or a `drivers.secure_messaging.SecureMessaging`
wrapping one after Basic Access Control (`drivers.bac`). This module does not change
between the two. How a chip's files are read is data, `FileAccess` (drawn from what the chip
says of itself by `drivers.card_capabilities`): by short EF identifier (one READ BINARY per
file, no SELECT) or SELECT then READ BINARY; the largest block to ask for (extended length
above 256); the first read of a file greedy (header and body in one round trip). What the
reader finds out on the way (the chip refuses SFI, extended length or greedy reads) it
writes back into that `FileAccess`, so it is asked once per document, never again. READ
BINARY with odd INS (B1) reads offsets above 32767; `partial` keeps what was read of a file
so a new reader (after the card came back) goes on from the offset reached.

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
    SM_ABORTED,
    SW_END_OF_FILE,
    SW_NOT_FOUND,
    SW_OK,
    SW_WRONG_LENGTH,
    ChipError,
    ChipReason,
    NotATravelDocument,
    Transport,
    encode_length,
    find_child,
    parse_header,
    single_object,
)
from drivers.secure_messaging import max_read_for

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


def file_name(fid: int) -> str:
    """The LDS name of a file identifier: DG1..DG16, EF.COM, EF.SOD."""
    if fid == FID_EF_COM:
        return "EF.COM"
    if fid == FID_EF_SOD:
        return "EF.SOD"
    if 0x0101 <= fid <= 0x0110:
        return f"DG{fid - 0x0100}"
    return f"EF {fid:04X}"


# Short EF identifiers of the LDS application's files (ICAO 9303 Part 10, table 38):
# DG1..DG16 are 01..10, EF.SOD 1D, EF.COM 1E.
SFI_BY_FID = {dg_fid(n): n for n in range(1, 17)} | {FID_EF_SOD: 0x1D, FID_EF_COM: 0x1E}

_MAX_OFFSET = 0x7FFF  # READ BINARY B0: 15-bit offset in P1-P2; beyond it, B1 with DO54
_MAX_SFI_OFFSET = 0xFF  # READ BINARY B0 by SFI: the offset is P2 alone
_MAX_FILE = 0xFFFFFF  # no LDS file comes near 16 MB: anything longer is garbage
_HEADER_PROBE = 4  # a TLV header of any LDS file fits in 4 bytes (tag, 82 LL LL)

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


# --- the reader --------------------------------------------------------------------------


_ACCESS_DENIED = frozenset({0x6982, 0x6985})  # security status / conditions of use
_TOO_LONG = frozenset({SW_WRONG_LENGTH, 0x6B00})  # chips that refuse an Le past the end of the file
# What a chip that does not read by short EF identifier answers one (ISO 7816-4 5.6):
# function not supported, wrong P1-P2, offset out of range (P1's bit 8 read as an offset),
# command not allowed (no current EF)
_SFI_REFUSED = frozenset({0x6A81, 0x6A86, 0x6B00, 0x6986})


@dataclass
class FileAccess:
    """How one chip's files are read; drawn from what the chip says of itself, corrected by
    what it does, and kept for every session with that document.

    `short_ef_id`: READ BINARY by short EF identifier, no SELECT (True: the chip said so or
    did it; None: not known, the first read tries it; False: SELECT each file).
    `max_read`: plain bytes asked per READ BINARY; above 256 the APDU is extended, and
    65536 is Le "maximum" (ISO 7816-4 5.1: as many as the chip gives). `short_read`: what
    `max_read` falls back to when the chip refuses extended length (under secure
    messaging, less than 256). `greedy`: a file's first read asks `max_read` bytes, header
    and body in one, instead of the header first.
    """

    max_read: int = MAX_SHORT_LE
    short_read: int = MAX_SHORT_LE
    short_ef_id: bool | None = False
    greedy: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_read <= MAX_EXTENDED_LE:
            raise ValueError("max_read must be 1..65536")
        if not 1 <= self.short_read <= MAX_SHORT_LE:
            raise ValueError("short_read must be 1..256")

    @property
    def extended_length(self) -> bool:
        return self.max_read > MAX_SHORT_LE

    def refuse_extended_length(self) -> None:
        """Short APDUs from now on (the chip or the reader cannot carry extended ones)."""
        self.max_read = min(self.max_read, self.short_read)

    def fit_block(self, block: int) -> None:
        """Secure messaging in `block`-byte blocks (AES's 16, after PACE) pads each answer
        more than 3DES: reads sized for 3DES would overflow a short answer."""
        if block <= 8:
            return
        short = max_read_for(MAX_SHORT_LE, block)
        self.short_read = min(self.short_read, short)
        if self.max_read <= MAX_SHORT_LE:
            self.max_read = min(self.max_read, short)
        elif self.max_read < MAX_EXTENDED_LE:
            self.max_read = max(short, self.max_read - (block - 8))


class IcaoReader:
    """Reads the LDS application of an eMRTD over `transport`, as `access` says.

    `partial` maps a file identifier to the bytes already read from it (shared with a
    later reader to resume). `apdu_count` counts APDUs sent.
    """

    def __init__(
        self,
        transport: Transport,
        access: FileAccess | None = None,
        *,
        partial: dict[int, bytes] | None = None,
    ) -> None:
        self.transport = transport
        self.access = FileAccess() if access is None else access
        self.partial: dict[int, bytes] = {} if partial is None else partial
        self.apdu_count = 0
        self._sfi_worked = False  # a read by SFI went through in this session

    def __repr__(self) -> str:
        return f"IcaoReader(apdus={self.apdu_count}, access={self.access})"

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

    def read_ef_atr_info(self) -> bytes | None:
        """EF.ATR/INFO of the MF, read by SFI before the application is selected (one
        APDU); None when the chip has no such file (`drivers.card_capabilities` reads it)."""
        data, sw = self._transmit(bytes([0x00, 0xB0, 0x80 | SFI_EF_ATR_INFO, 0x00, 0x00]))
        return data if sw in (SW_OK, SW_END_OF_FILE) and data else None

    def read_binary(self, offset: int, length: int, *, sfi: int | None = None) -> bytes:
        """One READ BINARY of up to `length` bytes (1..65536) at `offset` of the current EF,
        or of the EF with short identifier `sfi` (which becomes the current EF; offset 0..255).

        Offsets up to 32767 use INS B0; beyond, INS B1 with the offset in DO54 and the
        data coming back in DO53 (ISO 7816-4, 11.3.3).
        """
        if not 0 <= offset <= _MAX_FILE:
            raise _malformed(f"offset {offset} beyond any LDS file")
        length = max(1, min(length, MAX_EXTENDED_LE))
        if sfi is not None:
            if not (1 <= sfi <= 0x1E and offset <= _MAX_SFI_OFFSET):
                raise ValueError("a read by SFI names SFI 1..30 and an offset of 0..255")
            apdu = bytes([0x00, 0xB0, 0x80 | sfi, offset]) + _le_field(length)
            data, sw = self._transmit(apdu)
            self._check_read(sw)
            return data[:length]
        if offset <= _MAX_OFFSET:
            apdu = bytes([0x00, 0xB0, offset >> 8, offset & 0xFF]) + _le_field(length)
            data, sw = self._transmit(apdu)
            self._check_read(sw)
            return data[:length]
        do54 = b"\x54" + encode_length(len(_min_bytes(offset))) + _min_bytes(offset)
        # the answer carries a DO53 header around the data: ask for room for it
        length = max(1, min(length, self.access.max_read - 4))
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
        if sw == SW_NOT_FOUND:  # a read by SFI names a file that is not there
            raise ChipError(ChipReason.FILE_NOT_FOUND, "READ BINARY: 6A82", sw=sw)
        if sw in _ACCESS_DENIED:
            raise ChipError(ChipReason.ACCESS_DENIED, f"READ BINARY: {sw:04X}", sw=sw)
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"READ BINARY: {sw:04X}", sw=sw)

    def _read(self, offset: int, length: int, sfi: int | None = None) -> bytes:
        """`read_binary`, once more with a short APDU if the chip refuses an extended one
        (6700): remembered in `access`, so it is asked once per document."""
        try:
            return self.read_binary(offset, length, sfi=sfi)
        except ChipError as exc:
            access = self.access
            if exc.sw != SW_WRONG_LENGTH or not access.extended_length:
                raise
            access.refuse_extended_length()
            log.info("the chip refused an extended READ BINARY: short APDUs from now on")
            try:
                return self.read_binary(offset, min(length, access.max_read), sfi=sfi)
            except ChipError as again:
                if again.sw not in SM_ABORTED:
                    raise
                # the refusal ended the session (most chips end it on any SM error):
                # the next session reads short from the start
                raise ChipError(
                    ChipReason.SECURE_MESSAGING, "session ended over extended length", sw=again.sw
                ) from again

    def _read_head(self, offset: int, sfi: int | None = None) -> bytes:
        """Read at `offset` before the file's length is known: greedy when allowed."""
        access = self.access
        if access.greedy:
            try:
                return self._read(offset, access.max_read, sfi)
            except ChipError as exc:
                sw = exc.sw or 0
                if sw & 0xFF00 == 0x6C00 and sw & 0xFF:  # "Le should be xx"
                    return self._read(offset, sw & 0xFF, sfi)
                # a chip not reading by SFI may answer 6B00 too: that is not about greed
                if sw not in _TOO_LONG or (sfi is not None and not self._sfi_worked):
                    raise
                access.greedy = False  # this chip wants exact lengths: header first from now
                log.debug("chip refused a greedy read (%04X): reading headers first", sw)
        return self._read(offset, _HEADER_PROBE, sfi)

    def _open_by_sfi(self, fid: int, offset: int) -> bytes | None:
        """The first read of EF `fid` by its short EF identifier, which selects it as well
        (ISO 7816-4, 7.2.2); None when the file is to be selected instead. A chip that
        refuses the read this way gets SELECT from then on: a fallback, never a failure."""
        access = self.access
        sfi = SFI_BY_FID.get(fid)
        if access.short_ef_id is False or sfi is None or offset > _MAX_SFI_OFFSET:
            return None
        try:
            head = self._read_head(offset, sfi)
        except ChipError as exc:
            if exc.reason is ChipReason.ACCESS_DENIED:
                raise
            if exc.sw == SW_NOT_FOUND:
                if access.short_ef_id:
                    raise  # the chip reads by SFI: the file is not there
                return None  # no file, or no SFI: SELECT tells which
            if exc.sw in SM_ABORTED:
                # the chip ended the session over this read: over SFI, unless SFI worked
                # before or the session ended over something else (extended length)
                if not self._sfi_worked and exc.reason is not ChipReason.SECURE_MESSAGING:
                    access.short_ef_id = False
                raise
            if exc.sw not in _SFI_REFUSED and access.short_ef_id:
                raise
            access.short_ef_id = False
            log.info("the chip does not read by SFI (%04X): SELECT from now on", exc.sw or 0)
            return None
        access.short_ef_id = True
        self._sfi_worked = True
        return head

    def read_file(self, fid: int) -> bytes:
        """Read one whole TLV-encoded file (header + value): by SFI, or SELECT then READ.

        Goes on from `partial[fid]` when an earlier reader was cut off mid-file.
        """
        content = self.partial.get(fid, b"")
        head = self._open_by_sfi(fid, len(content))
        if head is None:
            tried_sfi = self.access.short_ef_id is None and fid in SFI_BY_FID
            self.select_file(fid)
            if tried_sfi and len(content) <= _MAX_SFI_OFFSET:
                # the SFI read said 6A82, SELECT found the file: no SFI on this chip
                self.access.short_ef_id = False
        elif head:
            content += head
            self.partial[fid] = content
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
            chunk = self._read(len(content), min(self.access.max_read, total - len(content)))
            if not chunk:
                raise _malformed(f"EF {fid:04X} ends before its TLV length")
            content += chunk
            self.partial[fid] = content
        self.partial.pop(fid, None)
        log.debug("read EF %04X: %d bytes", fid, total)
        return content


def _le_field(le: int) -> bytes:
    """Le of a case-2 APDU: one byte up to 256, else the extended form 00 Le1 Le2."""
    if le <= MAX_SHORT_LE:
        return bytes([le % 256])
    return b"\x00" + (le % 65536).to_bytes(2, "big")


def _min_bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
