"""A release's manifest: version, minimum version, every file's SHA-256 and size, signed.

The manifest is canonical JSON (sorted keys, no spaces, UTF-8): one release has exactly one
encoding, so its SHA-256 (the "manifest digest" the fleet announces) names it. The signature is
Ed25519 by a release key over the same canonical form without the signature itself. A kiosk
trusts only the public keys in its configuration ([update] trusted_keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from packaging.version import InvalidVersion, Version

from wire.fields import JsonObject
from wire.update.errors import Refusal, UpdateRefused

FORMAT = 1
# What a bundle holds, each installed to its own place (kiosk.update.installer).
PARTS = ("runtime", "app", "catalog", "assets")
MAX_MANIFEST_BYTES = 32 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEYS = {"format", "version", "min_version", "python", "created_at", "runtime", "files",
         "signature"}


@dataclass(frozen=True)
class FileEntry:
    path: str  # "<part>/<path inside the part>", forward slashes
    sha256: str
    size: int
    executable: bool = False

    @property
    def part(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def inner(self) -> str:
        return self.path.split("/", 1)[1]

    def to_json(self) -> JsonObject:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "executable": self.executable}


@dataclass(frozen=True)
class RuntimeRef:
    """The third-party packages, shared by releases: a release names its runtime by digest and
    may leave it out of the bundle when the kiosk already has it (a small bundle for a slow
    link)."""

    digest: str
    included: bool


@dataclass(frozen=True)
class Manifest:
    version: str
    min_version: str  # the oldest running version that may install this release
    python: str  # "3.11": the interpreter the release was built for
    created_at: int
    runtime: RuntimeRef
    files: tuple[FileEntry, ...]
    key_id: str = ""
    signature: str = ""  # base64 Ed25519 signature

    def body(self) -> JsonObject:
        return {"format": FORMAT, "version": self.version, "min_version": self.min_version,
                "python": self.python, "created_at": self.created_at,
                "runtime": {"digest": self.runtime.digest, "included": self.runtime.included},
                "files": [f.to_json() for f in self.files]}

    def signed_bytes(self) -> bytes:
        """What the signature covers."""
        return canonical(self.body())

    def to_bytes(self) -> bytes:
        return canonical({**self.body(),
                          "signature": {"key_id": self.key_id, "ed25519": self.signature}})

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def signed_with(self, key: Ed25519PrivateKey) -> Manifest:
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        signature = base64.b64encode(key.sign(self.signed_bytes())).decode()
        return replace(self, key_id=key_id(raw), signature=signature)

    def verify(self, trusted_keys: Sequence[str], expected_digest: str | None = None) -> None:
        """Signed by a trusted key, and (if given) the manifest the fleet announced."""
        keys = dict(parse_public_key(text) for text in trusted_keys)
        public = keys.get(self.key_id)
        if public is None:
            raise UpdateRefused(Refusal.UNTRUSTED_KEY, f"key {self.key_id or '(none)'}")
        try:
            public.verify(base64.b64decode(self.signature, validate=True), self.signed_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            raise UpdateRefused(Refusal.BAD_SIGNATURE, f"key {self.key_id}") from None
        if expected_digest is not None and expected_digest.lower() != self.digest():
            raise UpdateRefused(Refusal.DIGEST_MISMATCH,
                                f"announced {expected_digest[:16]}, got {self.digest()[:16]}")

    def check_installable(self, running_version: str | None, python: str) -> None:
        """No downgrade, no skipping a required intermediate release, the right Python."""
        if self.python != python:
            raise UpdateRefused(Refusal.WRONG_PYTHON, f"built for {self.python}, kiosk has {python}")
        if running_version is None:
            return  # an empty machine: the first release
        running = Version(running_version)
        if Version(self.version) <= running:
            raise UpdateRefused(Refusal.NOT_NEWER, f"{self.version} <= running {running_version}")
        if running < Version(self.min_version):
            raise UpdateRefused(Refusal.BELOW_MINIMUM,
                                f"running {running_version} < minimum {self.min_version}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parses and checks the shape; raises UpdateRefused(BAD_MANIFEST) on anything else."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise UpdateRefused(Refusal.BAD_MANIFEST, "too large")
        try:
            raw = json.loads(data.decode("utf-8"))
            manifest = _parse(raw)
        except UpdateRefused:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, InvalidVersion) as exc:
            raise UpdateRefused(Refusal.BAD_MANIFEST, type(exc).__name__) from None
        if manifest.to_bytes() != data:
            raise UpdateRefused(Refusal.BAD_MANIFEST, "not in canonical form")
        return manifest


def _parse(raw: object) -> Manifest:
    if not isinstance(raw, dict) or set(raw) != _KEYS or raw["format"] != FORMAT:
        raise UpdateRefused(Refusal.BAD_MANIFEST, "unknown format or fields")
    for name in ("version", "min_version"):
        Version(_str(raw[name]))  # raises InvalidVersion
    runtime, signature = raw["runtime"], raw["signature"]
    if set(runtime) != {"digest", "included"} or not _HEX64.fullmatch(_str(runtime["digest"])):
        raise UpdateRefused(Refusal.BAD_MANIFEST, "runtime")
    if set(signature) != {"key_id", "ed25519"}:
        raise UpdateRefused(Refusal.BAD_MANIFEST, "signature")
    files = tuple(_entry(item) for item in raw["files"])
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        raise UpdateRefused(Refusal.BAD_MANIFEST, "a path listed twice")
    included = runtime["included"]
    if not isinstance(included, bool) or not isinstance(raw["created_at"], int):
        raise UpdateRefused(Refusal.BAD_MANIFEST, "types")
    runtime_files = [f for f in files if f.part == "runtime"]
    if included and runtime_digest(runtime_files) != runtime["digest"]:
        raise UpdateRefused(Refusal.BAD_MANIFEST, "runtime digest does not match its files")
    if not included and runtime_files:
        raise UpdateRefused(Refusal.BAD_MANIFEST, "runtime files in a bundle without the runtime")
    return Manifest(
        version=raw["version"], min_version=raw["min_version"], python=_str(raw["python"]),
        created_at=raw["created_at"], runtime=RuntimeRef(runtime["digest"], included),
        files=files, key_id=_str(signature["key_id"]), signature=_str(signature["ed25519"]))


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _entry(item: object) -> FileEntry:
    if not isinstance(item, dict) or set(item) != {"path", "sha256", "size", "executable"}:
        raise UpdateRefused(Refusal.BAD_MANIFEST, "file entry")
    path, size, executable = _str(item["path"]), item["size"], item["executable"]
    if not safe_path(path):
        raise UpdateRefused(Refusal.BAD_MANIFEST, f"unsafe path {path[:80]!r}")
    if not _HEX64.fullmatch(_str(item["sha256"])):
        raise UpdateRefused(Refusal.BAD_MANIFEST, "sha256")
    if type(size) is not int or size < 0 or not isinstance(executable, bool):
        raise UpdateRefused(Refusal.BAD_MANIFEST, "size or mode")
    return FileEntry(path, item["sha256"], size, executable)


def safe_path(path: str) -> bool:
    """A relative path inside one of the parts: no '..', no empty or hidden-root components."""
    parts = path.split("/")
    return (len(parts) >= 2 and parts[0] in PARTS and "\\" not in path and "\0" not in path
            and all(p not in ("", ".", "..") for p in parts))


# Any: a JSON document of any shape.
def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def runtime_digest(entries: Iterable[FileEntry]) -> str:
    """Names a runtime by its content: every file's path, hash, size and mode."""
    listing = sorted((f.to_json() for f in entries if f.part == "runtime"),
                     key=lambda item: item["path"])
    return hashlib.sha256(canonical(listing)).hexdigest()


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The line for kiosk.toml's [update] trusted_keys: base64 of the raw public key."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def parse_public_key(text: str) -> tuple[str, Ed25519PublicKey]:
    raw = base64.b64decode(text.strip(), validate=True)
    return key_id(raw), Ed25519PublicKey.from_public_bytes(raw)
