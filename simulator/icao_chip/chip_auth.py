"""Chip Authentication, the chip's side (ICAO 9303 Part 11, 6.2; ECDH, AES-128): a static key
pair whose public half is in DG14, and, under the secure messaging already running, MSE:Set AT
(00 22 41 A4, the protocol) and GENERAL AUTHENTICATE with the terminal's ephemeral key (7C 80).
The shared secret gives new session keys; secure messaging restarts with them, SSC 0. A clone
holds the same DG14 and another private key: its keys cannot match the terminal's. Written
here, not imported from `drivers/`."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from simulator.icao_chip.apdu import (
    SW_CONDITIONS_NOT_SATISFIED,
    SW_OK,
    SW_WRONG_DATA,
    Command,
    oid_tlv,
    simple_tlvs,
    tlv,
)
from simulator.icao_chip.secure_messaging import AesSmSession

ID_CA_ECDH_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"


class ChipAuthKey:
    """The chip's static key; `clone` computes with a private key DG14 does not hold."""

    def __init__(self, *, clone: bool = False) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._secret = ec.generate_private_key(ec.SECP256R1()) if clone else self._key
        self._protocol_set = False

    def __repr__(self) -> str:
        return "ChipAuthKey(<secret>)"

    def security_infos(self) -> bytes:
        """ChipAuthenticationInfo and ChipAuthenticationPublicKeyInfo, for DG14's set."""
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        info = tlv(0x30, oid_tlv(ID_CA_ECDH_AES_128) + tlv(0x02, b"\x01"))
        public = tlv(0x30, oid_tlv(ID_PK_ECDH) + spki)
        return info + public

    def reset(self) -> None:
        self._protocol_set = False

    def set_at(self, command: Command) -> tuple[bytes, int]:
        objects = dict(simple_tlvs(command.data) or [])
        if objects.get(0x80) != oid_tlv(ID_CA_ECDH_AES_128)[2:]:
            return b"", SW_WRONG_DATA
        self._protocol_set = True
        return b"", SW_OK

    def general_authenticate(self, command: Command) -> tuple[bytes, int, AesSmSession | None]:
        """The terminal's ephemeral key in; (answer, status, the session to restart with)."""
        if not self._protocol_set:
            return b"", SW_CONDITIONS_NOT_SATISFIED, None
        self._protocol_set = False
        outer = simple_tlvs(command.data) or []
        inner = simple_tlvs(outer[0][1]) if outer and outer[0][0] == 0x7C else None
        if not inner or inner[0][0] != 0x80:
            return b"", SW_WRONG_DATA, None
        try:
            terminal = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), inner[0][1])
        except ValueError:
            return b"", SW_WRONG_DATA, None
        shared = self._secret.exchange(ec.ECDH(), terminal)
        keys = [hashlib.sha1(shared + c.to_bytes(4, "big")).digest()[:16] for c in (1, 2)]
        return tlv(0x7C, b""), SW_OK, AesSmSession(keys[0], keys[1])
