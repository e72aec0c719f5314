"""Chip Authentication (ICAO 9303 Part 11, 6.2), ECDH with AES-128: the chip proves it holds
the private half of the static key in DG14 (whose hash passive authentication checked) by
computing, from the terminal's ephemeral key, the same new session keys as the terminal. Secure
messaging restarts with them (SSC 0); a clone, which cannot compute them, fails the next
command's MAC.

Under the secure messaging already running (BAC's or PACE's): MSE:Set AT (00 22 41 A4, the
protocol) and GENERAL AUTHENTICATE (00 86, 7C 80 the terminal's ephemeral public key). The
ECDH comes from `cryptography` (a standard curve, its own generator).
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys
from asn1crypto.core import Integer, ObjectIdentifier, Sequence, SetOf
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers import active_auth
from drivers.active_auth import ActiveAuthResult, ActiveAuthVerdict
from drivers.icao9303 import IcaoReader
from drivers.iso7816 import SW_OK, ChipError, ChipReason, parse_tlv, tlv
from drivers.pace import Agreement, PaceProtocol, session_keys
from drivers.secure_messaging import SecureMessaging

ID_CA_ECDH_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
# Its keys come from the shared secret as PACE's do (Part 11, 9.7.1): the same KDF.
_CA_AES_128 = PaceProtocol(ID_CA_ECDH_AES_128, Agreement.ECDH, "AES", 16)


@dataclass(frozen=True)
class ChipAuthKey:
    """DG14's Chip Authentication: the protocol, and the chip's static public key."""

    protocol: str
    public_key: ec.EllipticCurvePublicKey


class _CaInfo(Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("protocol", ObjectIdentifier), ("version", Integer),
               ("key_id", Integer, {"optional": True})]


class _PublicKeyInfo(Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("protocol", ObjectIdentifier), ("key", keys.PublicKeyInfo),
               ("key_id", Integer, {"optional": True})]


class _Infos(SetOf):  # type: ignore[misc]  # asn1crypto ships no types
    _child_spec = Sequence


def chip_auth_key(dg14: bytes | None) -> ChipAuthKey | None:
    """What DG14 offers for Chip Authentication that this terminal runs (ECDH, AES-128, a
    named curve); None when it offers none (or DG14 is unreadable)."""
    if not dg14:
        return None
    protocol = public = None
    try:
        (outer,) = parse_tlv(dg14)
        for raw in _Infos.load(outer.value):
            oid = ObjectIdentifier.load(raw.contents).dotted   # the first of its fields
            if oid == ID_CA_ECDH_AES_128:
                protocol = _CaInfo.load(raw.dump())["protocol"].dotted
            elif oid == ID_PK_ECDH:
                spki = _PublicKeyInfo.load(raw.dump())["key"].dump()
                key = serialization.load_der_public_key(spki)
                public = key if isinstance(key, ec.EllipticCurvePublicKey) else None
    except (ValueError, TypeError, KeyError, IndexError, ChipError):
        return None
    return ChipAuthKey(protocol, public) if protocol and public else None



def authenticate(sm: SecureMessaging, key: ChipAuthKey) -> tuple[SecureMessaging, ActiveAuthResult]:
    """Runs Chip Authentication in `sm`'s session: the session to go on in (new keys), and a
    result that says "passed" only once a command under the new keys has verified (the caller's
    next read: `confirm`). A chip that refuses the protocol: "failed"."""
    ephemeral = ec.generate_private_key(key.public_key.curve)
    point = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    oid = ObjectIdentifier(key.protocol).contents
    _, sw = sm.transmit(bytes([0x00, 0x22, 0x41, 0xA4]) + bytes([len(oid) + 2]) + tlv(0x80, oid))
    if sw != SW_OK:
        return sm, ActiveAuthResult(ActiveAuthVerdict.FAILED, f"MSE:Set AT refused: {sw:04X}")
    data = tlv(0x7C, tlv(0x80, point))
    _, sw = sm.transmit(bytes([0x00, 0x86, 0x00, 0x00, len(data)]) + data + b"\x00")
    if sw != SW_OK:
        return sm, ActiveAuthResult(ActiveAuthVerdict.FAILED,
                                    f"GENERAL AUTHENTICATE refused: {sw:04X}")
    keys = session_keys(ephemeral.exchange(ec.ECDH(), key.public_key), _CA_AES_128)
    return (SecureMessaging.aes(sm.transport, keys.enc, keys.mac),
            ActiveAuthResult(ActiveAuthVerdict.PASSED))


def confirm(error: ChipError) -> ActiveAuthResult:
    """The verdict when the first command under the new keys failed: the chip could not
    compute them (a clone), or the session broke some other way."""
    if error.reason is ChipReason.SECURE_MESSAGING:
        return ActiveAuthResult(ActiveAuthVerdict.FAILED,
                                "the chip could not compute the new session keys")
    return ActiveAuthResult(ActiveAuthVerdict.FAILED, f"after chip authentication: {error}")


def check_genuine(sm: SecureMessaging, dg14: bytes | None,
                  dg15: bytes | None) -> tuple[ActiveAuthResult | None, ActiveAuthResult | None]:
    """The clone checks the chip offers, in its session, after its files were read: active
    authentication (DG15) and chip authentication (DG14), each None when not offered. Chip
    authentication is confirmed by a SELECT under the new keys; the session ends with it."""
    active = active_auth.authenticate(sm, dg15, dg14) if dg15 is not None else None
    key = chip_auth_key(dg14)
    if key is None:
        return active, None
    restarted, chip = authenticate(sm, key)
    if chip.verdict is ActiveAuthVerdict.PASSED:
        try:
            IcaoReader(restarted).select_file(0x0101)   # DG1: the answer's MAC in the new keys
        except ChipError as exc:
            chip = confirm(exc)
    return active, chip
