"""What the kiosk keeps about its own running across restarts: how the previous run ended (to
tell a clean stop from a crash), and the operators' service order (out of service survives a
restart).

At start the kiosk writes a "running" marker in its state directory; a clean stop overwrites it
with "clean", and an exception that escapes the kiosk with "crashed" (after the kiosk queued its
own report of it). A start that finds "running" knows the previous run was killed, lost power or
hung (systemd's watchdog), and nobody has told the operators yet. The marker is written with
fsync and an atomic rename, so a power cut leaves the old marker or the new one, never half.

The service order is the fleet server's wanted state (wire.fleet.ServiceOrder), saved the
moment it arrives and applied at start before the attract screen, so a kiosk taken out of service
stays out through a restart even before it reaches the server again.

Also here: this process's start time, the machine's boot id (a new one means a reboot happened),
and systemd's restart counter for the kiosk's unit (NRestarts), when systemd runs the kiosk.
Everything here blocks on small files or one short subprocess: call it from a worker thread.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.json_object import JsonObject
from wire.fleet import ServiceOrder, WireError

log = logging.getLogger(__name__)

MARKER = "run-marker.json"
SERVICE_ORDER = "service-order.json"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
CGROUP = Path("/proc/self/cgroup")


class PreviousRun(enum.Enum):
    FIRST = "first"  # no marker: a new installation (or a wiped state directory)
    CLEAN = "clean"  # stopped cleanly
    CRASHED = "crashed"  # an exception escaped; that run reported it itself
    UNCLEAN = "unclean"  # killed, power lost or hung: nobody has reported it yet


@dataclass(frozen=True)
class RunInfo:
    """What this run knows about itself at start."""

    previous: PreviousRun
    previous_started_at: float | None
    previous_reason: str
    started_at: float
    boot_id: str
    restarts: int | None  # systemd's NRestarts of the kiosk's unit; None outside systemd


class RunRecord:
    """The marker file in the kiosk's state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / MARKER

    def begin(self, now: float | None = None) -> RunInfo:
        """Read how the last run ended, then mark this one running."""
        started_at = time.time() if now is None else now
        previous, previous_started, reason = PreviousRun.FIRST, None, ""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            previous = PreviousRun(data["state"]) if data["state"] != "running" else (
                PreviousRun.UNCLEAN
            )
            previous_started = float(data.get("started_at") or 0) or None
            reason = str(data.get("reason", ""))[:200]
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, OSError):
            # A marker we cannot read was cut short by the very thing it is there to catch.
            previous = PreviousRun.UNCLEAN
        write_atomically(self.path, {"state": "running", "started_at": started_at, "pid": os.getpid()})
        return RunInfo(previous, previous_started, reason, started_at, boot_id(),
                       systemd_restarts())

    def end(self, crashed_reason: str | None = None, started_at: float | None = None) -> None:
        """Record a clean stop, or (with a reason) a crash this run has reported itself."""
        state = "crashed" if crashed_reason is not None else "clean"
        write_atomically(self.path, {"state": state, "started_at": started_at,
                                     "reason": crashed_reason or "", "ended_at": time.time()})


class ServiceOrderFile:
    """The last service order the fleet sent, in the state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / SERVICE_ORDER

    def load(self) -> ServiceOrder | None:
        try:
            return ServiceOrder.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, WireError, OSError) as exc:
            log.error("saved service order unreadable; waiting for the fleet's",
                      extra={"reason": str(exc)[:200]})
            return None

    def save(self, order: ServiceOrder) -> None:
        write_atomically(self.path, order.to_json())


def write_atomically(path: Path, data: JsonObject) -> None:
    """Replace `path` with `data` as JSON so that a power cut leaves the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)  # the rename itself
    finally:
        os.close(fd)


def boot_id(path: Path = BOOT_ID) -> str:
    """The kernel's id of this boot (changes on every boot); "" where there is none."""
    try:
        return path.read_text(encoding="ascii").strip()[:64]
    except OSError:
        return ""


def systemd_unit(cgroup: Path = CGROUP) -> str | None:
    """The systemd service this process runs in, from its cgroup ("kiosk.service"), or None."""
    try:
        lines = cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        # cgroup v2: "0::/system.slice/kiosk.service"; v1 keeps the path under name=systemd.
        hierarchy, _, path = line.partition(":")[2].partition(":")
        if hierarchy not in ("", "name=systemd"):
            continue
        leaf = path.rstrip("/").rsplit("/", 1)[-1]
        if leaf.endswith(".service"):
            return leaf
    return None


def systemd_restarts(unit: str | None = None, timeout_s: float = 5.0) -> int | None:
    """How many times systemd has restarted the kiosk's unit (its NRestarts property), or None
    when the kiosk does not run under systemd or systemd cannot say."""
    unit = unit or systemd_unit()
    if unit is None:
        return None
    try:
        shown = subprocess.run(
            ["systemctl", "show", "--property=NRestarts", "--value", unit],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("systemd restart count unknown", extra={"reason": type(exc).__name__})
        return None
    value = shown.stdout.strip()
    if shown.returncode != 0 or not value.isdigit():
        log.warning("systemd restart count unknown", extra={"reason": shown.stderr.strip()[:200]})
        return None
    return int(value)
