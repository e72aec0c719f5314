"""Make sure pcscd runs with the vpcd driver listening, for the simulated chip reader.

The vpcd port is checked through /proc/net/tcp{,6} (a LISTEN socket on the port),
never by connecting: vpcd takes any connection to its port for an inserted card.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

VPCD_BASE_PORT = 35963
VPCD_SLOTS = 2  # Debian's vpcd configuration opens two slots: 35963 and 35964
_TCP_LISTEN = "0A"


def vpcd_slot() -> int:
    """The vpcd slot this machine's simulators and chip tests use: 0 unless KIOSK_VPCD_SLOT says.

    The only environment variable the simulator reads, and only on a developer machine: two
    checkouts can then run their chip tests at once, each on its own slot (the card slot is a
    single shared resource otherwise).
    """
    slot = int(os.environ.get("KIOSK_VPCD_SLOT", "0") or 0)
    if not 0 <= slot < VPCD_SLOTS:
        raise ValueError(f"KIOSK_VPCD_SLOT must be 0..{VPCD_SLOTS - 1}, not {slot}")
    return slot


def vpcd_port(slot: int | None = None) -> int:
    """The TCP port vpcd listens on for `slot` (default: this machine's slot)."""
    return VPCD_BASE_PORT + (vpcd_slot() if slot is None else slot)


def vpcd_reader_name(slot: int | None = None) -> str:
    """The PC/SC reader name pcscd gives the vpcd `slot` ("Virtual PCD 00 00", "... 00 01")."""
    return f"Virtual PCD 00 {vpcd_slot() if slot is None else slot:02d}"


VPCD_PORT = VPCD_BASE_PORT


class PcscdError(RuntimeError):
    """pcscd cannot be made ready for the simulator."""


class PcscdNotFound(PcscdError):
    """The pcscd binary is not installed."""


class PcscdNotReady(PcscdError):
    """pcscd runs (or was started) but vpcd does not listen within the time-out."""


def pcscd_pids() -> list[int]:
    """Live processes named pcscd (like `pgrep -x pcscd`, zombies aside)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "pcscd":
                continue
            # /proc/PID/stat: "pid (comm) state ..."; a killed daemon not yet reaped is "Z".
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def pcscd_running() -> bool:
    """True when a live process named pcscd exists."""
    return bool(pcscd_pids())


def port_listening(port: int = VPCD_PORT) -> bool:
    """True when some socket listens on TCP `port` (IPv4 or IPv6), from /proc/net."""
    wanted = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _TCP_LISTEN:
                if fields[1].rsplit(":", 1)[-1].upper() == wanted:
                    return True
    return False


def _pcscd_path() -> str:
    found = shutil.which("pcscd")
    if found:
        return found
    for candidate in ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise PcscdNotFound("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")


def ensure_pcscd(timeout: float = 10.0, port: int | None = None) -> None:
    """Start pcscd if it is not running, then wait until vpcd listens on `port` (this slot's)."""
    port = vpcd_port() if port is None else port
    if not pcscd_running():
        exe = _pcscd_path()
        # pcscd daemonizes: the command returns once the daemon is forked.
        result = subprocess.run([exe], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise PcscdNotReady(
                f"{exe} exited with {result.returncode}: {result.stderr.strip()[:200]}"
            )
    deadline = time.monotonic() + timeout
    while not port_listening(port):
        if time.monotonic() > deadline:
            raise PcscdNotReady(
                f"pcscd runs but nothing listens on TCP {port}: is the vpcd driver "
                "configured (/etc/reader.conf.d/vpcd, package vsmartcard-vpcd)?"
            )
        time.sleep(0.1)


def restart_pcscd(timeout: float = 10.0, port: int | None = None) -> None:
    """Stops pcscd (every client's context dies with it) and starts it again, as a crash and
    systemd's restart would. Machine-wide: only for tests that own the card slot."""
    for pid in pcscd_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pcscd_running() or port_listening(vpcd_port() if port is None else port):
        if time.monotonic() > deadline:
            raise PcscdNotReady("pcscd did not stop")
        time.sleep(0.05)
    ensure_pcscd(timeout, port)
