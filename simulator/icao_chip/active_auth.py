"""Active Authentication, the chip's side (ICAO 9303 Part 11, 6.1): a key pair whose public
half is DG15 (and, for ECDSA, its signature algorithm in DG14's ActiveAuthenticationInfo), and
INTERNAL AUTHENTICATE, which signs the terminal's 8-byte challenge. ECDSA P-256 with SHA-256,
the signature in plain format (r || s, BSI TR-03111); or RSA 2048 with ISO/IEC 9796-2 digital
signature scheme 1 (partial message recovery, SHA-1, trailer BC), as most older passports. A
clone holds the same files and signs with another key. Written here, not imported from
`drivers/`."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from simulator.icao_chip.apdu import SW_OK, SW_WRONG_LENGTH, Command, oid_tlv, tlv

ID_AA = "2.23.136.1.1.5"
ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"


class ActiveAuthKey:
    """The chip's key (ECDSA, or `rsa`); `clone` signs with a key DG15 does not hold."""

    def __init__(self, *, clone: bool = False, rsa_key: bool = False) -> None:
        def new() -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
            if rsa_key:
                return rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return ec.generate_private_key(ec.SECP256R1())

        self._key = new()
        self._signer = new() if clone else self._key

    def __repr__(self) -> str:
        return "ActiveAuthKey(<secret>)"

    def dg15(self) -> bytes:
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return tlv(0x6F, spki)

    @property
    def rsa(self) -> bool:
        return isinstance(self._key, rsa.RSAPrivateKey)

    def security_info(self) -> bytes | None:
        """ActiveAuthenticationInfo for DG14: ECDSA only (RSA's scheme says its hash itself)."""
        if self.rsa:
            return None
        return tlv(0x30, oid_tlv(ID_AA) + tlv(0x02, b"\x01") + oid_tlv(ECDSA_PLAIN_SHA256))

    def internal_authenticate(self, command: Command) -> tuple[bytes, int]:
        """INTERNAL AUTHENTICATE (00 88 00 00 08 challenge 00): the plain signature."""
        if len(command.data) != 8 or command.le is None:
            return b"", SW_WRONG_LENGTH
        signer = self._signer
        if isinstance(signer, rsa.RSAPrivateKey):
            return _iso9796_2_sign(signer, command.data), SW_OK
        r, s = decode_dss_signature(signer.sign(command.data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big"), SW_OK


def _iso9796_2_sign(key: rsa.RSAPrivateKey, challenge: bytes) -> bytes:
    """ISO/IEC 9796-2 scheme 1 with SHA-1: 6A || M1 || SHA-1(M1 || M2) || BC, M1 the chip's
    own random bytes filling the block, M2 the challenge (not sent back), raised to d."""
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    size = (n.bit_length() + 7) // 8
    m1 = os.urandom(size - 20 - 2)
    block = b"\x6a" + m1 + hashlib.sha1(m1 + challenge).digest() + b"\xbc"
    return pow(int.from_bytes(block, "big"), d, n).to_bytes(size, "big")

