"""The technician PIN: stored only as a salted scrypt hash (the fleet's password format)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PIN_SCHEME = "scrypt"


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """'scrypt$N$r$p$salt_hex$hash_hex' (the fleet's password format); the PIN is not kept."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"{PIN_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, encoded: str) -> bool:
    """True when `pin` matches `encoded` (from hash_pin); False for any malformed hash."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = encoded.split("$")
        if scheme != PIN_SCHEME or not 2**10 <= int(n) <= 2**20:
            return False
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(digest_hex)
        if len(expected) != 32:  # a shortened hash would match far too many PINs
            return False
        actual = hashlib.scrypt(
            pin.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
