"""Basic Access Control and secure messaging, the chip's side (ICAO 9303 Part 11, 4.3, 9.8).

`BacResponder` holds the document basic access keys and answers GET CHALLENGE and EXTERNAL
AUTHENTICATE; a mutual authentication that succeeds opens an `SmSession`, which unwraps
each protected command (DO87/DO85, DO97, DO8E checked against the SSC) into the plain one
and wraps each answer (DO87/DO85, DO99, DO8E). Written out here on purpose, not imported
from `drivers/`: the two sides of the wire must not share their crypto code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from simulator.icao_chip.apdu import (
    SW_AUTH_FAILED,
    SW_OK,
    SW_SECURITY_STATUS,
    SW_SM_INCORRECT,
    SW_SM_MISSING,
    SW_WRONG_LENGTH,
    Command,
    ber_length,
    simple_tlvs,
    sw_bytes,
)
from simulator.icao_chip.mrz import TravelDocumentHolder, mrz_information


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
    return hashlib.sha1(mrz_information(holder).encode("ascii")).digest()[:16]


def protected_size(n: int, block: int = 8) -> int:
    """Bytes of a protected answer carrying `n` plain bytes: DO87, DO99, DO8E."""
    padded = (n // block + 1) * block
    return 1 + len(ber_length(padded + 1)) + 1 + padded + 4 + 10


def plain_room(room_total: int, block: int = 8) -> int:
    """The largest plain answer whose protected form fits `room_total` bytes (3DES's 8-byte
    blocks, or AES's 16)."""
    room = max(0, room_total - 14)
    while room > 0 and protected_size(room, block) > room_total:
        room -= 1
    return room


@dataclass
class SmSession:
    """One secure-messaging session (3DES, after BAC or PACE with 3DES): the session keys and
    the send sequence counter. `AesSmSession` is the same with AES, after PACE."""

    ks_enc: bytes
    ks_mac: bytes
    ssc: int

    block = 8

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<secret>)"

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << (8 * self.block))
        return self.ssc.to_bytes(self.block, "big")

    def _pad(self, data: bytes) -> bytes:
        data += b"\x80"
        return data + bytes(-len(data) % self.block)

    def _unpad(self, data: bytes) -> bytes | None:
        stripped = data.rstrip(b"\x00")
        if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= self.block:
            return None
        return stripped[:-1]

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return _enc(self.ks_enc, data)

    def _decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return _dec(self.ks_enc, data)

    def _mac(self, data: bytes) -> bytes:
        return _mac(self.ks_mac, data)

    def unwrap(self, command: Command) -> Command | int:
        """The plain command inside a protected one, or the status that ends the session
        (6987 objects missing, 6988 objects or MAC wrong)."""
        objects = simple_tlvs(command.data)
        if objects is None or not objects or objects[-1][0] != 0x8E:
            return SW_SM_MISSING
        mac_input = b""
        cryptogram: bytes | None = None
        le: int | None = None
        le_max = False
        for tag, value in objects[:-1]:
            mac_input += bytes([tag]) + ber_length(len(value)) + value
            if tag == 0x87 and value[:1] == b"\x01":
                cryptogram = value[1:]
            elif tag == 0x85:
                cryptogram = value
            elif tag == 0x97 and len(value) in (1, 2):
                le_max = not any(value)  # 00 or 0000: Ne maximum
                le = int.from_bytes(value, "big") or (256 if len(value) == 1 else 65536)
            else:
                return SW_SM_INCORRECT
        header = bytes([command.cla, command.ins, command.p1, command.p2])
        ssc = self._next_ssc()
        expected = self._mac(self._pad(ssc + self._pad(header) + mac_input))
        if not hmac.compare_digest(expected, objects[-1][1]):
            return SW_SM_INCORRECT
        data = b""
        if cryptogram is not None:
            if not cryptogram or len(cryptogram) % self.block:
                return SW_SM_INCORRECT
            plain = self._unpad(self._decrypt(ssc, cryptogram))
            if plain is None:
                return SW_SM_INCORRECT
            data = plain
        return Command(
            0x00, command.ins, command.p1, command.p2, data, le, command.extended, le_max
        )

    def wrap(self, ins: int, answer: bytes, sw: int) -> bytes:
        """The protected response APDU for a plain answer and status."""
        ssc = self._next_ssc()
        objects = b""
        if answer:
            encrypted = self._encrypt(ssc, self._pad(answer))
            if ins & 1:
                objects += b"\x85" + ber_length(len(encrypted)) + encrypted
            else:
                objects += b"\x87" + ber_length(len(encrypted) + 1) + b"\x01" + encrypted
        objects += b"\x99\x02" + sw_bytes(sw)
        mac = self._mac(self._pad(ssc + objects))
        return objects + b"\x8e\x08" + mac + sw_bytes(sw)


