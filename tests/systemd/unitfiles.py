"""Reading our unit files as systemd does, and running their commands the way it would."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
UNIT_NAMES = [
    "kiosk.service",
    "kiosk-session.service",
    "kiosk-out-of-service.service",
    "kiosk-update.service",
    "kiosk-update-guard.service",
    "kiosk-fleet.service",
    "kiosk-fleet@.service",
]
# The units the kiosk machine runs (the fleet server runs elsewhere).
KIOSK_UNITS = ["kiosk.service", "kiosk-session.service", "kiosk-out-of-service.service",
               "kiosk-update.service", "kiosk-update-guard.service"]
# Units that start kiosk services (verified; systemd-analyze security scores only services).
TRIGGER_UNITS = ["kiosk-update.path", "kiosk-update-guard.timer"]
# Where the units expect the project's console scripts: the kiosk units run the release in the
# slot /opt/kiosk/current points at; the fleet server has its own virtualenv.
INSTALLED_BIN = "/opt/kiosk/current/venv/bin/"
FLEET_BIN = "/opt/kiosk/venv/bin/"
VENV_BIN = Path(sys.executable).parent


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> (key, value) in order; repeated keys are kept, as systemd keeps them."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"key outside a section: {line}"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def load(name: str) -> dict[str, list[tuple[str, str]]]:
    return parse_unit((UNITS / name).read_text())


def values(unit: dict, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def words(unit: dict, section: str, key: str) -> set[str]:
    return {w for v in values(unit, section, key) for w in v.split()}


def last(unit: dict, section: str, key: str) -> str | None:
    """The value that counts for a single-valued setting (the last assignment wins)."""
    found = values(unit, section, key)
    return found[-1] if found else None


def render(tmp_path: Path, source: Path = UNITS,
           names: list[str] | None = None) -> Path:
    """A copy of the units (from `source`: the repository's, or where an install put them)
    whose binaries exist here: the venv's scripts and a stand-in cage."""
    out = tmp_path / "units"
    out.mkdir()
    cage = shutil.which("cage")
    if cage is None:
        cage_stub = tmp_path / "bin" / "cage"
        cage_stub.parent.mkdir()
        cage_stub.write_text('#!/bin/sh\nexec "$@"\n')
        cage_stub.chmod(0o755)
        cage = str(cage_stub)
    for name in names if names is not None else UNIT_NAMES + TRIGGER_UNITS:
        text = (source / name).read_text()
        text = text.replace(INSTALLED_BIN, f"{VENV_BIN}/").replace(FLEET_BIN, f"{VENV_BIN}/")
        text = text.replace("/usr/bin/cage", cage)
        (out / name).write_text(text)
    return out


def exec_start(name: str, root: Path, config: Path) -> list[str]:
    """The unit's ExecStart= as systemd would run it, with the machine's folders under `root`.

    /etc/kiosk/kiosk.toml becomes `config`; /var/lib/X and ${LOGS_DIRECTORY} become the folders
    StateDirectory= and LogsDirectory= name, under root/var/lib and root/var/log.
    """
    unit = load(name)
    (command,) = values(unit, "Service", "ExecStart")
    logs = last(unit, "Service", "LogsDirectory")
    env = {"LOGS_DIRECTORY": str(root / "var/log" / logs) if logs else ""}
    # systemd.service(5) "Command lines": ${VAR} is replaced by the variable's value.
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command)
    argv = shlex.split(command)
    argv[0] = argv[0].replace(INSTALLED_BIN, f"{VENV_BIN}/").replace(FLEET_BIN, f"{VENV_BIN}/")
    return [
        str(config) if arg == "/etc/kiosk/kiosk.toml"
        else str(root / arg.lstrip("/")) if arg.startswith("/var/lib/")
        else arg
        for arg in argv
    ]


def working_directory(name: str, root: Path) -> Path:
    (folder,) = values(load(name), "Service", "WorkingDirectory")
    return root / folder.lstrip("/")
