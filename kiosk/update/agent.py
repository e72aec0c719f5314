"""The kiosk's side of updates, inside the kiosk process.

- It passes the fleet's request (bundle URL, manifest digest) to the updater (request.json).
- It reports this run's health (attract screen reached, devices probed, fleet heartbeat
  answered) to the slot guard (health.json): a new version on trial is kept once healthy.
- When a release is staged, it restarts the kiosk into it (activate.json, then the app stops
  and systemd starts it again) only between citizens, with no transaction left unsettled,
  inside the maintenance window.
- A version on trial that is not healthy by its deadline gives up (between citizens) so the
  guard rolls it back at the restart.
- `status()` says which version runs and what became of the last update, for the heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from kiosk.config import KioskConfig, UpdateConfig
from kiosk.journal import Journal
from kiosk.json_object import JsonObject
from kiosk.tasks import TaskSupervisor
from kiosk.transaction import settlement
from kiosk.update.guard import (
    SLOTS,
    CrashPoints,
    Guard,
    Layout,
    read_json,
    trial_elapsed,
    write_json,
)
from kiosk.update.layout import layout_for, running_slot
from kiosk.update.request import UpdateRequest
from kiosk.update.window import MaintenanceWindow

log = logging.getLogger(__name__)


class HealthCheck(enum.StrEnum):
    """What a run must reach to count as healthy."""

    ATTRACT_SCREEN = "attract_screen"
    DEVICES_PROBED = "devices_probed"
    FLEET_HEARTBEAT = "fleet_heartbeat"


class Gate(enum.StrEnum):
    """Why the kiosk does not restart into a staged release right now."""

    CITIZEN_PRESENT = "citizen_present"
    TRANSACTION_UNSETTLED = "transaction_unsettled"
    OUTSIDE_WINDOW = "outside_maintenance_window"


@dataclass(frozen=True)
class UpdateFiles:
    """One look at the files updates are coordinated through (read off the loop)."""

    updater: JsonObject  # the updater's updater.json
    boot: JsonObject  # the slot guard's boot.json
    staged_release: JsonObject  # release.json of the slot the updater staged
    asked: JsonObject  # this kiosk's activate.json


def unsettled(journal: Journal) -> int:
    """Transactions a restart must not interrupt: the transaction core's own answer. Those in
    needs_attention are parked for an operator and no run of any version moves them, so they do
    not hold updates back (a kiosk that waited for them could go without a security fix for
    weeks)."""
    return len(settlement.unsettled(journal))


def write_kiosk_file(layout: Layout, path: Path, data: JsonObject) -> None:
    """A file of the kiosk's update folder, readable by the updater (group kiosk) and the guard
    (the kiosk's umask would hide it from them)."""
    layout.kiosk_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.kiosk_dir, 0o750)
    write_json(path, data, mode=0o640)


def write_request(layout: Layout, request: UpdateRequest) -> None:
    """Asks the updater for a bundle: kiosk-update.path starts it when this file changes."""
    write_kiosk_file(layout, layout.request_file, {**request.to_json(),
                                                   "requested_at": time.time()})


