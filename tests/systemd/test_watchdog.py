"""The kiosk's side of systemd's notify protocol, seen from a real notify socket."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.watchdog import Watchdog

ROOT = Path(__file__).resolve().parents[2]


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; collects every message."""

    def __init__(self, path: Path | None = None, abstract: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract is not None:
            self.sock.bind("\0" + abstract)
            self.address = "@" + abstract
        else:
            assert path is not None
            self.sock.bind(str(path))
            self.address = str(path)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def lines(self) -> list[str]:
        return [line for _, message in self.messages for line in message.splitlines()]

    def wait_for(self, line: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.lines():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    server = NotifySocket(tmp_path / "notify.sock")
    yield server
    server.close()


async def test_ready_pings_and_stopping_reach_the_socket(notify):
    dog = Watchdog.from_environment({"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "100000"})
    assert dog.enabled and dog.ping_interval_s == pytest.approx(0.05)
    dog.start()
    dog.ready("attract screen up")
    dog.ready()  # a second READY is not sent
    await asyncio.sleep(0.3)
    dog.status("serving")
    dog.stop("shutting down")
    assert notify.wait_for("STOPPING=1")
    lines = notify.lines()
    assert lines.count("READY=1") == 1
    assert "STATUS=attract screen up" in lines
    assert "STATUS=serving" in lines
    assert lines.count("WATCHDOG=1") >= 3  # every 50 ms for 300 ms
    assert lines[-2:] == ["STOPPING=1", "STATUS=shutting down"]


async def test_pings_stop_while_the_event_loop_is_blocked(notify):
    # The point of pinging from the loop: a stuck loop is a silent kiosk, systemd must see it.
    dog = Watchdog.from_environment({"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "100000"})
    dog.start()
    await asyncio.sleep(0.2)
    time.sleep(0.5)  # the loop is blocked, as by a device call made on it by mistake
    await asyncio.sleep(0.2)
    dog.stop()
    assert notify.wait_for("STOPPING=1")
    pings = [t for t, m in notify.messages if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert len(pings) >= 4
    assert max(gaps) >= 0.45  # pings every 50 ms, except while the loop could not run


async def test_abstract_namespace_socket(tmp_path):
    server = NotifySocket(abstract=f"kiosk-test-{os.getpid()}-{tmp_path.name}")
    try:
        dog = Watchdog.from_environment({"NOTIFY_SOCKET": server.address})
        dog.ready()
        assert server.wait_for("READY=1")
        dog.stop()
    finally:
        server.close()


async def test_without_systemd_everything_is_a_no_op():
    dog = Watchdog.from_environment({})
    assert not dog.enabled
    assert dog.notify("READY=1") is False
    dog.start()
    dog.ready()
    dog.ping()
    dog.stop()


async def test_a_watchdog_meant_for_another_process_is_not_pinged(notify):
    env = {"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
    dog = Watchdog.from_environment(env)
    assert dog.ping_interval_s is None
    dog.start()
    dog.ready()
    await asyncio.sleep(0.2)
    dog.stop()
    assert notify.wait_for("STOPPING=1")
    assert "WATCHDOG=1" not in notify.lines()
    assert "READY=1" in notify.lines()


async def test_a_vanished_manager_does_not_break_the_kiosk(tmp_path):
    dog = Watchdog.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert dog.notify("STATUS=x") is False  # logged, not raised
    dog.ready()
    dog.stop()


def _composition_root_wired() -> bool:
    return "Watchdog" in (ROOT / "kiosk" / "app.py").read_text()


@pytest.mark.skipif(
    not _composition_root_wired(), reason="kiosk/app.py does not create the Watchdog yet"
)
def test_the_real_kiosk_sends_ready_and_watchdog_pings(tmp_path, notify):
    """`kiosk --simulator --scenario startup` under Xvfb, as systemd would start it."""
    from simulator.xvfb import virtual_display

    with virtual_display() as env:
        env = {**env, "NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "1000000"}
        env.pop("WATCHDOG_PID", None)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kiosk.cli",
                "--simulator",
                "--scenario",
                "startup",
                "--state-dir",
                str(tmp_path / "state"),
                "--out",
                str(tmp_path / "out"),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert notify.wait_for("STOPPING=1")
    lines = notify.lines()
    assert lines.count("READY=1") == 1
    assert "WATCHDOG=1" in lines
    # READY comes before STOPPING, and the pings ran while the kiosk was up.
    assert lines.index("READY=1") < lines.index("STOPPING=1")
