"""A kiosk's device key on the fleet wire: how it enrolls, and how it signs its requests.

Every kiosk request after enrollment carries the headers below. The signature is Ed25519 over
the canonical string

    kiosk-fleet-sig-v1\\n{METHOD}\\n{path}\\n{timestamp}\\n{nonce}\\n{sha256(body) hex}\\n{key id}

where the key id is the first 32 hex digits of SHA-256 over the raw 32-byte public key. The
server refuses a request whose timestamp is outside its window (stale), whose nonce it has seen
(replayed), whose signature does not verify (forged), or whose key is not the kiosk's named in
the path (a kiosk can only speak for itself).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire.fields import (
    WIRE_VERSION,
    JsonObject,
    WireError,
    WireErrorReason,
    _check_version,
    _get,
    _ident,
    _obj,
)

HEADER_KEY_ID = "X-Kiosk-Key-Id"
HEADER_TIMESTAMP = "X-Kiosk-Timestamp"
HEADER_NONCE = "X-Kiosk-Nonce"
HEADER_DIGEST = "X-Kiosk-Content-SHA256"
HEADER_SIGNATURE = "X-Kiosk-Signature"
SIGNATURE_SCHEME = "kiosk-fleet-sig-v1"


class AuthRefusal(enum.Enum):
    """Why the fleet refused a signed request; the value is the `error` code of its reply."""

    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    BAD_DIGEST = "bad_digest"
    FORGED = "forged"
    STALE = "stale"
    REPLAYED = "replayed"
    NOT_YOURS = "not_yours"
    REVOKED = "key_revoked"  # an operator revoked this kiosk's key: it needs a re-key token
    RETIRED = "kiosk_retired"  # the kiosk was taken out of the fleet


@dataclass(frozen=True)
class EnrollmentRequest:
    """A kiosk's registration: the one-time token and the public half of its own device key."""

    token: str
    kiosk_id: str
    public_key_pem: str
    site: str
    region: str

    def to_json(self) -> JsonObject:
        return {
            "wire_version": WIRE_VERSION,
            "token": self.token,
            "kiosk_id": self.kiosk_id,
            "public_key_pem": self.public_key_pem,
            "site": self.site,
            "region": self.region,
        }

    @classmethod
    def from_json(cls, data: object) -> EnrollmentRequest:
        data = _obj(data)
        _check_version(data)
        token = _get(data, "token", str)
        if not 16 <= len(token) <= 128:
            raise WireError(WireErrorReason.BAD_VALUE, "token")
        pem = _get(data, "public_key_pem", str)
        load_public_key(pem.encode())  # raises WireError if it is not an Ed25519 key
        return cls(
            token, _ident(data, "kiosk_id"), pem, _ident(data, "site"), _ident(data, "region")
        )


def load_private_key(private_key: Ed25519PrivateKey | bytes) -> Ed25519PrivateKey:
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key
    key = serialization.load_pem_private_key(private_key, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise WireError(WireErrorReason.BAD_VALUE, "private_key", "not Ed25519")
    return key


def load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise WireError(WireErrorReason.BAD_VALUE, "public_key_pem", "not a PEM key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise WireError(WireErrorReason.BAD_VALUE, "public_key_pem", "not Ed25519")
    return key


def public_key_pem(private_key: Ed25519PrivateKey | bytes) -> bytes:
    return (
        load_private_key(private_key)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    """The short name of a device key that requests carry: 32 hex digits of SHA-256(raw key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def canonical_string(
    method: str, path: str, timestamp: str, nonce: str, body_digest: str, key: str
) -> bytes:
    """The exact bytes a kiosk signs; `path` includes the query string if any."""
    return "\n".join(
        (SIGNATURE_SCHEME, method.upper(), path, timestamp, nonce, body_digest, key)
    ).encode()


def sign_request(
    private_key: Ed25519PrivateKey | bytes,
    method: str,
    path: str,
    body: bytes,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request from a kiosk (see the module docstring)."""
    key = load_private_key(private_key)
    kid = key_id(key.public_key())
    nonce = nonce or secrets.token_hex(16)
    timestamp = f"{now:.3f}"
    digest = hashlib.sha256(body).hexdigest()
    signature = key.sign(canonical_string(method, path, timestamp, nonce, digest, kid))
    return {
        HEADER_KEY_ID: kid,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_DIGEST: digest,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
