"""Active Authentication (ICAO 9303 Part 11, 6.1): is the chip the one its data was issued on?

Passive authentication proves the files genuine, not the chip: a copy of them onto another chip
passes it. The chip's Active Authentication key is one no copy can read: the terminal sends
a fresh 8-byte challenge (INTERNAL AUTHENTICATE), the chip signs it, and the signature must
verify with the public key in DG15 (whose hash passive authentication checked).

ECDSA keys (the signature in plain format r || s, BSI TR-03111; the hash from DG14's
ActiveAuthenticationInfo, SHA-1 without it) are verified here with `cryptography`. RSA keys
sign with ISO/IEC 9796-2 message recovery, not verified here yet: their verdict is
"not supported", never "passed".
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from asn1crypto.core import Integer, ObjectIdentifier, Sequence, SetOf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
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
    NOT_SUPPORTED = "not_supported"  # a key this terminal cannot check (RSA, for now)


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
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return ActiveAuthResult(ActiveAuthVerdict.NOT_SUPPORTED,
                                f"{type(key).__name__}: ISO 9796-2 not checked here")
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