class UpdateAgent:
    """Updates as seen from the running kiosk: its health report, the restart into a staged
    release between citizens, giving up a trial past its deadline, and the fleet's view."""

    def __init__(self, config: KioskConfig, is_busy: Callable[[], bool], journal: Journal,
                 restart_app: Callable[[], None], fleet_expected: bool,
                 prefix: str | None = None,
                 local_time: Callable[[], time.struct_time] = time.localtime,
                 tasks: TaskSupervisor | None = None) -> None:
        self.tasks = tasks or TaskSupervisor()  # the kiosk's (FlowContext.tasks) when it runs
        self.layout = layout_for(config)
        self.is_busy = is_busy
        self.journal = journal
        self.restart_app = restart_app
        self.local_time = local_time
        self.interval_s = config.update.check_interval_s
        self.crash = CrashPoints(config.debug.update_crash_after)
        try:
            self.window = MaintenanceWindow.parse(config.update.maintenance_window)
        except ValueError as exc:
            # A typo must not stop updates for good, nor let them happen at noon.
            default = UpdateConfig().maintenance_window
            log.error("%s; using %s", exc, default)
            self.window = MaintenanceWindow.parse(default)
        self.required = {HealthCheck.ATTRACT_SCREEN, HealthCheck.DEVICES_PROBED}
        if fleet_expected:
            self.required.add(HealthCheck.FLEET_HEARTBEAT)
        self.reached: dict[HealthCheck, float] = {}
        self.slot = running_slot(self.layout, prefix)
        # Read once before the attract screen, like the device key: a few bytes.
        release = self.layout.release(self.slot) if self.slot else None
        self.version = (release or {}).get("version") or _package_version()
        trial = (read_json(self.layout.boot_file) or {}).get("trial")
        self.trial = trial if trial and trial.get("slot") == self.slot else None
        self.restarting = False
        self.gave_up = False
        self._snapshot: JsonObject = {"running_version": self.version, "slot": self.slot}
        self._tasks: list[asyncio.Task[None]] = []  # the watch loop
        self._writes: set[asyncio.Future[None]] = set()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="updates")

    # -- health ---------------------------------------------------------------------------------

    def attract_reached(self) -> None:
        self._mark(HealthCheck.ATTRACT_SCREEN)

    def devices_probed(self) -> None:
        self._mark(HealthCheck.DEVICES_PROBED)

    def fleet_heartbeat_acknowledged(self) -> None:
        """For the fleet link: call on the first heartbeat the fleet server answered."""
        self._mark(HealthCheck.FLEET_HEARTBEAT)

    @property
    def healthy(self) -> bool:
        return self.required <= set(self.reached)

    def _mark(self, check: HealthCheck) -> None:
        if check in self.reached:
            return
        self.reached[check] = time.time()
        if self.healthy:
            log.info("healthy: %s in slot %s", self.version, self.slot)
        self._write_health()

    def _health(self) -> JsonObject:
        return {"slot": self.slot, "version": self.version, "pid": os.getpid(),
                "staged_id": self.trial["staged_id"] if self.trial else None,
                "healthy": self.healthy and not self.gave_up,
                "reached": {c.value: t for c, t in self.reached.items()},
                "missing": sorted(c.value for c in self.required - set(self.reached)),
                "at": time.time()}

    def _write_health(self) -> None:
        if self.slot is None:
            return
        health = self._health()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(self.layout.health_file, health)
            return
        # One worker: reports land in the order they were made, never an older over a newer.
        task = loop.run_in_executor(self._io, self._write, self.layout.health_file, health)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _write(self, path: Path, data: JsonObject) -> None:
        write_kiosk_file(self.layout, path, data)

    # -- requests and status, for the fleet link ---------------------------------------------

    async def request_update(self, url: str, manifest_digest: str, request_id: str) -> None:
        """Asks the updater for this bundle (kiosk-update.path starts it when the file changes)."""
        request = UpdateRequest(url, manifest_digest, request_id)
        await asyncio.get_running_loop().run_in_executor(self._io, write_request, self.layout,
                                                         request)

    def status(self) -> JsonObject:
        """Which version runs and what became of the last update (a snapshot the watch loop
        keeps, so any thread may read it)."""
        return self._snapshot

    def _take_snapshot(self, files: UpdateFiles) -> JsonObject:
        updater, boot = files.updater, files.boot
        results = [r for r in (boot.get("last_result"), updater.get("last_result")) if r]
        staged = updater.get("staged") or {}
        pending = self._pending(files)
        return {
            "running_version": self.version, "slot": self.slot,
            "on_trial": self.trial is not None, "healthy": self.healthy,
            "updater_phase": updater.get("phase", "idle"),
            "request_id": updater.get("request_id", ""),
            "target_version": updater.get("target_version", ""),
            "progress": updater.get("progress"),
            "postponed": updater.get("postponed", "") if updater.get("phase") == "postponed"
            else "",
            "staged_version": staged.get("version", "") if pending else "",
            "waiting_for": (gate.value if (gate := self.blocked_by()) else "") if pending else "",
            "last_result": max(results, key=lambda r: r.get("at", 0)) if results else None,
        }

    # -- restarting into a new version, or out of a bad one ------------------------------------

    def blocked_by(self) -> Gate | None:
        if self.is_busy():
            return Gate.CITIZEN_PRESENT
        if unsettled(self.journal):
            return Gate.TRANSACTION_UNSETTLED
        if not self.window.contains(self.local_time()):
            return Gate.OUTSIDE_WINDOW
        return None

    def _pending(self, files: UpdateFiles) -> JsonObject | None:
        """The staged release this kiosk should restart into, if any."""
        staged = files.updater.get("staged")
        if staged and not isinstance(staged, dict):  # as the guard: a corrupted updater.json
            raise ValueError(f"updater.json: staged is {type(staged).__name__}, not an object")
        if (self.slot is None or not staged or files.updater.get("phase") != "staged"
                or files.boot.get("trial") or staged.get("slot") == self.slot
                or staged.get("staged_id") == files.boot.get("last_activated")):
            return None
        # The guard switches only to the slot holding exactly this release; and a release it
        # did not switch to once is not asked for again: a restart loop would end in systemd's
        # start limit, on the out-of-service screen.
        if files.staged_release.get("staged_id") != staged.get("staged_id") or \
                files.asked.get("staged_id") == staged.get("staged_id"):
            return None
        return staged

    def consider(self, files: UpdateFiles) -> None:
        """One look at the files; runs on the loop, so nobody can start a transaction between
        the check of the gate and the restart."""
        if self.restarting:
            return
        if self.trial is not None and (self.gave_up or not self.healthy):
            # Once given up, for good: health coming late does not undo the report.
            if self.gave_up or trial_elapsed(self.trial) > float(self.trial["deadline_s"]):
                self._give_up()
            return
        staged = self._pending(files)
        if staged is None or self.blocked_by() is not None:
            return
        # A few hundred bytes, written on the loop like a journal commit: the gate stays shut.
        self._write(self.layout.activation_file,
                    {"staged_id": staged["staged_id"], "at": time.time()})
        self.crash.reached("activation_written")
        log.info("restarting into %s (staged in slot %s)", staged["version"], staged["slot"])
        self.restarting = True
        self.restart_app()

    def _give_up(self) -> None:
        if not self.gave_up:
            self.gave_up = True
            log.error("%s is not healthy in time (missing: %s): restarting for the rollback",
                      self.version, ", ".join(sorted(self.required - set(self.reached))))
            self._write_health()
        if not self.is_busy():
            self.restarting = True
            self.restart_app()

    async def _watch(self) -> None:
        while True:
            files = await asyncio.get_running_loop().run_in_executor(self._io, self.read_files)
            self._snapshot = self._take_snapshot(files)
            self.consider(files)
            await asyncio.sleep(self.interval_s)

    def read_files(self) -> UpdateFiles:
        updater = read_json(self.layout.updater_file) or {}
        slot = (updater.get("staged") or {}).get("slot")
        return UpdateFiles(updater, Guard(self.layout).load(),
                           (self.layout.release(slot) if slot in SLOTS else None) or {},
                           read_json(self.layout.activation_file) or {})

    def start(self) -> None:
        self._tasks.append(self.tasks.keep_running("updates", self._watch))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._writes:  # a health report in flight is finished, not dropped
            await asyncio.gather(*self._writes, return_exceptions=True)
        self._io.shutdown(wait=False)


def _package_version() -> str:
    try:
        return metadata.version("kiosk")
    except metadata.PackageNotFoundError:
        return "dev"
