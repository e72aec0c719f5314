"""Secure messaging with 3DES or AES session keys (ICAO 9303 Part 11, 9.8; ISO/IEC 7816-4 SM).

`SecureMessaging` wraps any transport (`transmit(apdu) -> (data, sw)`) and offers the
same interface: every plain command APDU handed to it goes out protected (CLA with
bit 0x0C, DO87 or DO85 for data, DO97 for Le, DO8E for the MAC over SSC || header ||
objects), and every response comes back verified (DO8E checked, DO99 the status) and
decrypted. Short or extended length follows the command: if the plain Le or the
protected data do not fit a short APDU, the protected one is extended.

With AES (after PACE, 9.8.6) the SSC is 16 bytes and starts at 0, each message is encrypted
in CBC mode with the IV E(KS_enc, SSC), padding is to 16 bytes and the MAC is AES-CMAC cut to
8 bytes (`SecureMessaging.aes`).

Status words answered *without* SM objects (e.g. 6987/6988 after an SM error, which
ends the session on most chips: `drivers.iso7816.SM_ABORTED`) are passed up as they are,
with no data.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from drivers.bac import retail_mac, tdes_decrypt, tdes_encrypt
from drivers.iso7816 import ChipError, ChipReason, Transport, encode_length, parse_tlv, tlv


class SecureMessagingError(ChipError):
    """A response that fails the MAC check or is not well-formed SM: the session is over."""

    def __init__(self, message: str, *, sw: int | None = None) -> None:
        super().__init__(ChipReason.SECURE_MESSAGING, message, sw=sw)


@dataclass(frozen=True)
class CommandApdu:
    """A plain command APDU. `le` is None (no response data expected) or 1..65536."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    @classmethod
    def parse(cls, apdu: bytes) -> CommandApdu:
        """Parse any ISO 7816-4 case (1, 2, 3, 4; short or extended). ValueError if malformed."""
        if len(apdu) < 4:
            raise ValueError("APDU shorter than its header")
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, body[1:-1], body[-1] or 256)
            raise ValueError("short APDU length fields do not match")
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:], "big") or 65536)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ValueError("extended Lc of zero")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:])
        if len(body) == 5 + lc:
            return cls(cla, ins, p1, p2, body[3:-2], int.from_bytes(body[-2:], "big") or 65536)
        raise ValueError("extended APDU length fields do not match")

    def encode(self) -> bytes:
        """Short encoding when data and Le fit, else extended."""
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        extended = len(self.data) > 255 or (self.le is not None and self.le > 256)
        out = header
        if extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                out += (b"" if self.data else b"\x00") + (self.le % 65536).to_bytes(2, "big")
            return out
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le % 256])
        return out


def _le_bytes(le: int) -> bytes:
    """DO97's value: one byte up to 256 (00 = 256), else two (0000 = 65536)."""
    return bytes([le % 256]) if le <= 256 else (le % 65536).to_bytes(2, "big")



