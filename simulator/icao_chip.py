"""A simulated ICAO 9303 travel-document chip (eMRTD) with BAC and secure messaging.

This is the far side of the wire: an ISO 7816-4 APDU handler holding the LDS
application (EF.COM, EF.SOD, DG1, DG2 and optional data groups) and EF.ATR/INFO in the
MF. It is served to pcscd by `simulator.vicc` and never imports `drivers/` (the pieces
it shares with the reader, check digits, BER-TLV, the BAC key derivation and the
secure-messaging crypto, are written out here on purpose, from ICAO 9303 Part 11).

Commands:

- READ BINARY by SFI 01 ``00 B0 81 00 Le`` before the application is selected: EF.ATR/INFO
  (extended length information: commands up to 4096, answers up to 65280 bytes).
- SELECT by DF name  ``00 A4 04 0C|00 Lc AID``: the LDS AID, else 6A82.
- GET CHALLENGE ``00 84 00 00 08`` and EXTERNAL AUTHENTICATE ``00 82 00 00 28 ... 28``
  (BAC, Part 11 4.3): 6300 when the terminal's cryptogram does not verify.
- After BAC, every command must be protected (CLA 0C, DO87/DO85, DO97, DO8E): SELECT EF
  ``A4 02 0C``, READ BINARY ``B0`` (15-bit offset) and ``B1`` (DO54 offset, DO53 answer),
  short or extended. A plain command or a wrong MAC ends the session (6982 / 6988 / 6987).
  Before BAC, selecting an LDS file answers 6982.
- 6D00 unknown INS, 6E00 bad CLA, 6700 wrong length, 6A86 bad P1-P2, 6B00 offset past
  the end, 6282 when fewer than Le bytes remain.

Faults (`ChipFault`): WRONG_KEY (the chip holds other keys: mutual authentication always
fails), CORRUPT_DG2 (DG2 differs from its hash in the SOD), FORGED_SOD (the SOD signed by
a key that is not the Document Signer's). `slow_s` is slept before every answer; removal
mid-read is the slot's (`simulator.vicc.VirtualCardSlot`).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from simulator.icao_pki import ChipPki, build_sod, create_pki

LDS_AID = bytes.fromhex("A0000002471001")
FID_EF_COM = 0x011E
FID_EF_SOD = 0x011D
FID_DG1 = 0x0101
FID_EF_ATR_INFO = 0x2F01
MAX_COMMAND = 4096  # what EF.ATR/INFO announces
MAX_RESPONSE = 0xFF00

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_AUTH_FAILED = 0x6300
SW_SECURITY_STATUS = 0x6982
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
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


def _simple_tlvs(data: bytes) -> list[tuple[int, bytes]] | None:
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


DG_TAGS = {1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68, 9: 0x69,
           10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70}  # fmt: skip


def ef_com(data_group_tags: bytes = b"\x61") -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0, and the tags of the data groups present."""
    return tlv(
        0x60,
        tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, data_group_tags),
    )


def dg1(mrz: str) -> bytes:
    return tlv(0x61, tlv(0x5F1F, mrz.encode("ascii")))


def facial_record(image: bytes, width: int, height: int, *, jpeg2000: bool = False) -> bytes:
    """An ISO/IEC 19794-5 facial record with one image and no feature points."""
    image_info = (
        bytes([1, 1 if jpeg2000 else 0])  # full frontal; JPEG (0) or JPEG 2000 (1)
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # colour space 24-bit RGB, source: digital still camera
        + bytes(2)  # device type unspecified
        + bytes(2)  # quality unspecified
    )
    information = (
        (20 + len(image_info) + len(image)).to_bytes(4, "big")
        + bytes(2)  # no feature points
        + bytes([0, 0, 0])  # gender, eye colour, hair colour unspecified
        + bytes(3)  # feature mask
        + bytes(2)  # expression unspecified
        + bytes(3)  # pose angle
        + bytes(3)  # pose angle uncertainty
    )
    body = information + image_info + image
    return b"FAC\x00" + b"010\x00" + (14 + len(body)).to_bytes(4, "big") + b"\x00\x01" + body


