"""Writes the kiosk's configuration folder: kiosk.toml (0640), the device key (0600), the PIN hash,
the kiosk's copy of the CSCA certificates.

Writes are atomic (a temporary file in the same folder, fsync, rename), so a power cut during
provisioning leaves the old file or the new one, never half of one. Re-running keeps the kiosk's
identity (kiosk id and device key) unless the technician asks for a new one, and rewrites the
[devices] settings from what passed its self-test now: a device that failed is not written.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import logging
import os
import secrets
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w
from cryptography.hazmat.primitives import serialization

from drivers.passive_auth import load_trust_store
from kiosk.config import KioskConfig, load_config
from kiosk.pin import hash_pin, verify_pin  # noqa: F401 - part of this module's face
from provisioning.probe import printer_address
from provisioning.profiles import SERIAL_ROLE_OF, SERIAL_ROLES, DeviceKind
from provisioning.selftest import Role, SelfTestResult

log = logging.getLogger(__name__)

CONFIG_NAME = "kiosk.toml"
KEY_NAME = "device.key"
CSCA_NAME = "csca.pem"  # the kiosk's own copy of the trusted CSCA certificates
CONFIG_MODE = 0o640
KEY_MODE = 0o600
DIR_MODE = 0o750

# scrypt cost: ~16 MiB and ~50 ms per check; a 6-digit PIN still needs the kiosk's lock-out
# after failed attempts, the hash only keeps the PIN out of a copied configuration file.


class ProvisioningError(Exception):
    """A problem the technician must fix (bad PIN, unwritable folder, unreadable old config)."""


class KeyState(StrEnum):
    KEPT = "kept"  # the key an earlier run made
    NEW = "new"  # no key yet: made and written by this run
    REPLACING = "replacing"  # --rekey: a new key, written only once the fleet accepted it
    REPLACED = "replaced"  # --rekey, and the fleet accepted the new key: it is written


@dataclass(frozen=True)
class Identity:
    kiosk_id: str
    key_path: Path
    private_pem: bytes
    key_state: KeyState

    @property
    def key_created(self) -> bool:
        return self.key_state is not KeyState.KEPT


# -- technician PIN --------------------------------------------------------------------------


def validate_pin(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit() and 6 <= len(pin) <= 12):
        raise ProvisioningError("the technician PIN must be 6 to 12 digits")
    if len(set(pin)) == 1 or pin in "01234567890123" or pin in "98765432109876":
        raise ProvisioningError("the technician PIN must not be a repeated digit or a sequence")


def read_pin(pin_stdin: bool, has_pin: bool) -> str | None:
    """The new PIN, or None to keep the stored one. Never from the command line (ps shows it)."""
    if pin_stdin:
        pin = sys.stdin.readline().strip()
    elif sys.stdin.isatty() and not has_pin:
        pin = getpass.getpass("New technician PIN (6-12 digits): ")
        if getpass.getpass("Repeat the PIN: ") != pin:
            raise ProvisioningError("the two PINs differ")
    elif has_pin:
        return None
    else:
        raise ProvisioningError("a technician PIN is needed: run interactively or use --pin-stdin")
    validate_pin(pin)
    return pin


# -- files -----------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int, group: str | None = None) -> None:
    """Writes `data` to `path` with `mode` from the first byte on (never world-readable)."""
    folder = path.parent
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask
        if group is not None:
            gid = _gid(group)
            if gid is not None:
                os.fchown(fd, -1, gid)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def _gid(group: str) -> int | None:
    """The group the kiosk service runs as, when it exists and we may give files to it."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        log.info("group %s does not exist; files keep the provisioner's group", group)
        return None
    return gid if os.geteuid() == 0 else None


def prepare_folder(folder: Path, group: str | None = None) -> None:
    """The configuration's folder, made if need be. As root, given to `group` (the kiosk
    service's): its files are the group's to read (0640), so the group must enter the folder
    (scripts/install-kiosk.sh makes /etc/kiosk so; this is for a kiosk provisioned without)."""
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        raise ProvisioningError(f"cannot create {folder}: {exc.strerror}") from exc
    gid = _gid(group) if group is not None and made else None
    if gid is not None:   # only a folder made here: --config-dir /etc keeps its group
        os.chown(folder, -1, gid)
        os.chmod(folder, DIR_MODE)   # mkdir's mode went through the umask
    if not os.access(folder, os.W_OK):
        raise ProvisioningError(f"cannot write to {folder} (run as root for /etc/kiosk)")


def read_existing(folder: Path) -> dict[str, Any]:
    """The kiosk.toml a previous run wrote ({} when none)."""
    path = folder / CONFIG_NAME
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisioningError(f"{path} is not valid TOML ({exc}); move it away first") from exc
    except OSError as exc:
        raise ProvisioningError(f"cannot read {path}: {exc.strerror} (run as root?)") from exc


def new_kiosk_id() -> str:
    return f"KIOSK-{secrets.token_hex(5).upper()}"


