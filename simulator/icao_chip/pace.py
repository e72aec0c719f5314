"""PACE, the chip's side (ICAO 9303 Part 11, 4.4; Generic Mapping over ECDH on
brainpoolP256r1, id-PACE-ECDH-GM-AES-CBC-CMAC-128, the MRZ or the CAN as the password).

`PaceResponder` answers MSE:Set AT and the four GENERAL AUTHENTICATE steps: the encrypted
nonce, the mapping keys, the ephemeral keys, the tokens; the last one opens an
`AesSmSession`. Written out here on purpose, not imported from `drivers/`: the two sides of the
wire must not share their crypto code. Points come from `ecdsa`, ciphers from `cryptography`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from ecdsa.curves import BRAINPOOLP256r1
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from simulator.icao_chip.apdu import (
    SW_AUTH_FAILED,
    SW_OK,
    SW_WRONG_LENGTH,
    Command,
    oid_tlv,
    simple_tlvs,
    sw_bytes,
    tlv,
)
from simulator.icao_chip.mrz import TravelDocumentHolder, mrz_information
from simulator.icao_chip.secure_messaging import AesSmSession

PROTOCOL_OID = "0.4.0.127.0.7.2.2.4.2.2"   # id-PACE-ECDH-GM-AES-CBC-CMAC-128
PARAMETER_ID = 13                         # brainpoolP256r1
CURVE = BRAINPOOLP256r1
SW_WRONG_DATA = 0x6A80
SW_CONDITIONS = 0x6985
PASSWORD_MRZ, PASSWORD_CAN = 0x01, 0x02


def card_access() -> bytes:
    """EF.CardAccess: SecurityInfos holding one PACEInfo (the protocol, version 2, the
    standardized domain parameters)."""
    info = oid_tlv(PROTOCOL_OID) + tlv(0x02, b"\x02") + tlv(0x02, bytes([PARAMETER_ID]))
    return tlv(0x31, tlv(0x30, info))


def _kdf(secret: bytes, counter: int) -> bytes:
    return hashlib.sha1(secret + counter.to_bytes(4, "big")).digest()[:16]


def _cmac8(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def _point(point: PointJacobi) -> bytes:
    size = CURVE.baselen
    return b"\x04" + int(point.x()).to_bytes(size, "big") + int(point.y()).to_bytes(size, "big")


def _decode(data: bytes) -> PointJacobi | None:
    size = CURVE.baselen
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        return None
    x, y = int.from_bytes(data[1:1 + size], "big"), int.from_bytes(data[1 + size:], "big")
    if not CURVE.curve.contains_point(x, y):
        return None
    return PointJacobi(CURVE.curve, x, y, 1, CURVE.order)


def _token(k_mac: bytes, public: bytes) -> bytes:
    data = oid_tlv(PROTOCOL_OID) + tlv(0x86, public)
    return _cmac8(k_mac, tlv(0x7F49, data))


class PaceResponder:
    """The chip's half of PACE. `can` is the card access number printed on the data page;
    `wrong_key` makes the chip's password match no MRZ (the WRONG_KEY fault)."""

    def __init__(self, holder: TravelDocumentHolder, can: str = "123456", *,
                 wrong_key: bool = False) -> None:
        mrz = hashlib.sha1(mrz_information(holder).encode("ascii")).digest()
        if wrong_key:
            mrz = hashlib.sha1(b"not this document" + mrz).digest()
        self._passwords = {PASSWORD_MRZ: mrz, PASSWORD_CAN: can.encode("ascii")}
        self.reset()

    def __repr__(self) -> str:
        return "PaceResponder(<secret>)"

    def reset(self) -> None:
        self._password: bytes | None = None
        self._step = 0
        self._nonce = b""
        self._mapped: PointJacobi | None = None
        self._secret = 0
        self._public = b""
        self._terminal = b""
        self._keys: tuple[bytes, bytes] | None = None

    def set_at(self, command: Command) -> bytes:
        """MSE:Set AT (00 22 C1 A4): the protocol and which password."""
        objects = dict(simple_tlvs(command.data) or [])
        if (command.p1, command.p2) != (0xC1, 0xA4):
            return sw_bytes(SW_WRONG_DATA)
        reference = objects.get(0x83, b"")
        if objects.get(0x80) != oid_tlv(PROTOCOL_OID)[2:] or len(reference) != 1 \
                or reference[0] not in self._passwords:
            return sw_bytes(SW_WRONG_DATA)
        self.reset()
        self._password = self._passwords[reference[0]]
        return sw_bytes(SW_OK)

    def general_authenticate(self, command: Command) -> tuple[bytes, AesSmSession | None]:
        """One GENERAL AUTHENTICATE step: (the response APDU, the session the last opens)."""
        outer = simple_tlvs(command.data)
        if not outer or outer[0][0] != 0x7C or self._password is None:
            self.reset()
            return sw_bytes(SW_CONDITIONS if outer else SW_WRONG_LENGTH), None
        inner = simple_tlvs(outer[0][1]) or []
        step, self._step = self._step, self._step + 1
        try:
            if step == 0 and not inner:
                return self._nonce_step(), None
            if step == 1 and [t for t, _ in inner] == [0x81]:
                return self._map_step(inner[0][1]), None
            if step == 2 and [t for t, _ in inner] == [0x83]:
                return self._agree_step(inner[0][1]), None
            if step == 3 and [t for t, _ in inner] == [0x85]:
                return self._token_step(inner[0][1])
        except _Refused as refused:
            self.reset()
            return sw_bytes(refused.sw), None
        self.reset()
        return sw_bytes(SW_CONDITIONS), None

    def _nonce_step(self) -> bytes:
        assert self._password is not None
        self._nonce = os.urandom(16)
        k_pi = _kdf(self._password, 3)
        e = Cipher(algorithms.AES(k_pi), modes.CBC(bytes(16))).encryptor()
        z = e.update(self._nonce) + e.finalize()
        return tlv(0x7C, tlv(0x80, z)) + sw_bytes(SW_OK)

    def _map_step(self, terminal_map: bytes) -> bytes:
        point = _decode(terminal_map)
        if point is None:
            raise _Refused(SW_WRONG_DATA)
        secret = secrets.randbelow(CURVE.order - 1) + 1
        shared = point * secret
        mapped = CURVE.generator * int.from_bytes(self._nonce, "big") + shared
        if shared == INFINITY or mapped == INFINITY:
            raise _Refused(SW_WRONG_DATA)
        self._mapped = mapped
        return tlv(0x7C, tlv(0x82, _point(CURVE.generator * secret))) + sw_bytes(SW_OK)

    def _agree_step(self, terminal_key: bytes) -> bytes:
        point = _decode(terminal_key)
        if point is None or self._mapped is None:
            raise _Refused(SW_WRONG_DATA)
        self._secret = secrets.randbelow(CURVE.order - 1) + 1
        self._public = _point(self._mapped * self._secret)
        if hmac.compare_digest(self._public, terminal_key):   # 4.4.3.3: must differ
            raise _Refused(SW_WRONG_DATA)
        shared = point * self._secret
        if shared == INFINITY:
            raise _Refused(SW_WRONG_DATA)
        k = int(shared.x()).to_bytes(CURVE.baselen, "big")
        self._keys = (_kdf(k, 1), _kdf(k, 2))
        self._terminal = terminal_key
        return tlv(0x7C, tlv(0x84, self._public)) + sw_bytes(SW_OK)

    def _token_step(self, token: bytes) -> tuple[bytes, AesSmSession | None]:
        if self._keys is None:
            raise _Refused(SW_CONDITIONS)
        ks_enc, ks_mac = self._keys
        if not hmac.compare_digest(_token(ks_mac, self._public), token):
            raise _Refused(SW_AUTH_FAILED)
        answer = tlv(0x7C, tlv(0x86, _token(ks_mac, self._terminal))) + sw_bytes(SW_OK)
        self.reset()
        return answer, AesSmSession(ks_enc, ks_mac)


class _Refused(Exception):
    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw

