"""Building a release bundle from the project (the release engineer's `kiosk-bundle build`).

- app: the project's own wheel (built by pip from a clean copy of the source), unpacked: our
  packages, their data (kv files, fonts, schemas, the simulator's assets) and the dist-info
  with the version and console scripts.
- runtime: every third-party distribution the app requires (with extras, recursively), taken
  file by file (their RECORD) from the virtualenv the release was tested in: what runs on
  the kiosk is what ran in the tests, with no resolver and no compiler on the kiosk.
- catalog: the reference service catalog the release was tested against; assets: optional
  screen and voice assets.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kiosk.update.installer import running_python
from wire.update.bundle import write_bundle
from wire.update.manifest import FileEntry, Manifest, RuntimeRef, runtime_digest

# Left out of the copy of the source the wheel is built from.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "var", "out", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".ruff_cache",
                                     ".hypothesis", ".mypy_cache")


class BuildError(Exception):
    """The bundle cannot be built as asked (the message says what to fix)."""


@dataclass(frozen=True)
class BuildInputs:
    project: Path
    runtime_site: Path  # site-packages of the virtualenv the release was tested in
    catalog: Path | None = None
    assets: Path | None = None
    min_version: str = "0"
    include_runtime: bool = True
    compresslevel: int = 6


def build(inputs: BuildInputs, key: Ed25519PrivateKey, out: Path) -> Manifest:
    """Builds, signs and writes the bundle; returns its manifest."""
    with tempfile.TemporaryDirectory(prefix="kiosk-bundle-") as tmp:
        app_dir = Path(tmp) / "app"
        requires, version = build_app(inputs.project, app_dir, Path(tmp))
        sources: dict[str, Path] = {}
        entries = [_entry(f"app/{rel}", path, sources) for rel, path in _walk(app_dir)]
        runtime = [_entry(f"runtime/{rel}", path, sources)
                   for rel, path in runtime_files(inputs.runtime_site, requires)]
        if inputs.catalog is not None:
            entries.append(_entry(f"catalog/{inputs.catalog.name}", inputs.catalog, sources))
        if inputs.assets is not None:
            entries += [_entry(f"assets/{rel}", path, sources) for rel, path in _walk(inputs.assets)]
        manifest = Manifest(
            version=version, min_version=inputs.min_version, python=running_python(),
            created_at=int(time.time()),
            runtime=RuntimeRef(runtime_digest(runtime), inputs.include_runtime),
            files=tuple((runtime if inputs.include_runtime else []) + entries),
        ).signed_with(key)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_bundle(out, manifest, sources, inputs.compresslevel)
        return manifest


def build_app(project: Path, dest: Path, tmp: Path) -> tuple[list[str], str]:
    """The project's wheel, unpacked into `dest`; its Requires-Dist and version."""
    source = tmp / "source"
    shutil.copytree(project, source, ignore=_NOT_SOURCE, symlinks=True)
    wheels = tmp / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(wheels), str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"pip wheel failed: {proc.stderr.strip()[-600:]}")
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(dest)
    (info,) = dest.glob("*.dist-info/METADATA")
    meta = Parser().parsestr(info.read_text(encoding="utf-8"))
    return meta.get_all("Requires-Dist") or [], str(meta["Version"])


def runtime_files(site: Path, requires: list[str]) -> Iterator[tuple[str, Path]]:
    """(path inside site-packages, file) of every distribution the requirements reach."""
    dists = {str(canonicalize_name(d.metadata["Name"])): d
             for d in metadata.distributions(path=[str(site)])}
    wanted: dict[str, set[str]] = {}
    pending = [(Requirement(r), "") for r in requires]
    while pending:
        req, parent_extra = pending.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": parent_extra}):
            continue
        name = str(canonicalize_name(req.name))
        dist = dists.get(name)
        if dist is None:
            raise BuildError(f"{req.name} is required but not installed in {site}")
        if not req.specifier.contains(dist.version, prereleases=True):
            raise BuildError(f"{req.name} {dist.version} does not satisfy {req}")
        extras = set(req.extras)
        if name in wanted and extras <= wanted[name]:
            continue
        wanted[name] = wanted.get(name, set()) | extras
        for sub in dist.requires or []:
            for extra in ("", *sorted(extras)):
                pending.append((Requirement(sub), extra))
    seen: set[str] = set()
    for name in sorted(wanted):
        dist = dists[name]
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable"):
            raise BuildError(f"{name} is an editable install; a bundle needs a real one")
        for record in dist.files or []:
            path = Path(str(record.locate())).resolve()
            try:
                rel = path.relative_to(site.resolve()).as_posix()
            except ValueError:
                continue  # scripts and data outside site-packages: the kiosk does not run them
            if "__pycache__" in rel.split("/") or rel.endswith(".pyc") or rel in seen:
                continue
            if not path.is_file():
                raise BuildError(f"{name}: {rel} is listed in its RECORD but missing")
            seen.add(rel)
            yield rel, path


def _walk(folder: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path.relative_to(folder).as_posix(), path


def _entry(bundle_path: str, path: Path, sources: dict[str, Path]) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    sources[bundle_path] = path
    return FileEntry(bundle_path, digest.hexdigest(), size, bool(os.stat(path).st_mode & 0o111))
