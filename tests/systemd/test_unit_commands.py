"""The commands the kiosk units run, run here the way systemd would run them (no PID 1 here):
the unit's own ExecStart=, its folders, its core limit and watchdog, a real notify socket."""

from __future__ import annotations

import resource
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.out_of_service import OutOfServiceReason
from tests.systemd.test_watchdog import NotifySocket
from tests.systemd.unitfiles import ROOT, exec_start, last, load, values, working_directory

# Before LimitCORE= systemd's children inherit PID 1's unlimited core size (systemd's
# COREDUMP.md). Capped here so that a failing run does not fill the disk: any core fails.
SYSTEMD_DEFAULT_CORE_LIMIT = 64 << 20
# A kiosk.toml as kiosk-provision writes it, pointing at nothing that answers: the kiosk starts
# with every device and backend unavailable (and touches no reader of this machine).
NOTHING_THERE = "http://127.0.0.1:9"
PROVISIONED_TOML = f"""\
kiosk_id = "KIOSK-UNIT-TEST"
[devices]
card_reader = "No Such Reader"
face_camera_url = "{NOTHING_THERE}/stream.mjpg"
printer_host = "127.0.0.1"
printer_port = 9
[backends]
payment_url = "{NOTHING_THERE}/pay/v1"
catalog_url = "{NOTHING_THERE}/catalog/v1"
exit_entry_url = "{NOTHING_THERE}/exit-entry/v1"
utility_url = "{NOTHING_THERE}/utility/v1"
certificates_url = "{NOTHING_THERE}/certificates/v1"
queue_url = "{NOTHING_THERE}/queue/v1"
"""


def core_limit(name: str) -> int:
    """RLIMIT_CORE as systemd sets it for the unit."""
    limit = last(load(name), "Service", "LimitCORE")
    return SYSTEMD_DEFAULT_CORE_LIMIT if limit is None else int(limit)


def watchdog_usec(name: str) -> str:
    (seconds,) = values(load(name), "Service", "WatchdogSec")
    return str(int(seconds.removesuffix("s")) * 1_000_000)


def unit_environment(name: str) -> dict[str, str]:
    """The unit's Environment= minus the Wayland display (the test has an X server instead)."""
    env: dict[str, str] = {}
    for line in values(load(name), "Service", "Environment"):
        for pair in line.split():
            key, _, value = pair.partition("=")
            env[key] = value
    for key in ("XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        env.pop(key, None)
    return env


@dataclass
class Started:
    proc: subprocess.Popen
    notify: NotifySocket
    root: Path
    cwd: Path


@pytest.fixture
def display() -> Iterator[dict[str, str]]:
    from simulator.xvfb import virtual_display

    with virtual_display() as env:
        yield env


def start(name: str, root: Path, config: Path, display: dict[str, str]) -> Started:
    """The unit's ExecStart under the unit's core limit, in its working directory."""
    cwd = working_directory(name, root)
    cwd.mkdir(parents=True, exist_ok=True)
    notify = NotifySocket(root / "notify.sock")
    limit = core_limit(name)
    # The journal: stdout and stderr to a file, so a chatty process never blocks on a pipe.
    with open(root / "journal.txt", "w") as journal:
        proc = subprocess.Popen(
            exec_start(name, root, config),
            env={**display, **unit_environment(name), "NOTIFY_SOCKET": notify.address,
                 "WATCHDOG_USEC": watchdog_usec(name)},
            cwd=cwd,
            stdout=journal,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (limit, limit)),
        )
    return Started(proc, notify, root, cwd)


def journal(started: Started) -> str:
    return (started.root / "journal.txt").read_text(errors="replace")


def stop(started: Started, sig: int = signal.SIGTERM) -> str:
    """Sends `sig`, waits for the process; its journal."""
    try:
        started.proc.send_signal(sig)
        started.proc.wait(timeout=60)
    finally:
        if started.proc.poll() is None:
            started.proc.kill()
            started.proc.wait()
        started.notify.close()
    return journal(started)


