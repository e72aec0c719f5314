"""The updater: download a bundle, verify it, install it into the spare slot, stage it.

Runs as its own unit (kiosk-update.service, user kiosk-update) when the kiosk asks for an update
(its request.json changes) and at boot. It never touches the running slot and never switches:
it leaves a complete slot and says so in updater.json ("staged"); the kiosk restarts into it
between citizens and the slot guard switches (kiosk.update.guard). Every step can be killed
and run again: the download resumes, staging folders are thrown away and redone, and a slot or
runtime appears only whole, by renaming a finished folder into place.
"""

from __future__ import annotations

import compileall
import enum
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiosk.json_object import JsonObject
from kiosk.update import slot_venv
from kiosk.update.download import DownloadPolicy, download
from kiosk.update.guard import (
    CrashPoints,
    Guard,
    Layout,
    SlotLock,
    fsync_dir,
    read_json,
    write_json,
)
from kiosk.update.layout import inactive_slot
from kiosk.update.request import UpdateRequest
from wire.update.bundle import read_manifest, stream
from wire.update.errors import Postponed, Refusal, UpdatePostponed, UpdateRefused
from wire.update.manifest import FileEntry, Manifest

log = logging.getLogger(__name__)

EXIT_DONE = 0
EXIT_RETRY = 75  # EX_TEMPFAIL: kiosk-update.service restarts the updater later
PROGRESS_EVERY_S = 2.0


class UpdaterPhase(enum.StrEnum):
    IDLE = "idle"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    INSTALLING = "installing"
    STAGED = "staged"  # a complete release waits in the spare slot for the kiosk to restart
    REFUSED = "refused"  # final: the bundle will not be installed (reason in last_result)
    POSTPONED = "postponed"  # will be retried (link down, a trial running, disk full)


