"""systemd for the update tests, without PID 1: our kiosk units run the way their files say.

On a `Machine` (tests/update/machine.py: a kiosk's folders in a temporary root), the
`ServiceManager` runs, with real processes, what the units in systemd/ tell systemd to run:

- kiosk.service: ExecStartPre= (the slot guard), ExecStart= through /opt/kiosk/current with a
  real notify socket (READY=1 within TimeoutStartSec=, else the start times out), ExecStopPost=
  with $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS, Restart=always after RestartSec=, and the
  start limit (StartLimitBurst= in StartLimitIntervalSec=: the unit fails for good);
- kiosk-update.service, started at boot and by kiosk-update.path when the request file changes,
  restarted on failure;
- kiosk-update-guard.timer's service, at the timer's OnUnitActiveSec= (from boot on).

Paths in the units are mapped into the machine's root; time-outs may be scaled down for a test
(said where they are). A `power_cut()` SIGKILLs every process at once; `boot()` starts over.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.systemd.test_watchdog import NotifySocket
from tests.systemd.unitfiles import last, load, values
from tests.update.machine import Machine

EXIT_EXEC = 203  # systemd's status for a command it could not execute


def _seconds(text: str | None, default: float) -> float:
    if not text:
        return default
    return float(text.removesuffix("s").replace("min", "")) * (60 if "min" in text else 1)


@dataclass
class Started:
    at: float
    slot: str | None
    version: str
    ready_at: float | None = None
    ended: tuple[str, str, str] | None = None  # $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS


@dataclass
class ServiceManager:
    machine: Machine
    display: dict[str, str]
    # Scaled down for tests (the unit's values are kept unless a test names its own).
    restart_s: float = 0.5
    updater_restart_s: float = 1.0
    start_timeout_s: float | None = None
    stop_timeout_s: float | None = None  # None: the unit's TimeoutStopSec=
    guard_timer_s: float | None = None  # None: kiosk-update-guard.timer's OnUnitActiveSec=
    guard_crash_after: str = ""
    starts: list[Started] = field(default_factory=list)
    failed: bool = False  # the start limit was hit: systemd would show the out-of-service screen
    killed: list[str] = field(default_factory=list)  # units whose process died of SIGKILL
    updater_runs: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the harness's own failures

    def __post_init__(self) -> None:
        unit = load("kiosk.service")
        self.unit = unit
        self.pre = [self._argv(c) for c in values(unit, "Service", "ExecStartPre")]
        self.post = [self._argv(c) for c in values(unit, "Service", "ExecStopPost")]
        (start,) = values(unit, "Service", "ExecStart")
        self.exec_start = self._argv(start)
        self.burst = int(last(unit, "Unit", "StartLimitBurst") or 5)
        self.interval = _seconds(last(unit, "Unit", "StartLimitIntervalSec"), 10)
        if self.start_timeout_s is None:
            self.start_timeout_s = _seconds(last(unit, "Service", "TimeoutStartSec"), 90)
        if self.stop_timeout_s is None:
            self.stop_timeout_s = _seconds(last(unit, "Service", "TimeoutStopSec"), 90)
        if self.guard_timer_s is None:
            self.guard_timer_s = _seconds(
                last(load("kiosk-update-guard.timer"), "Timer", "OnUnitActiveSec"), 20)
        (updater,) = values(load("kiosk-update.service"), "Service", "ExecStart")
        self.updater = self._argv(updater)
        (check,) = values(load("kiosk-update-guard.service"), "Service", "ExecStart")
        restart_flag = self.machine.root / "restart-kiosk"
        self.check = self._argv(check) + ["--restart", f"touch {restart_flag}"]
        self.restart_flag = restart_flag
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _argv(self, line: str) -> list[str]:
        argv = shlex.split(line.lstrip("+-!@"))
        argv = [self.machine.path(a.replace("${LOGS_DIRECTORY}", "/var/log/kiosk")) for a in argv]
        if "kiosk-update-guard" in " ".join(argv) and self.guard_crash_after:
            argv[-1:-1] = ["--crash-after", self.guard_crash_after]
        return argv

    # -- processes -------------------------------------------------------------------------------

    def _spawn(self, argv: list[str], log: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.Popen:
        with open(self.machine.root / "journal" / f"{log}.txt", "a") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(argv)}\n")
            out.flush()
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **(env or {})}, cwd=cwd)
        with self._lock:
            self._procs.add(proc)
        return proc

    def _wait(self, proc: subprocess.Popen, unit: str) -> int:
        code = proc.wait()
        with self._lock:
            self._procs.discard(proc)
        if code == -signal.SIGKILL and not self._stop.is_set():
            self.killed.append(unit)
        return code

    def _run(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> int:
        try:
            proc = self._spawn(argv, log, env)
        except FileNotFoundError:
            return EXIT_EXEC  # e.g. no `current` link yet: the unit fails and is restarted
        return self._wait(proc, log)

    # -- kiosk.service ---------------------------------------------------------------------------

    def _kiosk_loop(self) -> None:
        recent: deque[float] = deque()
        while not self._stop.is_set():
            now = time.monotonic()
            recent.append(now)
            while recent and now - recent[0] > self.interval:
                recent.popleft()
            if len(recent) > self.burst:
                self.failed = True  # OnFailure=: the out-of-service screen, no more restarts
                return
            self._start_kiosk_once()
            if self._stop.wait(self.restart_s):
                return

    def _start_kiosk_once(self) -> None:
        result = ("success", "exited", "0")
        for argv in self.pre:
            code = self._run(argv, "guard")
            if code != 0:
                result = _result(code)
                break
        else:
            result = self._run_kiosk()
        if self._stop.is_set():
            return
        env = dict(zip(("SERVICE_RESULT", "EXIT_CODE", "EXIT_STATUS"), result, strict=True))
        for argv in self.post:
            self._run(argv, "guard", env)

    def _run_kiosk(self) -> tuple[str, str, str]:
        slot = self.machine.current_slot()
        started = Started(time.monotonic(), slot, self.machine.release(slot).get("version", ""))
        self.starts.append(started)
        self.restart_flag.unlink(missing_ok=True)
        socket_path = self.machine.root / "notify.sock"  # as systemd's, made anew each start
        socket_path.unlink(missing_ok=True)
        notify = NotifySocket(socket_path)
        env = {**self.display, **_unit_environment(self.unit), "NOTIFY_SOCKET": notify.address}
        cwd = Path(self.machine.path("/var/lib/kiosk"))
        try:
            proc = self._spawn(self.exec_start, "kiosk", env, cwd)
        except FileNotFoundError:  # no release in `current`: systemd's 203/EXEC
            notify.close()
            started.ended = ("exit-code", "exited", str(EXIT_EXEC))
            return started.ended
        timed_out = False
        try:
            while proc.poll() is None:
                if started.ready_at is None and "READY=1" in notify.lines():
                    started.ready_at = time.monotonic()
                if started.ready_at is None and \
                        time.monotonic() - started.at > (self.start_timeout_s or 90):
                    timed_out = True
                    _terminate(proc, self.stop_timeout_s)
                if self._stop.is_set() or self.restart_flag.exists():
                    # systemctl stop/restart: SIGTERM, then SIGKILL
                    _terminate(proc, self.stop_timeout_s)
                time.sleep(0.05)
        finally:
            code = self._wait(proc, "kiosk")
            notify.close()
        started.ended = ("timeout", "killed", "TERM") if timed_out else _result(code)
        return started.ended

    # -- kiosk-update.service and .path, kiosk-update-guard.timer -----------------------------

    def _updater_loop(self) -> None:
        request = Path(self.machine.path("/var/lib/kiosk/update/request.json"))
        seen = _signature(request)
        self._run_updater()  # WantedBy=multi-user.target: once at boot
        while not self._stop.wait(0.2):
            now = _signature(request)
            if now != seen:  # PathChanged=
                seen = now
                self._run_updater()

    def _run_updater(self) -> None:
        while not self._stop.is_set():
            code = self._run(self.updater, "updater")
            self.updater_runs.append(code)
            if code == 0 or self._stop.wait(self.updater_restart_s):  # Restart=on-failure
                return

    def _timer_loop(self) -> None:
        while self.guard_timer_s and not self._stop.wait(self.guard_timer_s):
            self._run(self.check, "guard")

    # -- the machine -------------------------------------------------------------------------

    def _guarded(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except Exception as exc:  # a bug of this harness must fail the test, not hide
                self.errors.append(f"{loop.__name__}: {exc!r}")
                raise
        return run

    def boot(self) -> ServiceManager:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._guarded(t), daemon=True) for t in
                         (self._kiosk_loop, self._updater_loop, self._timer_loop)]
        for thread in self._threads:
            thread.start()
        return self

    def power_cut(self) -> None:
        """Every process dies at once, as when the power goes."""
        self._stop.set()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with _suppress():
                proc.kill()
        for thread in self._threads:
            thread.join(timeout=30)

    def shutdown(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with _suppress():
                proc.kill()

    def wait_until(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.failed or self.errors:
                break
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout:.0f} s; {self.describe()}")

    def running(self) -> Started | None:
        """The kiosk run that is up (READY=1) right now."""
        last_start = self.starts[-1] if self.starts else None
        if last_start and last_start.ready_at and last_start.ended is None:
            return last_start
        return None

    def running_version(self) -> str | None:
        run = self.running()
        return run.version if run else None

    def describe(self) -> str:
        runs = [f"{s.version or '?'}@{s.slot}:{'ready' if s.ready_at else 'not ready'}"
                f"{'/' + '/'.join(s.ended) if s.ended else ''}" for s in self.starts[-8:]]
        log = ""
        for name in ("guard", "updater", "kiosk"):
            path = self.machine.root / "journal" / f"{name}.txt"
            if path.exists():
                log += f"\n[{name}] " + path.read_text(errors="replace")[-1500:]
        return (f"failed={self.failed} errors={self.errors} killed={self.killed} runs={runs} "
                f"boot={self.machine.boot_state()} updater={self.machine.updater_state()}{log}")


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return isinstance(exc[1], OSError)


def _terminate(proc: subprocess.Popen, stop_timeout_s: float | None) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(stop_timeout_s)  # TimeoutStopSec=
        except subprocess.TimeoutExpired:
            proc.kill()


def _result(code: int) -> tuple[str, str, str]:
    """systemd's $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS for a process that ended so."""
    if code < 0:
        return "signal", "killed", signal.Signals(-code).name.removeprefix("SIG")
    return ("success" if code == 0 else "exit-code"), "exited", str(code)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _unit_environment(unit: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in values(unit, "Service", "Environment"):
        for pair in line.split():
            key, _, value = pair.partition("=")
            env[key] = value
    for key in ("XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        env.pop(key, None)
    return env