def core_files(folder: Path) -> list[Path]:
    """Core files the kernel wrote into `folder` (core_pattern is a plain name there)."""
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core_pattern {pattern!r} sends cores elsewhere: cannot look for one")
    prefix = pattern.split("%")[0]
    return [p for p in folder.iterdir() if p.name.startswith(prefix)]


def test_watchdog_abort_leaves_python_stacks_in_the_journal_and_no_core(tmp_path, display):
    """kiosk.service's command, up and serving, then the unit's WatchdogSignal= as systemd
    sends it when the pings stop."""
    config = tmp_path / "kiosk.toml"
    config.write_text(PROVISIONED_TOML)
    started = start("kiosk.service", tmp_path, config, display)
    try:
        assert started.notify.wait_for("READY=1", timeout=120), journal(started)[-3000:]
    finally:
        watchdog_signal = getattr(signal, last(load("kiosk.service"), "Service", "WatchdogSignal"))
        stderr = stop(started, watchdog_signal)
    assert started.proc.returncode == -signal.SIGABRT
    # faulthandler: every thread's Python stack, the event loop's among them (stderr = journal).
    assert "Fatal Python error: Aborted" in stderr
    assert f'File "{ROOT / "kiosk" / "main.py"}"' in stderr   # the loop runs there
    assert core_files(started.cwd) == []


def test_logs_are_written_to_the_logs_directory(tmp_path, display):
    config = tmp_path / "kiosk.toml"
    config.write_text(PROVISIONED_TOML)
    started = start("kiosk.service", tmp_path, config, display)
    try:
        assert started.notify.wait_for("READY=1", timeout=120), journal(started)[-3000:]
    finally:
        stop(started)
    log_file = tmp_path / "var/log" / last(load("kiosk.service"), "Service", "LogsDirectory") / "kiosk.log"
    assert "recovery:" in log_file.read_text()
    # Nothing under the state folder's old logs/ (its own LogsDirectory= would be unused).
    assert not (tmp_path / "var/lib/kiosk/logs").exists()


def test_unprovisioned_kiosk_exits_with_the_code_its_unit_does_not_restart_on(tmp_path):
    missing = tmp_path / "etc/kiosk/kiosk.toml"
    proc = subprocess.run(exec_start("kiosk.service", tmp_path, missing), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    (no_restart,) = values(load("kiosk.service"), "Service", "RestartPreventExitStatus")
    assert proc.returncode == int(no_restart), proc.stderr[-2000:]
    log_file = tmp_path / "var/log/kiosk/kiosk.log"
    assert "not provisioned" in log_file.read_text()


def test_unprovisioned_kiosk_shows_out_of_service_not_provisioned(tmp_path, display):
    """What OnFailure= starts next: kiosk-out-of-service.service's command, same missing file."""
    missing = tmp_path / "etc/kiosk/kiosk.toml"
    started = start("kiosk-out-of-service.service", tmp_path, missing, display)
    try:
        assert started.notify.wait_for("READY=1", timeout=120), journal(started)[-3000:]
        assert started.notify.wait_for("WATCHDOG=1", timeout=10)  # its loop pings, like the kiosk's
    finally:
        stop(started)
    code = OutOfServiceReason.NOT_PROVISIONED.code
    assert f"STATUS=out of service: {code}" in started.notify.lines()
    log_text = (tmp_path / "var/log/kiosk/kiosk.log").read_text()
    assert f"reason={code}" in log_text and str(missing) in log_text


def test_out_of_service_screen_comes_up_on_a_broken_config(tmp_path, display):
    # The last resort must not fail on the file that made the kiosk fail.
    config = tmp_path / "kiosk.toml"
    config.write_text("kiosk_id = \n[devices\n")
    started = start("kiosk-out-of-service.service", tmp_path, config, display)
    try:
        assert started.notify.wait_for("READY=1", timeout=120), journal(started)[-3000:]
    finally:
        stop(started)
    code = OutOfServiceReason.START_FAILED.code
    assert f"STATUS=out of service: {code}" in started.notify.lines()