def ensure_identity(
    folder: Path,
    existing: dict[str, Any],
    generate_key: Callable[[], tuple[bytes, bytes]],
    *,
    rekey: bool = False,
    kiosk_id: str | None = None,
) -> Identity:
    """The kiosk id and device key: kept from an earlier run, new on the first run.

    With `rekey` the kiosk keeps its id and gets a new key in memory only: the key on disk is
    the one the fleet knows until `commit_key` replaces it, after the fleet accepted the new one.
    `generate_key` returns (private_pem, public_pem); the private key is written 0600.
    """
    key_path = folder / KEY_NAME
    chosen = str(kiosk_id or existing.get("kiosk_id") or new_kiosk_id())
    if key_path.exists() and not rekey:
        return Identity(chosen, key_path, key_path.read_bytes(), KeyState.KEPT)
    private_pem, _public_pem = generate_key()
    if key_path.exists():
        return Identity(chosen, key_path, private_pem, KeyState.REPLACING)
    atomic_write(key_path, private_pem, KEY_MODE)
    return Identity(chosen, key_path, private_pem, KeyState.NEW)


def commit_key(identity: Identity) -> Identity:
    """Writes a replacing key over the old one (the fleet has accepted it)."""
    if identity.key_state is not KeyState.REPLACING:
        return identity
    atomic_write(identity.key_path, identity.private_pem, KEY_MODE)
    return Identity(identity.kiosk_id, identity.key_path, identity.private_pem, KeyState.REPLACED)


def install_trust_store(folder: Path, pem: bytes, group: str | None = None) -> Path:
    """The kiosk's own copy of the CSCA certificates: the technician's file may be on a stick."""
    path = folder / CSCA_NAME
    atomic_write(path, pem, CONFIG_MODE, group)
    return path


def merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; everything else in `updates` replaces what was there."""
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def validate_document(document: dict[str, Any]) -> KioskConfig:
    """Runs the tables the kiosk knows through its own loader: a typo fails here, not at boot.

    Tables the loader does not know yet ([fleet], [technician]) are left to the kiosk.
    """
    known = {f.name for f in fields(KioskConfig)}
    try:
        return load_config(None, {k: v for k, v in document.items() if k in known})
    except (ValueError, TypeError) as exc:
        raise ProvisioningError(f"the configuration would not load: {exc}") from exc


def write_config(folder: Path, document: dict[str, Any], group: str | None = None) -> Path:
    validate_document(document)
    path = folder / CONFIG_NAME
    header = b"# Written by kiosk-provision; re-run it rather than editing by hand.\n"
    atomic_write(path, header + tomli_w.dumps(document).encode("utf-8"), CONFIG_MODE, group)
    return path


SESSION_ENV_NAME = "session.env"


def cage_rotation(rotation: int) -> str:
    """cage's arguments that turn its output `rotation` degrees clockwise: one -r per 90."""
    return " ".join(["-r"] * (rotation // 90 % 4))


def write_session_env(folder: Path, rotation: int) -> Path:
    """The display session's settings (kiosk-session.service's EnvironmentFile=): readable by
    systemd, which reads it as root, and by the kiosk's group."""
    path = folder / SESSION_ENV_NAME
    text = (
        "# Written by kiosk-provision from [ui] rotation; the display session reads it.\n"
        f"KIOSK_CAGE_ROTATE={cage_rotation(rotation)}\n"
    )
    atomic_write(path, text.encode(), CONFIG_MODE)
    return path


def give_key_to(key_path: Path, user: str | None) -> None:
    """The kiosk service reads its device key: as root, the key's owner becomes that user."""
    if user is None or os.geteuid() != 0:
        return
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        log.info("user %s does not exist; the device key stays root's", user)
        return
    os.chown(key_path, entry.pw_uid, entry.pw_gid)


# -- the [devices] table and the trust store --------------------------------------------------

# Every [devices] setting this tool decides: rewritten from what passed now, or removed.
MANAGED_DEVICE_KEYS = frozenset(
    {"card_reader", "printer_host", "printer_port", "face_camera_url", "document_camera_url",
     "csca_store", *(role.config_key for role in SERIAL_ROLES)}
)  # fmt: skip


def trust_store_pem(path: Path) -> bytes:
    """The certificates of a CSCA store (file or folder, PEM or DER) as one PEM file."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in load_trust_store(path))


def device_settings(
    results: list[SelfTestResult], csca_path: Path | None
) -> tuple[dict[str, Any], list[str]]:
    """[devices] settings of everything whose self-test passed; the others, named."""
    settings: dict[str, Any] = {}
    left_out: list[str] = []
    for result in results:
        role = result.device
        if result.address == "-":
            continue  # not found: nothing to write, the FAIL line says so
        if not result.outcome.usable:
            left_out.append(f"{role.value} {result.address}")
            continue
        if role is Role.CHIP_READER:
            settings["card_reader"] = result.address
        elif role is Role.RECEIPT_PRINTER:
            settings["printer_host"], settings["printer_port"] = printer_address(result.address)
        elif role is Role.FACE_CAMERA:
            settings["face_camera_url"] = result.address
        elif role is Role.DOCUMENT_CAMERA:
            settings["document_camera_url"] = result.address
        elif role is Role.CSCA_STORE and csca_path is not None:
            settings["csca_store"] = str(csca_path)
        elif role.value in {r.kind.value for r in SERIAL_ROLES}:
            settings.setdefault(SERIAL_ROLE_OF[DeviceKind(role.value)].config_key, result.address)
    return settings, left_out
