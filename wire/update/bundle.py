"""The bundle file: a gzip-compressed tar whose first member is the signed manifest, followed by
every file the manifest lists, in its order, and nothing else.

Reading streams through the file once per pass (a bundle is a few hundred MB; nothing is held
in memory): each member is checked against the next manifest entry (name, regular file, size)
and hashed as it goes to its sink, so a file that does not match is refused before anything
is published. Writing is deterministic: fixed times, owners and modes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, BinaryIO

from wire.update.errors import Refusal, UpdateRefused
from wire.update.manifest import MAX_MANIFEST_BYTES, FileEntry, Manifest

MANIFEST_NAME = "manifest.json"
CHUNK = 1 << 20
# Where a member's bytes go: a writable file, or None to only check them.
Sink = Callable[[FileEntry], BinaryIO | None]


def payload(manifest: Manifest) -> list[FileEntry]:
    """The files the bundle itself carries, in order (the runtime only when included)."""
    return [f for f in manifest.files if f.part != "runtime" or manifest.runtime.included]


def write_bundle(out: Path, manifest: Manifest, sources: Mapping[str, Path],
                 compresslevel: int = 6) -> None:
    """Writes the bundle; `sources` maps each payload path to the file holding its bytes."""
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        data = manifest.to_bytes()
        tar.addfile(_info(MANIFEST_NAME, len(data), False, manifest.created_at), io.BytesIO(data))
        for entry in payload(manifest):
            with open(sources[entry.path], "rb") as f:
                tar.addfile(_info(entry.path, entry.size, entry.executable, manifest.created_at), f)
    tmp.replace(out)


def _info(name: str, size: int, executable: bool, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o755 if executable else 0o644
    info.mtime = mtime
    info.uname = info.gname = ""
    return info


def read_manifest(path: Path) -> Manifest:
    """The bundle's manifest (parsed and shape-checked, not yet verified)."""
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST_NAME or not first.isreg():
                raise UpdateRefused(Refusal.NOT_A_BUNDLE, "the first member is not the manifest")
            if first.size > MAX_MANIFEST_BYTES:
                raise UpdateRefused(Refusal.BAD_MANIFEST, "too large")
            reader = tar.extractfile(first)
            assert reader is not None
            return Manifest.from_bytes(reader.read())
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UpdateRefused(Refusal.NOT_A_BUNDLE, type(exc).__name__) from None


def stream(path: Path, manifest: Manifest, sink: Sink,
           progress: Callable[[FileEntry], None] | None = None) -> None:
    """Every payload member, checked against the manifest and hashed, into `sink`.

    Raises UpdateRefused on the first member that does not match (a sink's file then holds
    unchecked bytes: the caller throws its staging folder away)."""
    expected = payload(manifest)
    listed = {f.path for f in manifest.files}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST_NAME:
                raise UpdateRefused(Refusal.NOT_A_BUNDLE, "the first member is not the manifest")
            index = 0
            while (member := tar.next()) is not None:
                if index >= len(expected) or member.name not in listed:
                    raise UpdateRefused(Refusal.UNEXPECTED_FILE, member.name)
                entry = expected[index]
                if member.name != entry.path:  # a later file came first: this one is missing
                    raise UpdateRefused(Refusal.MISSING_FILE, entry.path)
                if not member.isreg():
                    raise UpdateRefused(Refusal.UNEXPECTED_FILE, f"{member.name} is not a file")
                if member.size != entry.size:
                    raise UpdateRefused(Refusal.BAD_SIZE, entry.path)
                reader = tar.extractfile(member)
                assert reader is not None
                _copy_checked(reader, entry, sink(entry))
                if progress is not None:
                    progress(entry)
                index += 1
            if index < len(expected):
                raise UpdateRefused(Refusal.MISSING_FILE, expected[index].path)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UpdateRefused(Refusal.NOT_A_BUNDLE, type(exc).__name__) from None


def _copy_checked(reader: IO[bytes], entry: FileEntry, out: BinaryIO | None) -> None:
    digest = hashlib.sha256()
    size = 0
    while chunk := reader.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    if out is not None:
        out.close()
    if size != entry.size:
        raise UpdateRefused(Refusal.BAD_SIZE, entry.path)
    if digest.hexdigest() != entry.sha256:
        raise UpdateRefused(Refusal.BAD_HASH, entry.path)


def verify_bundle(path: Path, trusted_keys: list[str] | tuple[str, ...],
                  expected_digest: str | None = None) -> Manifest:
    """Signature by a trusted key, the announced digest, and every file's hash and size."""
    manifest = read_manifest(path)
    manifest.verify(trusted_keys, expected_digest)
    stream(path, manifest, lambda entry: None)
    return manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
