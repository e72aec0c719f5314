"""Basic Access Control (ICAO 9303 Part 11, section 4.3 and Appendix D).

From the MRZ's document number, date of birth and date of expiry (each with its check
digit) to the document basic access keys, the mutual authentication (GET CHALLENGE,
EXTERNAL AUTHENTICATE) and the session keys and send sequence counter that secure
messaging starts from. The crypto (3DES, single DES, SHA-1) comes from `cryptography`.

Nothing here logs keys, nonces or MRZ data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from drivers.iso7816 import ChipError, ChipReason, Transport
from drivers.mrz import check_digit

SW_OK = 0x9000
_ZERO_IV = bytes(8)


class AuthenticationRefused(ChipError):
    """Mutual authentication failed: the MRZ data (the access key) does not match the chip."""

    def __init__(self, message: str = "BAC mutual authentication failed", *, sw: int | None = None):
        super().__init__(ChipReason.AUTHENTICATION_REFUSED, message, sw=sw)


# --- primitives (ICAO 9303 Part 11, 9.7 and 9.8) ----------------------------------------


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's lowest bit for odd parity (DES key convention)."""
    out = bytearray()
    for b in key:
        b &= 0xFE
        out.append(b | (bin(b).count("1") + 1) % 2)
    return bytes(out)


def derive_key(seed: bytes, counter: int) -> bytes:
    """A 16-byte 3DES key from K.seed and counter c (1: encryption, 2: MAC), 9.7.1."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return adjust_parity(digest[:16])


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80, then 00 up to a multiple of 8."""
    data = data + b"\x80"
    return data + bytes(-len(data) % 8)


def unpad(data: bytes) -> bytes:
    """Remove padding method 2; ValueError when it is not there."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= 8:
        raise ValueError("bad padding")
    return stripped[:-1]


def _tdes(key: bytes) -> Cipher[modes.CBC]:
    # 2-key 3DES is K1 K2 K1; single DES is K K K (cryptography wants all 24 bytes)
    full = key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key
    return Cipher(TripleDES(full), modes.CBC(_ZERO_IV))


def tdes_encrypt(key: bytes, data: bytes) -> bytes:
    """2-key 3DES in CBC mode with a zero IV (`data` already a multiple of 8)."""
    encryptor = _tdes(key).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def tdes_decrypt(key: bytes, data: bytes) -> bytes:
    decryptor = _tdes(key).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (DES, 3DES on the last block); `data` pre-padded."""
    if len(data) % 8 or not data:
        raise ValueError("MAC input must be padded to a multiple of 8 bytes")
    ka = key[:8]
    chain = _ZERO_IV
    if len(data) > 8:
        chain = tdes_encrypt(ka, data[:-8])[-8:]  # an 8-byte TripleDES key is single DES
    last = bytes(a ^ b for a, b in zip(chain, data[-8:], strict=True))
    return tdes_encrypt(key, last)


# --- keys from the MRZ ---------------------------------------------------------------------


def mrz_information(document_number: str, birth_date: str, expiry_date: str) -> str:
    """The MRZ information of 9.7.2: number, birth, expiry, each with its check digit.

    Document numbers shorter than 9 characters are padded with '<'; longer ones (TD1's
    extended number) are used whole, as Doc 9303 Part 11 says.
    """
    number = document_number.strip().upper().ljust(9, "<")
    for name, value in (("birth date", birth_date), ("expiry date", expiry_date)):
        if len(value) != 6 or not value.isdigit():
            raise ValueError(f"{name} must be YYMMDD")
    if not number or not set(number) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"):
        raise ValueError("document number holds characters outside A-Z 0-9")
    return (
        number
        + check_digit(number)
        + birth_date
        + check_digit(birth_date)
        + expiry_date
        + check_digit(expiry_date)
    )


@dataclass(frozen=True, repr=False)
class BacKeys:
    """The document basic access keys (K.enc, K.mac) and the seed they come from."""

    seed: bytes
    k_enc: bytes
    k_mac: bytes

    def __repr__(self) -> str:
        return "BacKeys(<secret>)"


def derive_bac_keys(document_number: str, birth_date: str, expiry_date: str) -> BacKeys:
    """Kseed = first 16 bytes of SHA-1(MRZ information); K.enc, K.mac from it (9.7.2)."""
    info = mrz_information(document_number, birth_date, expiry_date)
    seed = hashlib.sha1(info.encode("ascii")).digest()[:16]
    return BacKeys(seed, derive_key(seed, 1), derive_key(seed, 2))


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """KS.enc, KS.mac and the initial send sequence counter after mutual authentication."""

    ks_enc: bytes
    ks_mac: bytes
    ssc: bytes

    def __repr__(self) -> str:
        return "SessionKeys(<secret>)"


# --- mutual authentication (4.3.3) ---------------------------------------------------------


def external_authenticate_data(keys: BacKeys, rnd_ic: bytes, rnd_ifd: bytes, k_ifd: bytes) -> bytes:
    """E.IFD || M.IFD: the command data of EXTERNAL AUTHENTICATE."""
    e_ifd = tdes_encrypt(keys.k_enc, rnd_ifd + rnd_ic + k_ifd)
    return e_ifd + retail_mac(keys.k_mac, pad(e_ifd))


def session_keys_from(
    keys: BacKeys, response: bytes, rnd_ic: bytes, rnd_ifd: bytes, k_ifd: bytes
) -> SessionKeys:
    """Check the chip's E.IC || M.IC and derive the session keys; AuthenticationRefused if bad."""
    if len(response) != 40:
        raise AuthenticationRefused("EXTERNAL AUTHENTICATE answer is not 40 bytes")
    e_ic, m_ic = response[:32], response[32:]
    if not hmac.compare_digest(retail_mac(keys.k_mac, pad(e_ic)), m_ic):
        raise AuthenticationRefused("the chip's MAC does not verify")
    r = tdes_decrypt(keys.k_enc, e_ic)
    if not hmac.compare_digest(r[:8], rnd_ic) or not hmac.compare_digest(r[8:16], rnd_ifd):
        raise AuthenticationRefused("the chip did not return our challenge")
    k_ic = r[16:32]
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    return SessionKeys(derive_key(seed, 1), derive_key(seed, 2), rnd_ic[4:] + rnd_ifd[4:])


def perform_bac(
    transport: Transport,
    keys: BacKeys,
    *,
    rnd_ifd: bytes | None = None,
    k_ifd: bytes | None = None,
) -> SessionKeys:
    """GET CHALLENGE, EXTERNAL AUTHENTICATE; the session keys. Randoms may be fixed for tests."""
    rnd_ifd = os.urandom(8) if rnd_ifd is None else rnd_ifd
    k_ifd = os.urandom(16) if k_ifd is None else k_ifd
    rnd_ic, sw = transport.transmit(bytes.fromhex("0084000008"))
    if sw != SW_OK or len(rnd_ic) != 8:
        if sw in (0x6A82, 0x6D00, 0x6E00, 0x6A86):
            raise ChipError(ChipReason.NOT_A_TRAVEL_DOCUMENT, f"GET CHALLENGE: {sw:04X}", sw=sw)
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"GET CHALLENGE: {sw:04X}", sw=sw)
    command = external_authenticate_data(keys, rnd_ic, rnd_ifd, k_ifd)
    response, sw = transport.transmit(bytes([0x00, 0x82, 0x00, 0x00, 0x28]) + command + b"\x28")
    if sw != SW_OK:
        # 6300 (ICAO), 6982 and 6988 are all seen for a wrong key
        raise AuthenticationRefused(f"EXTERNAL AUTHENTICATE: {sw:04X}", sw=sw)
    return session_keys_from(keys, response, rnd_ic, rnd_ifd, k_ifd)
