"""The slot guard: which slot the kiosk starts from, a new version's trial, and its rollback.

Slots /opt/kiosk/slots/a and b each hold a complete release; every kiosk unit starts through
the symlink /opt/kiosk/current. The guard decides where it points, from boot.json (its own: the
good slot, the trial with its starts left and deadline, the last result and why), updater.json
(the release the updater staged) and the kiosk's activate.json ("switch now, nobody is at the
screen") and health.json ("this run reached its healthy point").

It runs as root before every start of kiosk.service (ExecStartPre=+ `boot`), after every stop
(ExecStopPost=+ `stopped`: how a trial run ended) and from a timer (`check`: keep a healthy
trial, roll back one long past its deadline). Standard library only, installed outside the
slots, no network: a broken release cannot break its own rollback. Every write is a whole file
renamed into place, ordered so that a SIGKILL between any two steps leaves a state the next
run completes.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

# The guard's JSON files (boot.json, release.json, activate.json), standalone: it imports nothing
# of the kiosk, so not kiosk.json_object either. Any: json.loads' untyped values.
JsonFile = dict[str, Any]

SLOTS = ("a", "b")
STATE_FORMAT = 1
# The timer's backstop waits this long past the deadline for the kiosk to restart itself.
BACKSTOP_GRACE_S = 60.0
MAX_STOPS_KEPT = 5


# The guard runs as a standalone script outside the slots (it may import nothing of ours), so it
# keeps its own copy of the outcomes; tests/update/test_guard.py holds it equal to
# wire.update.errors.Outcome, which the fleet reads.
class Outcome(enum.StrEnum):
    INSTALLED = "installed"  # the first release on an empty machine
    UPDATED = "updated"
    ROLLED_BACK = "rolled_back"


class RollbackReason(enum.StrEnum):
    """Why a new version was rolled back (reported to the fleet)."""

    START_FAILED = "start_failed"  # every start allowed ended before the version was healthy
    NOT_HEALTHY_IN_TIME = "not_healthy_in_time"  # running, but not healthy by the deadline


class Layout:
    """Where the slots and the three parties' files are (the units pass the same folders)."""

    def __init__(self, root: Path, state_dir: Path, kiosk_dir: Path) -> None:
        self.root = root  # /opt/kiosk
        self.state_dir = state_dir  # /var/lib/kiosk-update: the updater's
        self.kiosk_dir = kiosk_dir  # /var/lib/kiosk/update: the kiosk's
        self.current = root / "current"
        self.runtimes = root / "runtimes"
        # Beside the slots, where only root writes: the updater (on the network) can read the
        # guard's decisions but not make them.
        self.boot_file = root / "boot.json"
        self.updater_file = state_dir / "updater.json"
        self.request_file = kiosk_dir / "request.json"
        self.activation_file = kiosk_dir / "activate.json"
        self.health_file = kiosk_dir / "health.json"

    def slot(self, name: str) -> Path:
        return self.root / "slots" / name

    def release(self, slot: str) -> JsonFile | None:
        """The slot's release.json: present only in a complete slot (it is published whole)."""
        return read_json(self.slot(slot) / "release.json")

    def current_slot(self) -> str | None:
        try:
            name = Path(os.readlink(self.current)).name
        except OSError:
            return None
        return name if name in SLOTS else None

    def switch(self, slot: str) -> None:
        """Points `current` at the slot: a new symlink renamed over the old one (atomic)."""
        if self.current_slot() == slot and self.current.is_symlink():
            return
        tmp = self.root / f".current.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(f"slots/{slot}", tmp)
        os.replace(tmp, self.current)
        fsync_dir(self.root)


class SlotLock:
    """An exclusive lock on one slot: the updater holds it while writing the slot, the guard
    while switching to it, so a slot is never switched to half-written."""

    def __init__(self, layout: Layout, slot: str) -> None:
        self.path = layout.state_dir / f"slot-{slot}.lock"
        self._fd: int | None = None

    def acquire(self, wait: bool) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Read-only is enough for flock, so root and the updater's user can share the file.
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class CrashPoints:
    """Test instrumentation, as the journal's crash_after: "STEP" or "STEP:N" kills this process
    with SIGKILL (a power cut) the Nth time it reaches STEP. Empty: nothing happens."""

    def __init__(self, spec: str = "") -> None:
        self.step, _, count = spec.partition(":")
        self.countdown = int(count or 1)

    def reached(self, step: str) -> None:
        if self.step and step == self.step:
            self.countdown -= 1
            if self.countdown == 0:
                os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, data: JsonFile, mode: int = 0o644) -> None:
    """The whole file, durably: written beside, fsynced, renamed over, folder fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, json.dumps(data, indent=1, sort_keys=True).encode())
        os.fsync(fd)
        os.fchmod(fd, mode)  # the creating process's umask must not narrow it
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_json(path: Path) -> JsonFile | None:
    """The file's object; None when it is missing or not a JSON object (never half-written:
    every writer renames whole files into place)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def boot_id() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def trial_elapsed(trial: JsonFile, now: float | None = None) -> float:
    """Seconds since the trial began: by the boot clock within one boot (immune to the wall
    clock being set at boot), else by the wall clock."""
    if trial.get("boot_id") and trial["boot_id"] == boot_id():
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - float(trial["started_boottime"]))
    return max(0.0, (now if now is not None else time.time()) - float(trial["started_at"]))