@dataclass
class AesSmSession(SmSession):
    """Secure messaging with AES (Part 11, 9.8.6): a 16-byte SSC starting at 0, CBC with the
    IV E(KS_enc, SSC) for each message, AES-CMAC cut to 8 bytes, padding to 16."""

    ssc: int = 0
    block = 16

    def _iv(self, ssc: bytes) -> bytes:
        e = Cipher(algorithms.AES(self.ks_enc), modes.ECB()).encryptor()
        return e.update(ssc) + e.finalize()

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        e = Cipher(algorithms.AES(self.ks_enc), modes.CBC(self._iv(ssc))).encryptor()
        return e.update(data) + e.finalize()

    def _decrypt(self, ssc: bytes, data: bytes) -> bytes:
        d = Cipher(algorithms.AES(self.ks_enc), modes.CBC(self._iv(ssc))).decryptor()
        return d.update(data) + d.finalize()

    def _mac(self, data: bytes) -> bytes:
        mac = CMAC(algorithms.AES(self.ks_mac))
        mac.update(data)
        return mac.finalize()[:8]


class BacResponder:
    """The chip's half of Basic Access Control: a challenge, then mutual authentication.

    `wrong_key` gives the chip keys that match no MRZ (the WRONG_KEY fault).
    """

    def __init__(self, holder: TravelDocumentHolder, *, wrong_key: bool = False) -> None:
        seed = basic_access_seed(holder)
        if wrong_key:
            seed = hashlib.sha1(b"not this document" + seed).digest()[:16]
        self._k_enc, self._k_mac = _kdf(seed, 1), _kdf(seed, 2)
        self._rnd_ic: bytes | None = None

    def __repr__(self) -> str:
        return "BacResponder(<secret>)"

    def reset(self) -> None:
        self._rnd_ic = None

    def get_challenge(self, command: Command) -> bytes:
        """GET CHALLENGE: 8 random bytes (RND.IC) and 9000."""
        if command.le != 8 or command.data:
            return sw_bytes(SW_WRONG_LENGTH)
        self._rnd_ic = os.urandom(8)
        return self._rnd_ic + sw_bytes(SW_OK)

    def external_authenticate(self, command: Command) -> tuple[bytes, SmSession | None]:
        """EXTERNAL AUTHENTICATE: (the response APDU, the session it opens, if it does)."""
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        if len(command.data) != 40:
            return sw_bytes(SW_WRONG_LENGTH), None
        if rnd_ic is None:
            return sw_bytes(SW_SECURITY_STATUS), None
        e_ifd, m_ifd = command.data[:32], command.data[32:]
        if not hmac.compare_digest(_mac(self._k_mac, _pad(e_ifd)), m_ifd):
            return sw_bytes(SW_AUTH_FAILED), None
        s = _dec(self._k_enc, e_ifd)
        rnd_ifd, k_ifd = s[:8], s[16:32]
        if not hmac.compare_digest(s[8:16], rnd_ic):
            return sw_bytes(SW_AUTH_FAILED), None
        k_ic = os.urandom(16)
        e_ic = _enc(self._k_enc, rnd_ic + rnd_ifd + k_ic)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big")
        session = SmSession(_kdf(seed, 1), _kdf(seed, 2), ssc)
        return e_ic + _mac(self._k_mac, _pad(e_ic)) + sw_bytes(SW_OK), session
