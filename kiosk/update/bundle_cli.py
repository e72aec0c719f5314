"""`kiosk-bundle`: the release engineer's tool. Make a release key, build a signed bundle from
the project, verify a bundle the way a kiosk will."""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from kiosk.config import load_config
from kiosk.update.builder import BuildError, BuildInputs, build
from kiosk.update.installer import running_python
from wire.update.bundle import verify_bundle
from wire.update.errors import UpdateRefused
from wire.update.manifest import public_key_text

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-bundle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="a new release key (private PEM, mode 0600)")
    keygen.add_argument("--out", type=Path, required=True)
    b = sub.add_parser("build", help="build and sign a bundle")
    b.add_argument("--key", type=Path, required=True, help="the release key (PEM)")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--project", type=Path, default=ROOT, help="the source tree (default: this one)")
    b.add_argument("--runtime-venv", type=Path,
                   help="the virtualenv the release was tested in (default: the running one)")
    b.add_argument("--catalog", type=Path, default=ROOT / "simulator/assets/reference_catalog.json")
    b.add_argument("--assets", type=Path, help="a folder of screen/voice assets")
    b.add_argument("--min-version", default="0",
                   help="the oldest running version that may install this release")
    b.add_argument("--no-runtime", action="store_true",
                   help="leave the runtime out (for kiosks that already have it: a small bundle)")
    b.add_argument("--compress-level", type=int, default=6, choices=range(0, 10))
    v = sub.add_parser("verify", help="check a bundle as a kiosk would")
    v.add_argument("bundle", type=Path)
    v.add_argument("--trusted-key", action="append", default=[],
                   help="a release public key (base64); or use --config")
    v.add_argument("--config", type=Path, help="a kiosk.toml whose [update] trusted_keys to use")
    v.add_argument("--digest", help="the manifest digest the fleet announced")
    v.add_argument("--running-version", help="refuse as this kiosk would (no downgrade)")
    v.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        return _keygen(args.out)
    if args.command == "build":
        return _build(args)
    return _verify(args)


def _keygen(out: Path) -> int:
    key = Ed25519PrivateKey.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    print(f"release key written to {out}; trust it on kiosks with, in kiosk.toml:")
    print(f'[update]\ntrusted_keys = ["{public_key_text(key)}"]')
    return 0


def _build(args: argparse.Namespace) -> int:
    key = load_pem_private_key(args.key.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        print("kiosk-bundle: the release key must be an Ed25519 key", file=sys.stderr)
        return 2
    site = (_site_packages(args.runtime_venv) if args.runtime_venv
            else Path(sysconfig.get_paths()["purelib"]))
    inputs = BuildInputs(args.project, site, args.catalog, args.assets, args.min_version,
                         not args.no_runtime, args.compress_level)
    try:
        manifest = build(inputs, key, args.out)
    except BuildError as exc:
        print(f"kiosk-bundle: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"bundle": str(args.out), "version": manifest.version,
                      "manifest_digest": manifest.digest(), "bytes": args.out.stat().st_size,
                      "files": len(manifest.files), "runtime": manifest.runtime.digest,
                      "runtime_included": manifest.runtime.included}))
    return 0


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{running_python()}" / "site-packages"


def _verify(args: argparse.Namespace) -> int:
    keys = list(args.trusted_key)
    if args.config is not None:
        keys += load_config(args.config).update.trusted_keys
    try:
        manifest = verify_bundle(args.bundle, keys, args.digest)
        if args.running_version:
            manifest.check_installable(args.running_version, running_python())
    except UpdateRefused as refused:
        if args.json:
            print(json.dumps({"ok": False, "reason": refused.reason.value, "message": str(refused)}))
        else:
            print(f"refused ({refused.reason.value}): {refused}")
        return 1
    if args.json:
        print(json.dumps({"ok": True, "version": manifest.version,
                          "min_version": manifest.min_version, "files": len(manifest.files),
                          "manifest_digest": manifest.digest()}))
    else:
        print(f"ok: version {manifest.version} (minimum {manifest.min_version}), "
              f"{len(manifest.files)} files, signed by {manifest.key_id}, "
              f"manifest digest {manifest.digest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
