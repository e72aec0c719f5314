"""PACE, the computations (ICAO 9303 Part 11, section 4.4 and 9.7; Generic Mapping).

What the terminal computes, from the chip's EF.CardAccess to the session keys and the
authentication tokens: which PACE protocols a chip offers, the password key K_pi from the MRZ
or the CAN, the nonce decrypted, the nonce mapped to a new generator (Generic Mapping, over an
elliptic curve or a Diffie-Hellman group), the shared secret, KS_enc and KS_mac, and the tokens
of the mutual authentication. The APDUs that carry them (MSE:Set AT, GENERAL AUTHENTICATE) are
the reader's.

The ciphers, hashes and MACs come from `cryptography`; the elliptic-curve points from `ecdsa`,
since Generic Mapping adds points and multiplies a generator of its own making, which
`cryptography`'s ECDH does not offer. No curve arithmetic is written here. Neither library's
point arithmetic is constant-time in Python: the keys it handles are the terminal's ephemeral
ones, used once.

Nothing here logs keys, nonces or passwords.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto import core as asn1
from asn1crypto.core import Integer, ObjectIdentifier, Sequence, SetOf
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from ecdsa.curves import BRAINPOOLP256r1, BRAINPOOLP384r1, Curve, NIST256p, NIST384p
from ecdsa.ellipticcurve import INFINITY, Point, PointJacobi

from drivers.bac import adjust_parity, mrz_information, pad, retail_mac, tdes_decrypt
from drivers.iso7816 import tlv

ID_PACE = "0.4.0.127.0.7.2.2.4"


class Agreement(enum.Enum):
    DH = "DH"
    ECDH = "ECDH"


class PaceError(ValueError):
    """A PACE value that cannot be right: a point off the curve, a bad nonce, a token that
    does not match. The reader refuses the chip with the reason, never goes on."""


@dataclass(frozen=True)
class PaceProtocol:
    """One of PACE's protocol identifiers (Generic Mapping): its key agreement and cipher."""

    oid: str
    agreement: Agreement
    cipher: str          # "3DES" or "AES"
    key_bytes: int       # 16 for 3DES and AES-128, 24, 32

    @property
    def block(self) -> int:
        return 8 if self.cipher == "3DES" else 16


# id-PACE-{DH,ECDH}-GM-{3DES-CBC-CBC, AES-CBC-CMAC-128, -192, -256} (Part 11, 9.2.1).
PROTOCOLS = {
    p.oid: p for p in (
        PaceProtocol(f"{ID_PACE}.1.1", Agreement.DH, "3DES", 16),
        PaceProtocol(f"{ID_PACE}.1.2", Agreement.DH, "AES", 16),
        PaceProtocol(f"{ID_PACE}.1.3", Agreement.DH, "AES", 24),
        PaceProtocol(f"{ID_PACE}.1.4", Agreement.DH, "AES", 32),
        PaceProtocol(f"{ID_PACE}.2.1", Agreement.ECDH, "3DES", 16),
        PaceProtocol(f"{ID_PACE}.2.2", Agreement.ECDH, "AES", 16),
        PaceProtocol(f"{ID_PACE}.2.3", Agreement.ECDH, "AES", 24),
        PaceProtocol(f"{ID_PACE}.2.4", Agreement.ECDH, "AES", 32),
    )
}


@dataclass(frozen=True)
class DhGroup:
    p: int
    g: int
    q: int


# The standardized domain parameters PACE names by number (Part 11, 9.5.1), those supported:
# RFC 5114's 1024-bit MODP group (0), NIST P-256 (12), brainpoolP256r1 (13), brainpoolP384r1
# (16) and NIST P-384 (15).
RFC5114_1024_160 = DhGroup(
    p=int("B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838"
          "EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FA"
          "E5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A"
          "4371", 16),
    g=int("A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B777E"
          "690F5504F213160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C08"
          "7A091F531DBF0A0169B6A28AD662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3"
          "B2E5", 16),
    q=int("F518AA8781A8DF278ABA4E7D64B7CB9D49462353", 16),
)
DOMAINS: dict[int, Curve | DhGroup] = {
    0: RFC5114_1024_160, 12: NIST256p, 13: BRAINPOOLP256r1, 15: NIST384p, 16: BRAINPOOLP384r1,
}


