"""PACE on the wire (ICAO 9303 Part 11, 4.4.4): MSE:Set AT and the four GENERAL AUTHENTICATE
steps that carry drivers.pace's computations, ending in a secure-messaging session.

Run in the MF, before the LDS application is selected (the application is then selected
under the session). Which password (the MRZ or the CAN) and EF.CardAccess's protocols come from
the caller; a chip that offers none this terminal knows is for BAC.

Nothing here logs keys, nonces or passwords.
"""

from __future__ import annotations

import hmac

from drivers import pace
from drivers.iso7816 import SW_OK, ChipError, ChipReason, Transport, parse_tlv, tlv
from drivers.pace import PaceError, PaceInfo
from drivers.secure_messaging import SecureMessaging

SFI_EF_CARD_ACCESS = 0x1C
PASSWORD_MRZ, PASSWORD_CAN = 0x01, 0x02
_AUTH_FAILED = (0x6300, 0x6982)


class PaceRefused(ChipError):
    """The chip refused PACE's mutual authentication: the password (MRZ or CAN) is wrong."""

    def __init__(self, message: str, *, sw: int | None = None) -> None:
        super().__init__(ChipReason.AUTHENTICATION_REFUSED, message, sw=sw)


def read_card_access(transport: Transport) -> bytes | None:
    """EF.CardAccess, by SFI in the MF (one READ BINARY); None when the chip has none (it
    offers no PACE)."""
    data, sw = transport.transmit(bytes([0x00, 0xB0, 0x80 | SFI_EF_CARD_ACCESS, 0x00, 0x00]))
    return bytes(data) if sw in (SW_OK, 0x6282) and data else None



def _general_authenticate(transport: Transport, tag: int | None, value: bytes, *,
                          last: bool = False) -> tuple[bytes, int]:
    """One step: its data object in 7C out, the chip's data object in 7C back."""
    inner = tlv(tag, value) if tag is not None else b""
    data = tlv(0x7C, inner)
    cla = 0x00 if last else 0x10   # command chaining until the last step
    apdu = bytes([cla, 0x86, 0x00, 0x00, len(data)]) + data + b"\x00"
    answer, sw = transport.transmit(apdu)
    if sw in _AUTH_FAILED:
        raise PaceRefused(f"GENERAL AUTHENTICATE: {sw:04X}", sw=sw)
    if sw != SW_OK:
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"GENERAL AUTHENTICATE: {sw:04X}", sw=sw)
    objects = parse_tlv(bytes(answer))
    if len(objects) != 1 or objects[0].tag != 0x7C:
        raise ChipError(ChipReason.MALFORMED_DATA, "GENERAL AUTHENTICATE: no 7C template")
    found = parse_tlv(objects[0].value)
    if len(found) != 1:
        raise ChipError(ChipReason.MALFORMED_DATA, "GENERAL AUTHENTICATE: not one object")
    return found[0].value, found[0].tag


def perform_pace(transport: Transport, info: PaceInfo, password: bytes,
                 reference: int = PASSWORD_MRZ) -> SecureMessaging:
    """PACE with `password` (drivers.pace.mrz_password or can_password): the session it opens.
    PaceRefused when the chip does not take the password; ChipError for anything malformed."""
    protocol, domain = info.protocol, info.domain
    set_at = tlv(0x80, pace.oid_value(protocol)) + tlv(0x83, bytes([reference]))
    _, sw = transport.transmit(bytes([0x00, 0x22, 0xC1, 0xA4, len(set_at)]) + set_at)
    if sw != SW_OK:
        raise ChipError(ChipReason.UNEXPECTED_STATUS, f"MSE:Set AT: {sw:04X}", sw=sw)
    try:
        z, tag = _general_authenticate(transport, None, b"")
        _expect(tag, 0x80)
        nonce = pace.decrypt_nonce(pace.password_key(password, protocol), z, protocol)
        map_secret = pace.private_key(domain)
        chip_map, tag = _general_authenticate(
            transport, 0x81, pace.public_key(map_secret, pace.generator_of(domain), domain))
        _expect(tag, 0x82)
        generator = pace.map_nonce(nonce, map_secret, chip_map, domain)
        secret = pace.private_key(domain)
        ours = pace.public_key(secret, generator, domain)
        theirs, tag = _general_authenticate(transport, 0x83, ours)
        _expect(tag, 0x84)
        if hmac.compare_digest(ours, theirs):
            raise PaceError("the chip's ephemeral key is the terminal's")
        keys = pace.session_keys(pace.shared_secret(secret, theirs, domain), protocol)
        token, tag = _general_authenticate(
            transport, 0x85, pace.auth_token(keys.mac, protocol, theirs), last=True)
        _expect(tag, 0x86)
        if not hmac.compare_digest(token, pace.auth_token(keys.mac, protocol, ours)):
            raise PaceRefused("the chip's authentication token does not verify")
    except PaceError as exc:
        raise ChipError(ChipReason.MALFORMED_DATA, f"PACE: {exc}") from None
    if protocol.cipher == "AES":
        return SecureMessaging.aes(transport, keys.enc, keys.mac)
    return SecureMessaging(transport, keys.enc, keys.mac, bytes(8))


def _expect(tag: int, wanted: int) -> None:
    if tag != wanted:
        raise PaceError(f"data object {tag:02X} where {wanted:02X} belongs")
