"""Who is speaking: operators by password and session cookie, kiosks by signed requests."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fleet.store import FleetStore
from kiosk.fleet_wire import (
    HEADER_DIGEST,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WireError,
    canonical_string,
    load_public_key,
)

# scrypt cost: n=2**14, r=8 takes ~30-50 ms here, ~16 MiB; enough against offline guessing of a
# stolen table while sign-in stays instant.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# A hash to check against when the user does not exist, so timing does not tell names apart.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def check_credentials(password: str, stored: str | None) -> bool:
    return verify_password(password, stored or _DUMMY_HASH) and stored is not None


def new_secret_token() -> tuple[str, str]:
    """A random bearer secret and the hash under which the server stores it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthRefusal(enum.Enum):
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    BAD_DIGEST = "bad_digest"
    FORGED = "forged"
    STALE = "stale"
    REPLAYED = "replayed"
    NOT_YOURS = "not_yours"


class RequestRefused(Exception):
    def __init__(self, reason: AuthRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class SignedBy:
    kiosk_id: str
    key_id: str


class RequestVerifier:
    """Checks a kiosk's signed request: signature, freshness, single use, and its key's owner."""

    def __init__(self, store: FleetStore, window_s: float = 120.0) -> None:
        self.store = store
        self.window_s = window_s
        self._keys: dict[str, tuple[str, Ed25519PublicKey]] = {}

    async def _key(self, kid: str) -> tuple[str, Ed25519PublicKey] | None:
        cached = self._keys.get(kid)
        if cached is not None:
            return cached
        row = await self.store.kiosk_key(kid)
        if row is None:
            return None
        entry = (row["kiosk_id"], load_public_key(row["public_key_pem"].encode()))
        self._keys[kid] = entry
        return entry

    def forget_key(self, kid: str) -> None:
        """Drops a key this verifier remembered (a re-key replaced it): it must not verify again."""
        self._keys.pop(kid, None)

    async def verify(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        public_key: Ed25519PublicKey | None = None,
        now: float | None = None,
    ) -> SignedBy:
        """Raise RequestRefused unless the request is signed by an enrolled key (or `public_key`)."""
        get = headers.get
        kid, ts, nonce = get(HEADER_KEY_ID), get(HEADER_TIMESTAMP), get(HEADER_NONCE)
        digest, sig = get(HEADER_DIGEST), get(HEADER_SIGNATURE)
        if not (kid and ts and nonce and sig) or len(nonce) > 64 or len(kid) > 64:
            raise RequestRefused(AuthRefusal.UNSIGNED)
        actual_digest = hashlib.sha256(body).hexdigest()
        if digest is not None and digest != actual_digest:
            raise RequestRefused(AuthRefusal.BAD_DIGEST)
        if public_key is not None:
            kiosk_id, key = "", public_key
        else:
            found = await self._key(kid)
            if found is None:
                raise RequestRefused(AuthRefusal.UNKNOWN_KEY)
            kiosk_id, key = found
        try:
            signature = base64.b64decode(sig, validate=True)
            key.verify(signature, canonical_string(method, path, ts, nonce, actual_digest, kid))
        except (InvalidSignature, binascii.Error, ValueError, WireError):
            raise RequestRefused(AuthRefusal.FORGED) from None
        now = time.time() if now is None else now
        try:
            stamp = float(ts)
        except ValueError:
            raise RequestRefused(AuthRefusal.STALE) from None
        if not abs(now - stamp) <= self.window_s:
            raise RequestRefused(AuthRefusal.STALE)
        # Nonces are kept for twice the window, so a replay is caught for as long as the
        # timestamp it carries would still be accepted.
        if not await self.store.remember_nonce(kid, nonce, now):
            raise RequestRefused(AuthRefusal.REPLAYED)
        return SignedBy(kiosk_id, kid)