@dataclass(frozen=True)
class PaceInfo:
    """One PACEInfo of EF.CardAccess: a protocol the chip offers, on which parameters."""

    protocol: PaceProtocol
    version: int
    parameter_id: int | None

    @property
    def domain(self) -> Curve | DhGroup:
        if self.parameter_id not in DOMAINS:
            raise PaceError(f"PACE domain parameters {self.parameter_id} are not supported")
        return DOMAINS[self.parameter_id]


class _SecurityInfo(Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("protocol", ObjectIdentifier), ("version", Integer),
               ("parameter_id", Integer, {"optional": True})]


class _SecurityInfos(SetOf):  # type: ignore[misc]  # asn1crypto ships no types
    _child_spec = asn1.Any   # Any: asn1crypto's element of any type, not typing's


def pace_infos(card_access: bytes) -> list[PaceInfo]:
    """The PACE protocols EF.CardAccess offers that this terminal knows, in the file's order;
    PaceError if it is not a SecurityInfos set. Other SecurityInfos (chip authentication,
    terminal authentication) are passed over."""
    found = []
    try:
        infos = _SecurityInfos.load(card_access, strict=True)
        for raw in infos:
            info = _SecurityInfo.load(raw.dump())
            protocol = PROTOCOLS.get(info["protocol"].dotted)
            if protocol is None:
                continue
            parameter = info["parameter_id"].native
            found.append(PaceInfo(protocol, int(info["version"].native),
                                  int(parameter) if parameter is not None else None))
    except (ValueError, TypeError, KeyError) as exc:
        raise PaceError(f"EF.CardAccess is not a SecurityInfos set: {exc}") from exc
    return found


def choose(infos: list[PaceInfo]) -> PaceInfo | None:
    """The first PACE protocol offered, version 2, on domain parameters supported here."""
    return next((i for i in infos if i.version == 2 and i.parameter_id in DOMAINS), None)


# --- keys ---------------------------------------------------------------------------------------

def kdf(secret: bytes, counter: int, protocol: PaceProtocol) -> bytes:
    """KDF(K, c) of 9.7.1: SHA-1 for 3DES and AES-128, SHA-256 above; 3DES keys with parity."""
    data = secret + counter.to_bytes(4, "big")
    if protocol.cipher == "3DES":
        return adjust_parity(hashlib.sha1(data).digest()[:16])
    digest = hashlib.sha1(data) if protocol.key_bytes == 16 else hashlib.sha256(data)
    return digest.digest()[:protocol.key_bytes]


def mrz_password(document_number: str, birth_date: str, expiry_date: str) -> bytes:
    """The MRZ as PACE's password: SHA-1 of the MRZ information (9.7.3)."""
    return hashlib.sha1(mrz_information(document_number, birth_date, expiry_date)
                        .encode("ascii")).digest()


def can_password(can: str) -> bytes:
    """The card access number (printed on the data page) as PACE's password."""
    if not can.isdigit() or len(can) != 6:
        raise ValueError("a CAN is 6 digits")
    return can.encode("ascii")


def password_key(password: bytes, protocol: PaceProtocol) -> bytes:
    """K_pi = KDF(password, 3)."""
    return kdf(password, 3, protocol)


def decrypt_nonce(k_pi: bytes, encrypted: bytes, protocol: PaceProtocol) -> bytes:
    """The chip's nonce s, from its encryption z under K_pi (CBC, zero IV)."""
    if not encrypted or len(encrypted) % protocol.block:
        raise PaceError("the encrypted nonce is not whole blocks")
    if protocol.cipher == "3DES":
        return tdes_decrypt(k_pi, encrypted)
    decryptor = Cipher(algorithms.AES(k_pi), modes.CBC(bytes(16))).decryptor()
    return decryptor.update(encrypted) + decryptor.finalize()


# --- Generic Mapping ------------------------------------------------------------------------------

def private_key(domain: Curve | DhGroup) -> int:
    order = domain.q if isinstance(domain, DhGroup) else domain.order
    return secrets.randbelow(order - 1) + 1


def encode_point(point: PointJacobi | Point, curve: Curve) -> bytes:
    size: int = curve.baselen
    x, y = int(point.x()), int(point.y())
    return b"\x04" + x.to_bytes(size, "big") + y.to_bytes(size, "big")


def decode_point(data: bytes, curve: Curve) -> PointJacobi:
    """An uncompressed point of `curve`; PaceError unless it is on the curve and not infinity."""
    size = curve.baselen
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        raise PaceError("a public key is not an uncompressed point of the curve")
    x, y = int.from_bytes(data[1:1 + size], "big"), int.from_bytes(data[1 + size:], "big")
    if not curve.curve.contains_point(x, y):
        raise PaceError("a public key is not on the curve")
    return PointJacobi(curve.curve, x, y, 1, curve.order)


def public_key(secret: int, generator: PointJacobi | int, domain: Curve | DhGroup) -> bytes:
    """The public key of `secret` on `generator`, encoded as PACE sends it."""
    if isinstance(domain, DhGroup):
        assert isinstance(generator, int)
        return pow(generator, secret, domain.p).to_bytes((domain.p.bit_length() + 7) // 8, "big")
    assert isinstance(generator, PointJacobi)
    return encode_point(generator * secret, domain)


def generator_of(domain: Curve | DhGroup) -> PointJacobi | int:
    return domain.g if isinstance(domain, DhGroup) else domain.generator


def map_nonce(nonce: bytes, secret: int, chip_key: bytes,
              domain: Curve | DhGroup) -> PointJacobi | int:
    """Generic Mapping (4.4.3.3.1): G' = s*G + H on a curve, g' = g^s * h in a group, where H
    (h) is the shared secret of the terminal's and the chip's mapping keys."""
    s = int.from_bytes(nonce, "big")
    if isinstance(domain, DhGroup):
        y = int.from_bytes(chip_key, "big")
        if not 1 < y < domain.p - 1 or pow(y, domain.q, domain.p) != 1:
            raise PaceError("the chip's mapping key is not in the group")
        mapped = pow(domain.g, s, domain.p) * pow(y, secret, domain.p) % domain.p
        if mapped == 1:
            raise PaceError("the mapped generator is 1")
        return mapped
    h = decode_point(chip_key, domain) * secret
    if h == INFINITY:
        raise PaceError("the shared mapping point is infinity")
    mapped_point = domain.generator * s + h
    if mapped_point == INFINITY:
        raise PaceError("the mapped generator is infinity")
    return mapped_point


def shared_secret(secret: int, chip_key: bytes, domain: Curve | DhGroup) -> bytes:
    """K: the x-coordinate of secret * the chip's ephemeral key (ECDH), or its power (DH)."""
    if isinstance(domain, DhGroup):
        y = int.from_bytes(chip_key, "big")
        if not 1 < y < domain.p - 1:
            raise PaceError("the chip's ephemeral key is not in the group")
        return pow(y, secret, domain.p).to_bytes((domain.p.bit_length() + 7) // 8, "big")
    point = decode_point(chip_key, domain) * secret
    if point == INFINITY:
        raise PaceError("the shared secret is infinity")
    return int(point.x()).to_bytes(domain.baselen, "big")


@dataclass(frozen=True)
class SessionKeys:
    enc: bytes
    mac: bytes


def session_keys(shared: bytes, protocol: PaceProtocol) -> SessionKeys:
    return SessionKeys(kdf(shared, 1, protocol), kdf(shared, 2, protocol))


# --- mutual authentication -------------------------------------------------------------------------

def oid_value(protocol: PaceProtocol) -> bytes:
    """The protocol's object identifier, its content octets (as MSE:Set AT's DO80 holds it)."""
    return bytes(ObjectIdentifier(protocol.oid).contents)


def public_key_data(protocol: PaceProtocol, key: bytes) -> bytes:
    """The public key data object the tokens are computed over (Part 11, 4.4.3.4; 9.4.2):
    7F49 { 06 OID, 86 point } for ECDH, 7F49 { 06 OID, 84 value } for DH."""
    oid = ObjectIdentifier(protocol.oid).dump()
    if protocol.agreement is Agreement.ECDH:
        return tlv(0x7F49, oid + tlv(0x86, key))
    value = key.lstrip(b"\x00") or b"\x00"   # an unsigned integer, in as few bytes as it needs
    return tlv(0x7F49, oid + tlv(0x84, value))


def auth_token(k_mac: bytes, protocol: PaceProtocol, key: bytes) -> bytes:
    """The 8-byte token over the other side's public key: AES-CMAC or the 3DES retail MAC."""
    data = public_key_data(protocol, key)
    if protocol.cipher == "3DES":
        return retail_mac(k_mac, pad(data))
    mac = CMAC(algorithms.AES(k_mac))
    mac.update(data)
    return mac.finalize()[:8]