@dataclass(frozen=True)
class UpdaterSettings:
    trusted_keys: tuple[str, ...]
    start_tries: int
    health_deadline_s: float
    crash_after: str = ""
    download: DownloadPolicy = DownloadPolicy()


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class Updater:
    def __init__(self, layout: Layout, settings: UpdaterSettings) -> None:
        self.layout = layout
        self.settings = settings
        self.crash = CrashPoints(settings.crash_after)
        self.downloads = layout.state_dir / "downloads"
        self._state: JsonObject = read_json(layout.updater_file) or {}
        self._progress_at = 0.0

    # -- state --------------------------------------------------------------------------------

    def _set(self, phase: UpdaterPhase, **fields: object) -> None:
        self._state = {**self._state, **fields, "phase": phase.value, "updated_at": time.time()}
        write_json(self.layout.updater_file, self._state)

    def _result(self, outcome: str, version: str, reason: str = "", detail: str = "") -> JsonObject:
        return {"id": uuid.uuid4().hex, "outcome": outcome, "version": version, "reason": reason,
                "detail": detail[:300], "at": time.time()}

    # -- one run ------------------------------------------------------------------------------

    def run(self) -> int:
        """Handles the kiosk's request, and any newer one that arrived meanwhile."""
        handled: set[str] = set()
        while True:
            request = UpdateRequest.from_json(read_json(self.layout.request_file))
            if request is None or request.request_id in handled:
                self.collect_garbage()
                return EXIT_DONE
            handled.add(request.request_id)
            code = self.handle(request)
            if code != EXIT_DONE:
                return code

    def handle(self, request: UpdateRequest) -> int:
        done = (UpdaterPhase.STAGED.value, UpdaterPhase.REFUSED.value)
        if self._state.get("request_id") == request.request_id and \
                self._state.get("phase") in done:
            return EXIT_DONE  # already answered (a restart, or the same request delivered twice)
        name = hashlib.sha256(request.url.encode()).hexdigest()[:16]
        bundle = self.downloads / f"{request.manifest_digest or name}.kbundle"
        try:
            self._set(UpdaterPhase.DOWNLOADING, request_id=request.request_id, url=request.url,
                      progress={"bytes": 0, "total": None})
            self.downloads.mkdir(parents=True, exist_ok=True)
            download(request.url, bundle, self.settings.download, self._download_progress,
                     self.crash)
            self.crash.reached("downloaded")
            self.install(bundle, request.manifest_digest or None)
        except UpdateRefused as refused:
            log.warning("update refused: %s", refused)
            self._set(UpdaterPhase.REFUSED, last_result=self._result(
                "refused", self._state.get("target_version", ""), refused.reason.value,
                str(refused)))
            bundle.unlink(missing_ok=True)
            return EXIT_DONE
        except UpdatePostponed as postponed:
            log.info("update postponed: %s", postponed)
            self._set(UpdaterPhase.POSTPONED, postponed=postponed.reason.value,
                      detail=postponed.detail[:300])
            return EXIT_RETRY
        bundle.unlink(missing_ok=True)
        return EXIT_DONE

    def _download_progress(self, have: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_EVERY_S or (total is not None and have >= total):
            self._progress_at = now
            self._set(UpdaterPhase.DOWNLOADING, progress={"bytes": have, "total": total})

    def install(self, bundle: Path, expected_digest: str | None) -> JsonObject:
        """Verify the bundle, then install it into the spare slot and stage it."""
        guard_state = Guard(self.layout).load()
        if guard_state.get("trial"):
            raise UpdatePostponed(Postponed.TRIAL_IN_PROGRESS, guard_state["trial"]["version"])
        good = guard_state.get("good")
        target = inactive_slot(good, self.layout.current_slot())
        if target is None:
            raise UpdatePostponed(Postponed.TRIAL_IN_PROGRESS, "a switch is under way")
        running = (self.layout.release(good) or {}).get("version") if good else None
        self._set(UpdaterPhase.VERIFYING, progress=None)
        manifest = read_manifest(bundle)
        self._set(UpdaterPhase.VERIFYING, target_version=manifest.version)
        manifest.verify(self.settings.trusted_keys, expected_digest)
        manifest.check_installable(running, running_python())
        runtime_dir = self.layout.runtimes / manifest.runtime.digest
        if not runtime_dir.exists() and not manifest.runtime.included:
            raise UpdateRefused(Refusal.RUNTIME_MISSING, manifest.runtime.digest[:16])
        stream(bundle, manifest, lambda entry: None)  # every hash, before anything is written
        self.crash.reached("verified")
        self._check_space(manifest, runtime_dir.exists())
        self._set(UpdaterPhase.INSTALLING)
        lock = SlotLock(self.layout, target)
        lock.acquire(wait=True)
        try:
            staged = self._install_slot(bundle, manifest, target, runtime_dir)
        finally:
            lock.release()
        self._set(UpdaterPhase.STAGED, staged=staged, last_result=self._result(
            "staged", manifest.version))
        self.crash.reached("staged")
        return staged

    def _check_space(self, manifest: Manifest, have_runtime: bool) -> None:
        needed = sum(f.size for f in manifest.files
                     if f.part != "runtime" or not have_runtime) * 1.1 + (64 << 20)
        self.layout.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.layout.root).free
        if free < needed:
            raise UpdatePostponed(Postponed.NO_SPACE, f"{needed / 1e6:.0f} MB needed, "
                                  f"{free / 1e6:.0f} MB free")

    def _install_slot(self, bundle: Path, manifest: Manifest, target: str,
                      runtime_dir: Path) -> JsonObject:
        """The bundle into a staging folder beside the slot, then published by renaming."""
        final = self.layout.slot(target)
        incoming = final.with_name(f".incoming-{target}")
        shutil.rmtree(incoming, ignore_errors=True)
        incoming_runtime: Path | None = None
        if not runtime_dir.exists():
            incoming_runtime = runtime_dir.with_name(f".incoming-{manifest.runtime.digest}")
            shutil.rmtree(incoming_runtime, ignore_errors=True)
            incoming_runtime.mkdir(parents=True)
        site, written = self._write_files(bundle, manifest, incoming, incoming_runtime)
        staged_id = self._finish_slot(manifest, final, incoming, site, incoming_runtime,
                                      runtime_dir)
        self._publish(final, incoming, incoming_runtime, runtime_dir, target)
        log.info("installed %s into slot %s (%d files)", manifest.version, target, written)
        return {"slot": target, "staged_id": staged_id, "version": manifest.version,
                "manifest_digest": manifest.digest(), "start_tries": self.settings.start_tries,
                "deadline_s": self.settings.health_deadline_s, "at": time.time()}

    def _write_files(self, bundle: Path, manifest: Manifest, incoming: Path,
                     incoming_runtime: Path | None) -> tuple[Path, int]:
        """The slot's venv skeleton, and every file of the bundle where its part goes (the
        runtime only when this kiosk lacks it). Returns the venv's site-packages and how many
        files were written."""
        interpreter = Path(sys.base_prefix) / "bin" / f"python{manifest.python}"
        slot_venv.make_skeleton(incoming / "venv", manifest.python, interpreter)
        site = slot_venv.site_packages(incoming / "venv", manifest.python)
        places = {"app": site, "catalog": incoming / "catalog", "assets": incoming / "assets"}
        if incoming_runtime is not None:
            places["runtime"] = incoming_runtime / "site-packages"
        written = 0

        def sink(entry: FileEntry) -> BinaryIO | None:
            nonlocal written
            base = places.get(entry.part)
            if base is None:
                return None  # the runtime, already on this kiosk
            path = base / entry.inner
            path.parent.mkdir(parents=True, exist_ok=True)
            written += 1
            self.crash.reached("installing_file")
            out = open(path, "wb")  # noqa: SIM115 - closed by the stream once checked
            os.chmod(path, 0o755 if entry.executable else 0o644)
            return out

        stream(bundle, manifest, sink)
        self.crash.reached("files_written")
        return site, written

    def _finish_slot(self, manifest: Manifest, final: Path, incoming: Path, site: Path,
                     incoming_runtime: Path | None, runtime_dir: Path) -> str:
        """Bytecode, the runtime linked, console scripts, manifest.json and release.json (the
        mark of a complete slot). Returns the new staged id."""
        runtime_site = runtime_dir / "site-packages"
        # Bytecode now: the kiosk may not write into /opt, and would otherwise compile every
        # module it imports on every start. Compiled under the final names, for tracebacks.
        compileall.compile_dir(site, quiet=2, ddir=str(final / site.relative_to(incoming)))
        if incoming_runtime is not None:
            compileall.compile_dir(incoming_runtime / "site-packages", quiet=2,
                                   ddir=str(runtime_site))
        slot_venv.link_runtime(site, runtime_site)
        final_python = final / "venv" / "bin" / f"python{manifest.python}"
        slot_venv.write_console_scripts(site, incoming / "venv" / "bin", final_python)
        staged_id = uuid.uuid4().hex
        release = {"version": manifest.version, "staged_id": staged_id,
                   "manifest_digest": manifest.digest(), "runtime": manifest.runtime.digest,
                   "python": manifest.python, "installed_at": time.time()}
        (incoming / "manifest.json").write_bytes(manifest.to_bytes())
        (incoming / "release.json").write_text(json.dumps(release, indent=1, sort_keys=True))
        if incoming_runtime is not None:
            runtime_files = [f.to_json() for f in manifest.files if f.part == "runtime"]
            (incoming_runtime / "runtime.json").write_text(json.dumps(runtime_files))
        return staged_id

    def _publish(self, final: Path, incoming: Path, incoming_runtime: Path | None,
                 runtime_dir: Path, target: str) -> None:
        """The runtime, then the slot, renamed into place once everything is on disk."""
        os.sync()  # every file written before is on disk before a name makes it visible
        self.crash.reached("extracted")
        if incoming_runtime is not None:
            os.replace(incoming_runtime, runtime_dir)
            fsync_dir(runtime_dir.parent)
            self.crash.reached("runtime_published")
        old = final.with_name(f".old-{target}")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(incoming, final)
        fsync_dir(final.parent)
        self.crash.reached("slot_published")
        shutil.rmtree(old, ignore_errors=True)

    def collect_garbage(self) -> None:
        """Runtimes no slot uses, staging left by a killed run, downloads of finished requests."""
        used = {(self.layout.release(s) or {}).get("runtime") for s in ("a", "b")}
        if self.layout.runtimes.is_dir():
            for path in self.layout.runtimes.iterdir():
                if path.name not in used:
                    shutil.rmtree(path, ignore_errors=True)
        slots = self.layout.root / "slots"
        if slots.is_dir():
            for path in slots.iterdir():
                if path.name.startswith((".incoming-", ".old-")):
                    shutil.rmtree(path, ignore_errors=True)
        if self.downloads.is_dir() and self._state.get("phase") in (
                UpdaterPhase.STAGED.value, UpdaterPhase.REFUSED.value, None):
            for path in self.downloads.iterdir():
                path.unlink(missing_ok=True)
