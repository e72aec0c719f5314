"""However the kiosk ends (no window, a stop signal, kill -9, an exception), the simulator it
started stops with it and its last line on stderr says why (issue 19: a kiosk whose window
failed left its embedded simulator running and exited from C with status 102)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.process_end import EndReason, end_line


def kiosk(state: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--state-dir", str(state), *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def simulator_pid(state: Path, deadline_s: float = 60) -> int:
    """The embedded simulator's pid, once it has written its endpoints."""
    endpoints = state / "sim" / "endpoints.json"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if endpoints.exists():
            try:
                return int(json.loads(endpoints.read_text())["pid"])
            except ValueError:
                pass  # being written
        time.sleep(0.05)
    raise AssertionError("the embedded simulator never wrote its endpoints")


def gone(pid: int, within_s: float = 15) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.fixture
def cleanup():
    pids: list[int] = []
    yield pids
    for pid in pids:  # a test that failed must not leave its simulator behind either
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_window_that_cannot_open_stops_the_simulator_and_says_so(tmp_path, cleanup):
    # The production failure: SDL_VIDEODRIVER=wayland, which the wheel's SDL2 lacks,
    # and no X display to fall back to.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(SDL_VIDEODRIVER="wayland", XDG_RUNTIME_DIR=str(tmp_path),
               WAYLAND_DISPLAY="wayland-0")
    proc = kiosk(tmp_path / "state", "--simulator", env=env)
    cleanup.append(sim := simulator_pid(tmp_path / "state"))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert last_line(stderr).endswith(end_line(EndReason.NO_WINDOW, "Kivy's SDL2 could not "
                                               "open a window on DISPLAY='', WAYLAND_DISPLAY="
                                               "'wayland-0', SDL_VIDEODRIVER='wayland'"))
    assert gone(sim), "the simulator outlived the kiosk"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_while_starting_stops_the_simulator(tmp_path, cleanup, signum):
    proc = kiosk(tmp_path / "state", "--simulator", "--headless", "--scenario", "bill",
                 "--repeat", "50")
    cleanup.append(sim := simulator_pid(tmp_path / "state"))
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    assert last_line(stderr).endswith(
        end_line(EndReason.STOPPED, f"signal {signal.Signals(signum).name}"))
    assert gone(sim), "the simulator outlived the kiosk"


def test_kill_9_takes_the_simulator_with_it(tmp_path, cleanup):
    proc = kiosk(tmp_path / "state", "--simulator", "--headless", "--scenario", "bill",
                 "--repeat", "50")
    cleanup.append(sim := simulator_pid(tmp_path / "state"))
    proc.kill()
    proc.communicate(timeout=30)
    assert gone(sim), "the simulator outlived the kiosk"


def test_an_exception_ends_with_its_reason_in_one_line(tmp_path):
    # --attach to a folder where no simulator ever ran: the kiosk cannot read its endpoints.
    proc = kiosk(tmp_path / "state", "--attach", str(tmp_path / "nothing"), "--headless")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    line = last_line(stderr)
    assert line.split("kiosk ended: ", 1)[1].startswith(
        f"{EndReason.CRASHED.value}: FileNotFoundError: ")
    assert "Traceback" in stderr  # the developer's detail stays in the log, above the line