def pad_to(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2 to `block` bytes: 80, then 00."""
    data = data + b"\x80"
    return data + bytes(-len(data) % block)


def unpad_from(data: bytes, block: int) -> bytes:
    """Remove padding method 2 of `block`-byte blocks; ValueError when it is not there."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= block:
        raise ValueError("bad padding")
    return stripped[:-1]


class SecureMessaging:
    """A transport that protects every command and verifies every response (3DES after BAC;
    `aes` after PACE)."""

    block = 8

    def __init__(self, transport: Transport, ks_enc: bytes, ks_mac: bytes, ssc: bytes) -> None:
        self.transport = transport
        self._ks_enc = ks_enc
        self._ks_mac = ks_mac
        self._ssc = int.from_bytes(ssc, "big")

    @staticmethod
    def aes(transport: Transport, ks_enc: bytes, ks_mac: bytes) -> SecureMessaging:
        """The session PACE opens with AES keys: the SSC starts at 0."""
        return AesSecureMessaging(transport, ks_enc, ks_mac, bytes(16))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<session>)"

    @property
    def ssc(self) -> bytes:
        return self._ssc.to_bytes(self.block, "big")

    def _next_ssc(self) -> bytes:
        self._ssc = (self._ssc + 1) % (1 << (8 * self.block))
        return self.ssc

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return tdes_encrypt(self._ks_enc, data)

    def _decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return tdes_decrypt(self._ks_enc, data)

    def _mac(self, data: bytes) -> bytes:
        return retail_mac(self._ks_mac, data)

    def protect(self, apdu: bytes) -> bytes:
        """The protected form of a plain command APDU (advances the SSC)."""
        try:
            command = CommandApdu.parse(apdu)
        except ValueError as exc:
            raise ChipError(ChipReason.MALFORMED_DATA, f"command APDU: {exc}") from None
        cla = command.cla | 0x0C
        header = bytes([cla, command.ins, command.p1, command.p2])
        objects = b""
        ssc = self._next_ssc()
        if command.data:
            encrypted = self._encrypt(ssc, pad_to(command.data, self.block))
            if command.ins & 1:  # odd INS: BER-TLV data, DO85 without padding indicator
                objects += tlv(0x85, encrypted)
            else:
                objects += tlv(0x87, b"\x01" + encrypted)
        if command.le is not None:
            objects += tlv(0x97, _le_bytes(command.le))
        block = self.block
        mac = self._mac(pad_to(ssc + pad_to(header, block) + objects, block))
        objects += tlv(0x8E, mac)
        # the outer Le asks for as much as the protected response can hold
        extended = len(objects) > 255 or (command.le is not None and command.le > 256)
        outer_le = 65536 if extended else 256
        return CommandApdu(cla, command.ins, command.p1, command.p2, objects, outer_le).encode()

    def unprotect(self, data: bytes, sw: int) -> tuple[bytes, int]:
        """Verify and decrypt a protected response (advances the SSC): (plain data, SW)."""
        ssc = self._next_ssc()
        if not data:
            if sw == 0x9000 or 0x6100 <= sw <= 0x61FF:
                raise SecureMessagingError("a success answer without SM objects", sw=sw)
            return b"", sw  # an unprotected error status (e.g. 6987, 6988, 6A82)
        try:
            objects = parse_tlv(data)
        except ChipError:
            raise SecureMessagingError("response is not a run of SM objects", sw=sw) from None
        mac_input = b""
        cryptogram: bytes | None = None
        odd = False
        status: int | None = None
        mac: bytes | None = None
        for obj in objects:
            if mac is not None:
                raise SecureMessagingError("objects after DO8E", sw=sw)
            encoded = tlv(obj.tag, obj.value) if obj.tag <= 0xFF else None
            if obj.tag in (0x87, 0x85):
                cryptogram, odd = obj.value, obj.tag == 0x85
            elif obj.tag == 0x99:
                if len(obj.value) != 2:
                    raise SecureMessagingError("DO99 is not two bytes", sw=sw)
                status = int.from_bytes(obj.value, "big")
            elif obj.tag == 0x8E:
                mac = obj.value
                continue
            else:
                raise SecureMessagingError(f"unexpected SM object {obj.tag:X}", sw=sw)
            assert encoded is not None
            mac_input += encoded
        if mac is None:
            raise SecureMessagingError("response without DO8E", sw=sw)
        expected = self._mac(pad_to(ssc + mac_input, self.block))
        if not hmac.compare_digest(expected, mac):
            raise SecureMessagingError("response MAC does not verify", sw=sw)
        if status is None:
            raise SecureMessagingError("response without DO99", sw=sw)
        plain = b""
        if cryptogram is not None:
            if not odd:
                if not cryptogram or cryptogram[0] != 0x01:
                    raise SecureMessagingError("DO87 without padding indicator 01", sw=sw)
                cryptogram = cryptogram[1:]
            if not cryptogram or len(cryptogram) % self.block:
                raise SecureMessagingError("cryptogram not whole blocks", sw=sw)
            try:
                plain = unpad_from(self._decrypt(ssc, cryptogram), self.block)
            except ValueError:
                raise SecureMessagingError("bad padding in the cryptogram", sw=sw) from None
        return plain, status

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Protect `apdu`, send it, verify and decrypt the answer."""
        protected = self.protect(apdu)
        data, sw = self.transport.transmit(protected)
        return self.unprotect(bytes(data), sw)


class AesSecureMessaging(SecureMessaging):
    block = 16

    def _iv(self, ssc: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(self._ks_enc), modes.ECB()).encryptor()
        return encryptor.update(ssc) + encryptor.finalize()

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        e = Cipher(algorithms.AES(self._ks_enc), modes.CBC(self._iv(ssc))).encryptor()
        return e.update(data) + e.finalize()

    def _decrypt(self, ssc: bytes, data: bytes) -> bytes:
        d = Cipher(algorithms.AES(self._ks_enc), modes.CBC(self._iv(ssc))).decryptor()
        return d.update(data) + d.finalize()

    def _mac(self, data: bytes) -> bytes:
        mac = CMAC(algorithms.AES(self._ks_mac))
        mac.update(data)
        return mac.finalize()[:8]


def protected_response_size(plain_length: int, block: int = 8) -> int:
    """Bytes of a protected READ answer carrying `plain_length` bytes (DO87, DO99, DO8E), in
    `block`-byte blocks (3DES 8, AES 16)."""
    padded = (plain_length // block + 1) * block
    do87 = 1 + len(encode_length(padded + 1)) + 1 + padded
    return do87 + 4 + 10


def max_read_for(max_response: int, block: int = 8) -> int:
    """The largest plain Le whose protected answer fits `max_response` bytes of data.

    256 (a short APDU's answer) gives 231 with 3DES, 223 with AES; an extended-length chip's
    limit from EF.ATR/INFO gives a few bytes short of it.
    """
    n = max(1, max_response - 14)
    while n > 1 and protected_response_size(n, block) > max_response:
        n -= 1
    return min(n, 65536)
