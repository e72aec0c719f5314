"""Who is speaking: operators by password and session cookie, kiosks by signed requests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fleet.db import Connection
from fleet.kiosk_keys import KeyStanding
from fleet.store import FleetStore
from wire.fleet import (
    HEADER_DIGEST,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    AuthRefusal,
    WireError,
    canonical_string,
    load_public_key,
)

R = TypeVar("R")

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


class PasswordPoolBusy(Exception):
    """More sign-ins are waiting for a password check than the pool queues; try again soon."""


class PasswordPool:
    """scrypt off the event loop: a few threads (hashlib releases the GIL while it works) and a
    bounded queue. 400 sign-ins at once once held a kiosk's signed heartbeat for 11 s."""

    def __init__(self, threads: int = 2, queue: int = 32) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scrypt")
        self._room = queue + threads
        self._waiting = 0

    async def _run(self, fn: Callable[[], R]) -> R:
        if self._waiting >= self._room:
            raise PasswordPoolBusy()
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self._waiting -= 1

    async def check(self, password: str, stored: str | None) -> bool:
        return await self._run(functools.partial(check_credentials, password, stored))

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(hash_password, password))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def new_secret_token() -> tuple[str, str]:
    """A random bearer secret and the hash under which the server stores it.

    Never one that starts with "-" (1 in 64 of urlsafe draws would): a technician types or
    pastes it after `kiosk-provision --enroll-token`, where argparse takes it for an option."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_STANDING_REFUSAL = {
    KeyStanding.REPLAYED: AuthRefusal.REPLAYED,
    KeyStanding.UNKNOWN: AuthRefusal.UNKNOWN_KEY,
    KeyStanding.REVOKED: AuthRefusal.REVOKED,
    KeyStanding.RETIRED: AuthRefusal.RETIRED,
}


class RequestRefused(Exception):
    def __init__(self, reason: AuthRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class SignedBy:
    """Who a request says signed it; `admitted` proves it (signature, then nonce and key)."""

    kiosk_id: str
    key_id: str
    nonce: str = ""
    at: float = 0.0
    # The key, the signature and the signed string, checked in the request's unit of work.
    proof: tuple[Ed25519PublicKey, str, bytes] | None = field(default=None, repr=False)


def _check_signature(proof: tuple[Ed25519PublicKey, str, bytes]) -> None:
    key, sig, message = proof
    try:
        key.verify(base64.b64decode(sig, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        raise RequestRefused(AuthRefusal.FORGED) from None


class RequestVerifier:
    """Checks a kiosk's signed request: signature, freshness, single use, and its key's owner."""

    MAX_CACHED_KEYS = 250_000  # a province's kiosks and then some; then the cache starts over

    def __init__(self, store: FleetStore, window_s: float = 120.0) -> None:
        self.store = store
        self.window_s = window_s
        # Parsed public keys by key id. A key id names one key for ever (it is the key's hash),
        # so this cache holds nothing that can go stale: whether the key still counts (revoked,
        # retired, re-keyed away, on any process) is read from the database on every request,
        # in the same statement that spends the nonce (`admit`).
        self._keys: dict[str, tuple[str, Ed25519PublicKey]] = {}

    async def _key(self, kid: str) -> tuple[str, Ed25519PublicKey] | None:
        cached = self._keys.get(kid)
        if cached is not None:
            return cached
        row = await self.store.kiosk_key(kid)
        if row is None:
            return None
        entry = (row["kiosk_id"], load_public_key(row["public_key_pem"].encode()))
        if len(self._keys) >= self.MAX_CACHED_KEYS:
            self._keys.clear()
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
        admit: bool = True,
    ) -> SignedBy:
        """Raise RequestRefused unless the request is signed by an enrolled, live key (or by
        `public_key`, enrollment's proof of possession). With `admit=False` the caller spends
        the nonce itself, in its own unit of work (`admitted`): one transaction for both."""
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
            message = canonical_string(method, path, ts, nonce, actual_digest, kid)
        except WireError:
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
        signer = SignedBy(kiosk_id, kid, nonce, now, (key, sig, message))
        if public_key is not None:
            _check_signature((key, sig, message))
            if not await self.store.remember_nonce(kid, nonce, now):
                raise RequestRefused(AuthRefusal.REPLAYED)
        elif admit:
            await self.store.db.run_unit(lambda tx: self.admitted(tx, signer), kid)
        return signer

    async def admitted(self, tx: Connection, signer: SignedBy) -> None:
        """Check the signature, then spend the signer's nonce in `tx`; RequestRefused if the
        signature is forged, the nonce spent or the key dead. On SQLite this runs on the
        database thread inside the group-commit batch: the Ed25519 check (0.12-0.28 ms here, with the
        GIL released) then costs the event loop nothing and no extra hop."""
        assert signer.proof is not None
        _check_signature(signer.proof)
        standing = await self.store.admit(tx, signer.key_id, signer.nonce, signer.at)
        if standing is not KeyStanding.ADMITTED:
            raise RequestRefused(_STANDING_REFUSAL[standing])
