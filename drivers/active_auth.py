"""Active Authentication (ICAO 9303 Part 11, 6.1): is the chip the one its data was issued on?

Passive authentication proves the files genuine, not the chip: a copy of them onto another chip
passes it. The chip's Active Authentication key is one no copy can read: the terminal sends
a fresh 8-byte challenge (INTERNAL AUTHENTICATE), the chip signs it, and the signature must
verify with the public key in DG15 (whose hash passive authentication checked).

ECDSA keys (the signature in plain format r || s, BSI TR-03111; the hash from DG14's
ActiveAuthenticationInfo, SHA-1 without it) are verified with `cryptography`. RSA keys sign
with ISO/IEC 9796-2 digital signature scheme 1, partial message recovery (the chip's own bytes
M1 come back inside the signature, the challenge does not): the signature raised to e must be
6A || M1 || H(M1 || challenge) || trailer, the trailer BC for SHA-1 or the hash's identifier and
CC (ISO/IEC 10118: 33 SHA-1, 34 SHA-256, 35 SHA-512, 36 SHA-384, 38 SHA-224). Any other key
is "not supported", never "passed".
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from dataclasses import dataclass

from asn1crypto.core import Integer, ObjectIdentifier, Sequence, SetOf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from drivers.iso7816 import SW_OK, ChipError, ChipReason, Transport, parse_tlv

ID_AA = "2.23.136.1.1.5"
_ECDSA_PLAIN = "0.4.0.127.0.7.1.1.4.1"
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    f"{_ECDSA_PLAIN}.1": hashes.SHA1, f"{_ECDSA_PLAIN}.2": hashes.SHA224,
    f"{_ECDSA_PLAIN}.3": hashes.SHA256, f"{_ECDSA_PLAIN}.4": hashes.SHA384,
    f"{_ECDSA_PLAIN}.5": hashes.SHA512,
}


class ActiveAuthVerdict(enum.Enum):
    PASSED = "passed"  # the chip signed the challenge with DG15's key
    FAILED = "failed"  # it did not: a copy of the data on another chip, or a broken chip
    NOT_SUPPORTED = "not_supported"  # a key this terminal cannot check


@dataclass(frozen=True)
class ActiveAuthResult:
    verdict: ActiveAuthVerdict
    reason: str = ""   # why, in words for the operator (no personal data)


class _Info(Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("protocol", ObjectIdentifier), ("version", Integer),
               ("algorithm", ObjectIdentifier, {"optional": True})]


class _Infos(SetOf):  # type: ignore[misc]  # asn1crypto ships no types
    _child_spec = _Info


def signature_hash(dg14: bytes | None) -> type[hashes.HashAlgorithm]:
    """The hash DG14's ActiveAuthenticationInfo names for ECDSA; SHA-1 without one."""
    if not dg14:
        return hashes.SHA1
    try:
        (outer,) = parse_tlv(dg14)
        for info in _Infos.load(outer.value):
            if info["protocol"].dotted == ID_AA and info["algorithm"].native is not None:
                return HASHES.get(info["algorithm"].dotted, hashes.SHA1)
    except (ValueError, TypeError, KeyError, ChipError):
        pass   # other SecurityInfos, or none readable: the default
    return hashes.SHA1


def internal_authenticate(transport: Transport, challenge: bytes) -> bytes:
    """The chip's signature of `challenge` (INTERNAL AUTHENTICATE, under secure messaging)."""
    data, sw = transport.transmit(bytes([0x00, 0x88, 0x00, 0x00, len(challenge)]) + challenge
                                  + b"\x00")
    if sw != SW_OK or not data:
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"INTERNAL AUTHENTICATE: {sw:04X}", sw=sw)
    return bytes(data)


def verify(dg15: bytes, dg14: bytes | None, challenge: bytes, signature: bytes) -> ActiveAuthResult:
    """Whether `signature` is the chip's of `challenge` under DG15's key."""
    try:
        (outer,) = parse_tlv(dg15)
        key = serialization.load_der_public_key(outer.value)
    except (ValueError, ChipError):
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, "DG15 holds no public key")
    if isinstance(key, rsa.RSAPublicKey):
        return _verify_iso9796_2(key, challenge, signature)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return ActiveAuthResult(ActiveAuthVerdict.NOT_SUPPORTED,
                                f"{type(key).__name__} keys are not checked here")
    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, "the signature is not r || s")
    der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                               int.from_bytes(signature[size:], "big"))
    try:
        key.verify(der, challenge, ec.ECDSA(signature_hash(dg14)()))
    except InvalidSignature:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED,
                                "the chip's signature does not verify with DG15's key")
    return ActiveAuthResult(ActiveAuthVerdict.PASSED)


_ISO10118 = {0x33: hashlib.sha1, 0x34: hashlib.sha256, 0x35: hashlib.sha512,
             0x36: hashlib.sha384, 0x38: hashlib.sha224}


def _verify_iso9796_2(key: rsa.RSAPublicKey, challenge: bytes,
                      signature: bytes) -> ActiveAuthResult:
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    s = int.from_bytes(signature, "big")
    if len(signature) != size or not 0 < s < numbers.n:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, "the signature is not the key's size")
    block = pow(s, numbers.e, numbers.n).to_bytes(size, "big")
    if block[-1] == 0xBC:
        hash_of, trailer = hashlib.sha1, 1
    elif block[-1] == 0xCC and block[-2] in _ISO10118:
        hash_of, trailer = _ISO10118[block[-2]], 2
    else:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, "the signature's trailer is wrong")
    length = hash_of().digest_size
    if block[0] != 0x6A or size < 1 + length + trailer:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, "the signature's header is wrong")
    m1 = block[1:size - trailer - length]
    digest = block[size - trailer - length:size - trailer]
    if not hmac.compare_digest(digest, hash_of(m1 + challenge).digest()):
        return ActiveAuthResult(ActiveAuthVerdict.FAILED,
                                "the chip's signature does not verify with DG15's key")
    return ActiveAuthResult(ActiveAuthVerdict.PASSED)


def authenticate(transport: Transport, dg15: bytes, dg14: bytes | None) -> ActiveAuthResult:
    """A fresh challenge, the chip's answer, the verdict."""
    challenge = os.urandom(8)
    try:
        signature = internal_authenticate(transport, challenge)
    except ChipError as exc:
        if exc.reason is ChipReason.SECURE_MESSAGING:
            raise
        return ActiveAuthResult(ActiveAuthVerdict.FAILED, f"the chip did not sign: {exc}")
    return verify(dg15, dg14, challenge, signature)