def dg2(image: bytes, width: int, height: int, *, jpeg2000: bool = False) -> bytes:
    """DG2: 75 { 7F61 { 02 01 01, 7F60 { A1 header, 5F2E facial record } } }."""
    header = (
        tlv(0x80, b"\x01\x01")  # ICAO header version 1.1
        + tlv(0x81, b"\x02")  # biometric type: face
        + tlv(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC 1/SC 37
        + tlv(0x88, b"\x00\x08")  # format type: face image
    )
    template = tlv(0xA1, header) + tlv(
        0x5F2E, facial_record(image, width, height, jpeg2000=jpeg2000)
    )
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, template)))


DEFAULT_DG2_SIZE = 20 * 1024


def _image_size(jpeg: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        return image.size


@functools.cache
def default_face_jpeg(dg2_size: int = DEFAULT_DG2_SIZE) -> bytes:
    """The astronaut's face (scikit-image's `astronaut`) as a JPEG sized so DG2 is `dg2_size`.

    The JPEG is padded with a comment segment (FFFE) after SOI to hit the size exactly.
    """
    from PIL import Image
    from skimage import data

    portrait = Image.fromarray(data.astronaut()[10:250, 150:330])  # 180 x 240
    jpeg = b""
    for quality in range(95, 10, -5):
        buffer = io.BytesIO()
        portrait.save(buffer, format="JPEG", quality=quality)
        jpeg = buffer.getvalue()
        if len(dg2(jpeg, *portrait.size)) + 4 <= dg2_size:
            break
    deficit = dg2_size - len(dg2(jpeg, *portrait.size))
    if deficit >= 4:
        comment = b"\xff\xfe" + (deficit - 2).to_bytes(2, "big") + bytes(deficit - 4)
        jpeg = jpeg[:2] + comment + jpeg[2:]
    return jpeg


# --- BAC and secure messaging, the chip's side (ICAO 9303 Part 11, 4.3 and 9.8) -----------


def _parity(key: bytes) -> bytes:
    out = bytearray()
    for b in key:
        b &= 0xFE
        out.append(b | (bin(b).count("1") + 1) % 2)
    return bytes(out)


def _kdf(seed: bytes, counter: int) -> bytes:
    return _parity(hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()[:16])


def _pad(data: bytes) -> bytes:
    data += b"\x80"
    return data + bytes(-len(data) % 8)


def _unpad(data: bytes) -> bytes | None:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= 8:
        return None
    return stripped[:-1]


def _cipher(key: bytes) -> Cipher:
    full = key * 3 if len(key) == 8 else key + key[:8]
    return Cipher(TripleDES(full), modes.CBC(bytes(8)))


def _enc(key: bytes, data: bytes) -> bytes:
    e = _cipher(key).encryptor()
    return e.update(data) + e.finalize()


def _dec(key: bytes, data: bytes) -> bytes:
    d = _cipher(key).decryptor()
    return d.update(data) + d.finalize()


def _mac(key: bytes, data: bytes) -> bytes:
    chain = bytes(8)
    if len(data) > 8:
        chain = _enc(key[:8], data[:-8])[-8:]
    return _enc(key, bytes(a ^ b for a, b in zip(chain, data[-8:], strict=True)))


def basic_access_seed(holder: TravelDocumentHolder) -> bytes:
    """Kseed from the holder's document number, birth and expiry dates with check digits."""
    number = _mrz_text(holder.document_number).ljust(9, "<")
    info = (
        number
        + check_digit(number)
        + holder.birth_date
        + check_digit(holder.birth_date)
        + holder.expiry_date
        + check_digit(holder.expiry_date)
    )
    return hashlib.sha1(info.encode("ascii")).digest()[:16]


def _protected_size(n: int) -> int:
    padded = (n // 8 + 1) * 8
    return 1 + len(_ber_length(padded + 1)) + 1 + padded + 4 + 10


# --- the chip ----------------------------------------------------------------------------


class ChipFault(enum.Enum):
    WRONG_KEY = "wrong_key"  # the chip's keys match no MRZ: mutual authentication fails
    CORRUPT_DG2 = "corrupt_dg2"  # DG2 differs from its hash in the SOD
    FORGED_SOD = "forged_sod"  # the SOD is signed by a key that is not the DS's


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


@dataclass
class _Session:
    ks_enc: bytes
    ks_mac: bytes
    ssc: int

    def next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << 64)
        return self.ssc.to_bytes(8, "big")


@dataclass(frozen=True)
class _Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool


def _parse_command(apdu: bytes) -> _Command | None:
    """Any ISO 7816-4 case, short or extended; None when the lengths do not add up."""
    if len(apdu) < 4:
        return None
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return _Command(cla, ins, p1, p2, b"", None, False)
    if len(body) == 1:
        return _Command(cla, ins, p1, p2, b"", body[0] or 256, False)
    if body[0]:
        lc = body[0]
        if len(body) == 1 + lc:
            return _Command(cla, ins, p1, p2, body[1:], None, False)
        if len(body) == 2 + lc:
            return _Command(cla, ins, p1, p2, body[1:-1], body[-1] or 256, False)
        return None
    if len(body) == 3:
        return _Command(cla, ins, p1, p2, b"", int.from_bytes(body[1:], "big") or 65536, True)
    lc = int.from_bytes(body[1:3], "big")
    if lc and len(body) == 3 + lc:
        return _Command(cla, ins, p1, p2, body[3:], None, True)
    if lc and len(body) == 5 + lc:
        le = int.from_bytes(body[-2:], "big") or 65536
        return _Command(cla, ins, p1, p2, body[3:-2], le, True)
    return None


class IcaoChip:
    """An eMRTD chip behind Basic Access Control, with a signed SOD and injectable faults.

    The card object protocol (`atr`, `power_on`, `power_off`, `reset`, `process_apdu`)
    is what `simulator.vicc.VirtualCardSlot` serves. Without `pki`, an ephemeral CSCA and
    Document Signer are made in memory. `extra_groups` adds data groups (number -> the
    whole TLV-encoded file); DG3 and DG4 answer 6982, as behind Extended Access Control.
    """

    def __init__(
        self,
        holder: TravelDocumentHolder,
        *,
        pki: ChipPki | None = None,
        face_jpeg: bytes | None = None,
        slow_s: float = 0.0,
        faults: frozenset[ChipFault] | set[ChipFault] = frozenset(),
        extra_groups: Mapping[int, bytes] | None = None,
        atr: bytes = DEFAULT_ATR,
    ) -> None:
        self.slow_s = slow_s
        self.faults = frozenset(faults)
        self._atr = atr
        self.pki = pki or create_pki()
        face = face_jpeg if face_jpeg is not None else default_face_jpeg()
        width, height = _image_size(face)
        groups = {1: dg1(mrz_td1(holder)), 2: dg2(face, width, height)}
        for number, raw in (extra_groups or {}).items():
            if not 3 <= number <= 16:
                raise ValueError("extra data groups are numbered 3..16")
            groups[number] = raw
        sod = build_sod(self.pki, groups, forged=ChipFault.FORGED_SOD in self.faults)
        if ChipFault.CORRUPT_DG2 in self.faults:
            corrupted = bytearray(groups[2])
            corrupted[-100] ^= 0x55  # inside the image: still parses, no longer hashes
            groups[2] = bytes(corrupted)
        tags = bytes(DG_TAGS[n] for n in sorted(groups))
        self._files = {FID_EF_COM: ef_com(tags), FID_EF_SOD: sod}
        self._files.update({0x0100 + n: raw for n, raw in groups.items()})
        self._protected = {0x0103, 0x0104}  # DG3, DG4: EAC, which this chip does not offer
        self._atr_info = tlv(
            0x7F66,
            tlv(0x02, MAX_COMMAND.to_bytes(2, "big")) + tlv(0x02, MAX_RESPONSE.to_bytes(2, "big")),
        )
        seed = basic_access_seed(holder)
        if ChipFault.WRONG_KEY in self.faults:
            seed = hashlib.sha1(b"not this document" + seed).digest()[:16]
        self._k_enc, self._k_mac = _kdf(seed, 1), _kdf(seed, 2)
        self._lock = Lock()
        self._app_selected = False
        self._current: int | None = None
        self._rnd_ic: bytes | None = None
        self._session: _Session | None = None
        self.apdu_count = 0

    def __repr__(self) -> str:
        faults = sorted(f.value for f in self.faults)
        return f"IcaoChip(slow_s={self.slow_s}, faults={faults}, apdus={self.apdu_count})"

    def file(self, fid: int) -> bytes:
        """A file's content as the chip serves it (for tests and the bench)."""
        return self._files[fid]

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
            self._rnd_ic = None
            self._session = None

    def process_apdu(self, apdu: bytes) -> bytes:
        if self.slow_s > 0:
            time.sleep(self.slow_s)
        with self._lock:
            self.apdu_count += 1
            return self._dispatch(bytes(apdu))

    # ISO 7816-4

    def _dispatch(self, apdu: bytes) -> bytes:
        command = _parse_command(apdu)
        if command is None:
            return _sw(SW_WRONG_LENGTH)
        if command.cla == 0x0C:
            return self._secure(command)
        if command.cla != 0x00:
            return _sw(SW_CLA_NOT_SUPPORTED)
        if self._session is not None:  # a plain command ends the secure session
            self._session = None
            self._current = None
            return _sw(SW_SECURITY_STATUS)
        if command.ins == 0x84:
            return self._get_challenge(command)
        if command.ins == 0x82:
            return self._external_authenticate(command)
        if command.ins == 0xA4:
            data, sw = self._select(command, authenticated=False)
            return data + _sw(sw)
        if command.ins == 0xB0 and not self._app_selected and command.p1 == 0x81:
            data, sw = self._read(self._atr_info, command.p2, command.le, 256)
            return data + _sw(sw)
        if command.ins in (0xB0, 0xB1):
            return _sw(SW_SECURITY_STATUS if self._app_selected else SW_NO_EF_SELECTED)
        return _sw(SW_INS_NOT_SUPPORTED)

    def _get_challenge(self, command: _Command) -> bytes:
        if command.le != 8 or command.data:
            return _sw(SW_WRONG_LENGTH)
        self._rnd_ic = os.urandom(8)
        return self._rnd_ic + _sw(SW_OK)

    def _external_authenticate(self, command: _Command) -> bytes:
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        if len(command.data) != 40:
            return _sw(SW_WRONG_LENGTH)
        if rnd_ic is None:
            return _sw(SW_SECURITY_STATUS)
        e_ifd, m_ifd = command.data[:32], command.data[32:]
        if not hmac.compare_digest(_mac(self._k_mac, _pad(e_ifd)), m_ifd):
            return _sw(SW_AUTH_FAILED)
        s = _dec(self._k_enc, e_ifd)
        rnd_ifd, k_ifd = s[:8], s[16:32]
        if not hmac.compare_digest(s[8:16], rnd_ic):
            return _sw(SW_AUTH_FAILED)
        k_ic = os.urandom(16)
        e_ic = _enc(self._k_enc, rnd_ic + rnd_ifd + k_ic)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big")
        self._session = _Session(_kdf(seed, 1), _kdf(seed, 2), ssc)
        self._current = None
        return e_ic + _mac(self._k_mac, _pad(e_ic)) + _sw(SW_OK)

    def _select(self, command: _Command, *, authenticated: bool) -> tuple[bytes, int]:
        data = command.data
        if not data:
            return b"", SW_WRONG_LENGTH
        p1, p2 = command.p1, command.p2
        if p1 == 0x04 and p2 in (0x0C, 0x00):
            if data != LDS_AID:
                return b"", SW_NOT_FOUND
            self._app_selected = True
            self._current = None
            if p2 == 0x00:  # return FCI
                return tlv(0x6F, tlv(0x84, LDS_AID)), SW_OK
            return b"", SW_OK
        if p1 == 0x02 and p2 == 0x0C:
            if len(data) != 2:
                return b"", SW_WRONG_LENGTH
            fid = int.from_bytes(data, "big")
            if not self._app_selected or fid not in self._files:
                return b"", SW_NOT_FOUND
            if not authenticated or fid in self._protected:
                return b"", SW_SECURITY_STATUS
            self._current = fid
            return b"", SW_OK
        return b"", SW_WRONG_P1P2

    def _read(self, content: bytes, offset: int, le: int | None, room: int) -> tuple[bytes, int]:
        """`le` bytes at `offset` of `content`, if the answer fits `room` bytes."""
        if le is None:
            return b"", SW_WRONG_LENGTH
        if offset >= len(content):
            return b"", SW_WRONG_OFFSET
        chunk = content[offset : offset + le]
        if len(chunk) > room:
            return b"", SW_WRONG_LENGTH
        return chunk, SW_OK if len(chunk) == le else SW_END_OF_FILE

    # secure messaging

    def _abort(self, sw: int) -> bytes:
        self._session = None
        self._current = None
        return _sw(sw)

    def _secure(self, command: _Command) -> bytes:
        session = self._session
        if session is None:
            return _sw(SW_SM_MISSING)
        objects = _simple_tlvs(command.data)
        if objects is None or not objects or objects[-1][0] != 0x8E:
            return self._abort(SW_SM_MISSING)
        mac_input = b""
        cryptogram: bytes | None = None
        le: int | None = None
        for tag, value in objects[:-1]:
            mac_input += bytes([tag]) + _ber_length(len(value)) + value
            if tag == 0x87 and value[:1] == b"\x01":
                cryptogram = value[1:]
            elif tag == 0x85:
                cryptogram = value
            elif tag == 0x97 and len(value) in (1, 2):
                le = int.from_bytes(value, "big") or (256 if len(value) == 1 else 65536)
            else:
                return self._abort(SW_SM_INCORRECT)
        header = bytes([command.cla, command.ins, command.p1, command.p2])
        expected = _mac(session.ks_mac, _pad(session.next_ssc() + _pad(header) + mac_input))
        if not hmac.compare_digest(expected, objects[-1][1]):
            return self._abort(SW_SM_INCORRECT)
        data = b""
        if cryptogram is not None:
            if not cryptogram or len(cryptogram) % 8:
                return self._abort(SW_SM_INCORRECT)
            plain = _unpad(_dec(session.ks_enc, cryptogram))
            if plain is None:
                return self._abort(SW_SM_INCORRECT)
            data = plain
        # what the protected answer may hold: the outer Le, within what we announce
        outer = command.le or 256
        room_total = min(outer, MAX_RESPONSE if command.extended else 256)
        answer, sw = self._secure_command(command, data, le, room_total)
        return self._protect(session, command.ins, answer, sw)

    def _secure_command(
        self, command: _Command, data: bytes, le: int | None, room_total: int
    ) -> tuple[bytes, int]:
        inner = _Command(0x00, command.ins, command.p1, command.p2, data, le, command.extended)
        # the largest plain answer whose protected form fits
        room = max(0, room_total - 14)
        while room > 0 and _protected_size(room) > room_total:
            room -= 1
        if command.ins == 0xA4:
            return self._select(inner, authenticated=True)
        if command.ins == 0xB0:
            if command.p1 & 0x80:
                return b"", SW_WRONG_P1P2  # short-EF addressing is not offered
            if self._current is None:
                return b"", SW_NO_EF_SELECTED
            offset = (command.p1 << 8) | command.p2
            return self._read(self._files[self._current], offset, le, room)
        if command.ins == 0xB1:
            if (command.p1, command.p2) != (0, 0) or self._current is None:
                return b"", SW_WRONG_P1P2 if self._current is not None else SW_NO_EF_SELECTED
            objects = _simple_tlvs(data)
            if not objects or objects[0][0] != 0x54 or not 1 <= len(objects[0][1]) <= 3:
                return b"", SW_WRONG_LENGTH
            offset = int.from_bytes(objects[0][1], "big")
            if le is None or le < 3:
                return b"", SW_WRONG_LENGTH
            size = le - 1 - len(_ber_length(le))
            chunk, sw = self._read(self._files[self._current], offset, size, room - 4)
            if sw not in (SW_OK, SW_END_OF_FILE):
                return b"", sw
            return tlv(0x53, chunk), sw
        return b"", SW_INS_NOT_SUPPORTED

    @staticmethod
    def _protect(session: _Session, ins: int, answer: bytes, sw: int) -> bytes:
        objects = b""
        if answer:
            encrypted = _enc(session.ks_enc, _pad(answer))
            if ins & 1:
                objects += b"\x85" + _ber_length(len(encrypted)) + encrypted
            else:
                objects += b"\x87" + _ber_length(len(encrypted) + 1) + b"\x01" + encrypted
        objects += b"\x99\x02" + _sw(sw)
        mac = _mac(session.ks_mac, _pad(session.next_ssc() + objects))
        return objects + b"\x8e\x08" + mac + _sw(sw)
