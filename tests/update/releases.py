"""Real releases of this project for the update tests: the source tree copied, its version set,
sometimes broken on purpose, and built by the real builder into signed bundles."""

from __future__ import annotations

import re
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.update.builder import BuildInputs, build
from wire.update.manifest import Manifest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SITE = Path(sysconfig.get_paths()["purelib"])  # the venv these tests run in

# Ways a release can be broken, as a patch to its source (appended to the named module).
BROKEN = {
    # An exception while the kiosk's modules load: the process dies at once, every start.
    "crash_at_import": ("kiosk/cli.py", 'raise RuntimeError("this release is broken")\n'),
    # Starts, and its core never comes up behind the attract screen (recovery waits forever):
    # the update agent never hears the attract screen was reached.
    "no_attract": ("kiosk/app.py", "\n\nasync def _never(*_, **__):\n"
                   "    await asyncio.Event().wait()\n\n\nbegin = _never  # noqa: F811\n"),
}


@dataclass(frozen=True)
class Release:
    version: str
    bundle: Path
    manifest: Manifest

    @property
    def digest(self) -> str:
        return self.manifest.digest()

    @property
    def megabytes(self) -> float:
        return self.bundle.stat().st_size / 1e6


def source_tree(dest: Path, version: str, broken: str | None = None,
                extra_dependency: str | None = None) -> Path:
    """A copy of this project with `version` (and a patch, or one more dependency)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "out", "build", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ruff_cache", ".hypothesis", ".mypy_cache", "tests"))
    pyproject = dest / "pyproject.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    if extra_dependency:
        text = text.replace("dependencies = [\n", f'dependencies = [\n    "{extra_dependency}",\n', 1)
    pyproject.write_text(text)
    if broken:
        module, patch = BROKEN[broken]
        path = dest / module
        text = path.read_text()
        path.write_text(patch + text if broken == "crash_at_import" else text + patch)
    return dest


def build_release(workdir: Path, key: Ed25519PrivateKey, version: str, *,
                  broken: str | None = None, include_runtime: bool = False,
                  min_version: str = "0", extra_dependency: str | None = None) -> Release:
    name = f"{version}{'-' + broken if broken else ''}{'-dep' if extra_dependency else ''}"
    full = "-full" if include_runtime else ""
    source = source_tree(workdir / f"src-{name}{full}-{min_version}", version, broken,
                         extra_dependency)
    out = workdir / f"kiosk-{name}{full}.kbundle"
    manifest = build(BuildInputs(source, RUNTIME_SITE,
                                 catalog=ROOT / "simulator/assets/reference_catalog.json",
                                 min_version=min_version, include_runtime=include_runtime,
                                 compresslevel=1), key, out)
    return Release(version, out, manifest)