def new_result(outcome: Outcome, version: str, **extra: object) -> JsonFile:
    return {"id": uuid.uuid4().hex, "outcome": outcome.value, "version": version,
            "at": time.time(), **extra}


class Guard:
    """The decisions; each public method is one run of the guard."""

    def __init__(self, layout: Layout, crash: CrashPoints | None = None) -> None:
        self.layout = layout
        self.crash = crash or CrashPoints()

    def load(self) -> JsonFile:
        state = read_json(self.layout.boot_file)
        if state is not None and state.get("format") == STATE_FORMAT:
            return state
        # First run, or a state we cannot read: the slot `current` points at is the good one if
        # it is complete (none on an empty machine: the first staged release will be).
        current = self.layout.current_slot()
        good = current if current and self.layout.release(current) is not None else None
        return {"format": STATE_FORMAT, "good": good, "trial": None, "last_activated": None,
                "last_result": None}

    def save(self, state: JsonFile) -> None:
        write_json(self.layout.boot_file, state)

    def healthy(self, trial: JsonFile) -> bool:
        health = read_json(self.layout.health_file) or {}
        return bool(health.get("healthy")) and health.get("staged_id") == trial["staged_id"]

    # -- before every start --------------------------------------------------------------------

    def boot(self) -> str:
        """ExecStartPre: settle a trial, or start one the kiosk asked for; `current` repaired."""
        state = self.load()
        trial = state.get("trial")
        if trial:
            if self.healthy(trial):
                return self.commit(state)
            if int(trial["tries_left"]) <= 0:
                return self.rollback(state, RollbackReason.START_FAILED)
            if trial_elapsed(trial) > float(trial["deadline_s"]):
                return self.rollback(state, RollbackReason.NOT_HEALTHY_IN_TIME)
            trial["tries_left"] = int(trial["tries_left"]) - 1
            self.save(state)
            self.crash.reached("guard_try_counted")
            self.layout.switch(trial["slot"])
            return f"trial of {trial['version']} in slot {trial['slot']}, {trial['tries_left']} starts left"
        staged = self.activation_wanted(state)
        if staged is not None:
            return self.activate(state, staged)
        if state["good"] is None:
            # Neither a state nor a link survived: start whatever complete release there is.
            state["good"] = next((s for s in SLOTS if self.layout.release(s) is not None), None)
        if state["good"] is not None:
            self.layout.switch(state["good"])
        if read_json(self.layout.boot_file) != state:
            self.save(state)
        return f"slot {state['good']}"

    def activation_wanted(self, state: JsonFile) -> JsonFile | None:
        """The staged release, when the kiosk asked for exactly it (between citizens) and it was
        never tried before."""
        staged = (read_json(self.layout.updater_file) or {}).get("staged")
        asked = read_json(self.layout.activation_file) or {}
        if not staged:
            return None
        if not isinstance(staged, dict):  # a corrupted updater.json: the guard's journal says so
            raise ValueError(f"updater.json: staged is {type(staged).__name__}, not an object")
        # The first release on an empty machine needs no asking: no kiosk runs to ask.
        if state["good"] is not None and asked.get("staged_id") != staged.get("staged_id"):
            return None
        if staged["staged_id"] == state.get("last_activated") or staged["slot"] == state["good"]:
            return None
        release = self.layout.release(staged["slot"])
        if release is None or release.get("staged_id") != staged["staged_id"]:
            return None
        return staged

    def activate(self, state: JsonFile, staged: JsonFile) -> str:
        lock = SlotLock(self.layout, staged["slot"])
        if not lock.acquire(wait=False):
            return "staged slot is being written; not switching"
        try:
            # Checked again under the lock: the updater may have replaced the slot meanwhile.
            release = self.layout.release(staged["slot"])
            if release is None or release.get("staged_id") != staged["staged_id"]:
                return "staged slot changed; not switching"
            state["last_activated"] = staged["staged_id"]
            if state["good"] is None:
                # Nothing to fall back to: the first release is good by definition.
                state["good"] = staged["slot"]
                state["last_result"] = new_result(Outcome.INSTALLED, staged["version"])
                self.save(state)
                self.layout.switch(staged["slot"])
                return f"installed {staged['version']} in slot {staged['slot']}"
            good_release = self.layout.release(state["good"]) or {}
            state["trial"] = {
                "slot": staged["slot"], "version": staged["version"],
                "staged_id": staged["staged_id"], "from_version": good_release.get("version", ""),
                # This start is the first of the ones allowed.
                "tries_left": max(0, int(staged["start_tries"]) - 1),
                "deadline_s": float(staged["deadline_s"]),
                "started_at": time.time(), "boot_id": boot_id(),
                "started_boottime": time.clock_gettime(time.CLOCK_BOOTTIME), "stops": [],
            }
            # The intent first, then the switch: killed in between, the next run switches.
            self.save(state)
            self.crash.reached("guard_trial_recorded")
            self.layout.switch(staged["slot"])
            self.crash.reached("guard_switched")
            return f"trying {staged['version']} in slot {staged['slot']}"
        finally:
            lock.release()

    def commit(self, state: JsonFile) -> str:
        trial = state["trial"]
        state["good"] = trial["slot"]
        state["trial"] = None
        state["last_result"] = new_result(Outcome.UPDATED, trial["version"],
                                          from_version=trial.get("from_version", ""))
        self.save(state)
        self.crash.reached("guard_committed")
        self.layout.switch(trial["slot"])
        return f"{trial['version']} is healthy: slot {trial['slot']} is the good slot"

    def rollback(self, state: JsonFile, reason: RollbackReason) -> str:
        trial = state["trial"]
        state["trial"] = None
        state["last_result"] = new_result(
            Outcome.ROLLED_BACK, trial["version"], reason=reason.value,
            detail=self.rollback_detail(trial, reason),
            back_to=(self.layout.release(state["good"]) or {}).get("version", ""))
        # The decision first, then the switch back: killed in between, `boot` repairs `current`.
        self.save(state)
        self.crash.reached("guard_rollback_recorded")
        self.layout.switch(state["good"])
        return f"rolled back {trial['version']} ({reason.value}) to slot {state['good']}"

    def rollback_detail(self, trial: JsonFile, reason: RollbackReason) -> str:
        """Plain words for the operator: how the trial's runs ended and what they reached."""
        parts = []
        stops = trial.get("stops") or []
        if stops:
            ends = [f"{s.get('result')} ({s.get('code')} {s.get('status')})".strip() for s in stops]
            parts.append(f"{len(stops)} run(s) ended: " + "; ".join(ends))
        health = read_json(self.layout.health_file) or {}
        if health.get("staged_id") == trial["staged_id"]:
            if health.get("missing"):
                parts.append("not reached: " + ", ".join(health["missing"]))
        elif reason is RollbackReason.START_FAILED or stops:
            parts.append("never reported any health")
        return "; ".join(parts) or reason.value

    # -- after every stop, and the timer ---------------------------------------------------------

    def stopped(self, result: str, code: str, status: str) -> str:
        """ExecStopPost: how a run of the trial version ended (systemd's $SERVICE_RESULT...)."""
        state = self.load()
        trial = state.get("trial")
        if not trial or self.layout.current_slot() != trial["slot"]:
            return "no trial"
        stops = (trial.get("stops") or []) + [{"result": result, "code": code, "status": status}]
        trial["stops"] = stops[-MAX_STOPS_KEPT:]
        self.save(state)
        return f"trial run ended: {result}"

    def check(self, grace_s: float = BACKSTOP_GRACE_S) -> tuple[str, bool]:
        """The timer: commit a healthy trial; roll back one long past its deadline (the kiosk
        should have restarted itself by then). Returns what it did, and whether the kiosk must
        be restarted to leave the rolled-back version."""
        state = self.load()
        trial = state.get("trial")
        if not trial:
            return "no trial", False
        if self.healthy(trial):
            return self.commit(state), False
        if trial_elapsed(trial) > float(trial["deadline_s"]) + grace_s:
            return self.rollback(state, RollbackReason.NOT_HEALTHY_IN_TIME), True
        return "trial running", False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-update-guard", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/opt/kiosk"))
    parser.add_argument("--state-dir", type=Path, default=Path("/var/lib/kiosk-update"))
    parser.add_argument("--kiosk-dir", type=Path, default=Path("/var/lib/kiosk/update"))
    parser.add_argument("--crash-after", default="", help=argparse.SUPPRESS)  # tests only
    parser.add_argument("--restart", default="systemctl --no-block restart kiosk.service",
                        help="with `check`: the command that restarts the kiosk after a rollback")
    parser.add_argument("--grace", type=float, default=BACKSTOP_GRACE_S,
                        help="with `check`: how long past the deadline before the backstop acts")
    parser.add_argument("action", choices=("boot", "stopped", "check"))
    args = parser.parse_args(argv)
    guard = Guard(Layout(args.root, args.state_dir, args.kiosk_dir), CrashPoints(args.crash_after))
    try:
        if args.action == "boot":
            said = guard.boot()
        elif args.action == "stopped":
            env = os.environ
            said = guard.stopped(env.get("SERVICE_RESULT", ""), env.get("EXIT_CODE", ""),
                                 env.get("EXIT_STATUS", ""))
        else:
            said, restart = guard.check(args.grace)
            if restart:
                subprocess.run(args.restart.split(), check=False)
    except Exception:
        # A bug here must not keep the kiosk from starting: it starts on `current` as it is,
        # and the traceback is in the journal.
        traceback.print_exc()
        return 0 if args.action == "boot" else 1
    print(f"kiosk-update-guard {args.action}: {said}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
