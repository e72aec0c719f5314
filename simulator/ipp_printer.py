"""The A4 printer's far side: CUPS's own IPP Everywhere reference printer, `ippeveprinter`
(Debian cups-ipp-utils), on a free loopback port, writing every job it prints to a folder.

ippeveprinter will not start without a D-Bus system bus to reach Avahi through (it fails with
"Unable to initialize DNS-SD" even when told not to advertise), so a private dbus-daemon runs
beside it; nothing is announced anywhere. Its tray and toner are set through its own web forms
(/media, /supplies), so media-empty and toner-low are the printer's own printer-state-reasons.
An open door is the print command's doing: with the door open each job is aborted and the
printer told `STATE: +door-open-error`, as a real printer's firmware reports it.

Fault switches: unplugged (the process is stopped; jobs in its memory are lost, as on a power
cut), media_empty, toner_low, door_open.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

BINARY = "ippeveprinter"
MEDIA_A4 = "iso_a4_210x297mm"


class A4PrinterFault(StrEnum):
    MEDIA_EMPTY = "media_empty"
    TONER_LOW = "toner_low"
    DOOR_OPEN = "door_open"


def available() -> bool:
    return shutil.which(BINARY) is not None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent goes (PR_SET_PDEATHSIG), so a
    simulator that dies without its teardown leaves no printer or bus behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)


def _free_port() -> int:
    """A port free on both loopbacks (ippeveprinter listens on 127.0.0.1 and ::1)."""
    for _ in range(50):
        with socket.socket() as v4:
            v4.bind(("127.0.0.1", 0))
            port = v4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6) as v6:
                    v6.bind(("::1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port on both loopbacks")


_COMMAND = """#!/bin/sh
# ippeveprinter's print command: $1 is the spooled document.
if [ -f "{door}" ]; then
  echo "STATE: +door-open-error" >&2
  echo "ERROR: the front door is open" >&2
  exit 1
fi
echo "STATE: -door-open-error" >&2
# Named by when it printed: job ids start again at 1 after the printer is power-cycled.
name="{jobs}/job-$(date +%s%N)-$IPP_JOB_ID"
cp "$1" "$name.part" && mv "$name.part" "$name.pdf"
"""


class IppPrinterSimulator:
    def __init__(self, state_dir: Path, name: str = "KioskA4") -> None:
        self.state_dir = state_dir
        self.name = name
        self.jobs_dir = state_dir / "jobs"
        self.port = 0
        self.faults: set[A4PrinterFault] = set()
        self._printer: subprocess.Popen | None = None
        self._bus: subprocess.Popen | None = None
        self._bus_dir: Path | None = None
        self._bus_path = state_dir / "dbus.sock"   # until started: see _prepare

    @property
    def uri(self) -> str:
        return f"ipp://localhost:{self.port}/ipp/print"

    @property
    def plugged(self) -> bool:
        return self._printer is not None and self._printer.poll() is None

    async def start(self) -> None:
        # Spawned on the caller's thread (a child dies with the thread that forked it, see
        # _die_with_parent); only the wait for its port runs on a worker thread.
        self._prepare()
        self._spawn()
        await asyncio.to_thread(self._wait_ready)

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)

    def _start(self) -> None:
        self._prepare()
        self._spawn()
        self._wait_ready()

    def _prepare(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "spool").mkdir(exist_ok=True)
        command = self.state_dir / "print-command.sh"
        command.write_text(_COMMAND.format(door=self.state_dir / "door-open",
                                           jobs=self.jobs_dir))
        command.chmod(command.stat().st_mode | stat.S_IXUSR)
        # A socket path must fit in 108 bytes: the state folder can be deeper than that allows
        # (a test worker's temporary folder), so the private bus lives in a short folder of /tmp.
        self._bus_dir = Path(tempfile.mkdtemp(prefix="kiosk-a4-bus-"))
        self._bus_path = self._bus_dir / "bus"
        self._bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile",
             f"--address=unix:path={self._bus_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_daemon_env(),
            preexec_fn=_die_with_parent)
        self._wait_for_bus()
        self.port = self.port or _free_port()

    def _wait_for_bus(self, timeout: float = 10.0) -> None:
        """ippeveprinter gives up at once ("Unable to initialize DNS-SD") if the bus's socket is
        not there yet: on a busy machine dbus-daemon takes a moment to make it."""
        assert self._bus is not None
        deadline = time.monotonic() + timeout
        while not self._bus_path.exists():
            if self._bus.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dbus-daemon for the A4 printer did not start "
                                   f"(exit {self._bus.poll()})")
            time.sleep(0.02)

    def _spawn(self) -> None:
        log_file = open(self.state_dir / "ippeveprinter.log", "ab")  # noqa: SIM115 - the child's
        env = {**_daemon_env(), "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self._bus_path}"}
        self._printer = subprocess.Popen(
            [BINARY, "-p", str(self.port), "-n", "localhost", "-r", "off", "-k",
             "-d", str(self.state_dir / "spool"), "-c", str(self.state_dir / "print-command.sh"),
             "-f", "application/pdf", "-M", "Kiosk", "-m", "A4 Certificate Printer",
             "-s", "20", self.name],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
        log_file.close()

    def _wait_ready(self) -> None:
        assert self._printer is not None
        for _ in range(200):
            if self._printer.poll() is not None:
                raise RuntimeError(f"ippeveprinter exited with {self._printer.returncode}; see "
                                   f"{self.state_dir / 'ippeveprinter.log'}")
            try:
                urllib.request.urlopen(f"http://localhost:{self.port}/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self._apply_supplies()

    def _stop(self) -> None:
        for process in (self._printer, self._bus):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
        self._printer = self._bus = None
        if self._bus_dir is not None:
            shutil.rmtree(self._bus_dir, ignore_errors=True)
            self._bus_dir = None

    # -- the switches -----------------------------------------------------------------------

    def _form(self, page: str, fields: dict[str, str]) -> None:
        query = urllib.parse.urlencode(fields)
        urllib.request.urlopen(f"http://localhost:{self.port}/{page}?{query}", timeout=5).close()

    def _apply_supplies(self) -> None:
        """The tray (A4, full or empty) and the toner, through the printer's own forms."""
        if not self.plugged:
            return
        media_empty = A4PrinterFault.MEDIA_EMPTY in self.faults
        self._form("media", {"size1": MEDIA_A4, "type1": "stationery",
                             "level1": "0" if media_empty else "250",
                             "size3": "", "type3": "", "level3": "-2"})
        toner = "3" if A4PrinterFault.TONER_LOW in self.faults else "80"
        self._form("supplies", {"supply0": "10", "supply1": toner})
        door = self.state_dir / "door-open"
        if A4PrinterFault.DOOR_OPEN in self.faults:
            door.touch()
        else:
            door.unlink(missing_ok=True)

    def set_fault(self, fault: A4PrinterFault | str, on: bool) -> None:
        fault = A4PrinterFault(fault)
        (self.faults.add if on else self.faults.discard)(fault)
        self._apply_supplies()

    def unplug(self) -> None:
        if self._printer is not None and self._printer.poll() is None:
            self._printer.terminate()
            self._printer.wait(5)

    def plug(self) -> None:
        if not self.plugged:
            self._spawn()
            self._wait_ready()

    async def aplug(self) -> None:
        if not self.plugged:
            self._spawn()
            await asyncio.to_thread(self._wait_ready)

    # -- what it printed --------------------------------------------------------------------

    def jobs(self) -> list[Path]:
        """The documents printed so far, oldest first."""
        return sorted(self.jobs_dir.glob("job-*.pdf"))

    def state(self) -> dict:
        return {"plugged": self.plugged, "faults": sorted(self.faults), "uri": self.uri,
                "jobs": [str(p) for p in self.jobs()]}


def main() -> None:  # pragma: no cover - a manual check: python -m simulator.ipp_printer DIR
    printer = IppPrinterSimulator(Path(sys.argv[1]))
    printer._start()
    print(printer.uri, flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        printer._stop()


if __name__ == "__main__":  # pragma: no cover
    main()


def _daemon_env() -> dict[str, str]:
    """The environment for the daemons the simulator starts, without systemd's notify socket:
    dbus-daemon sends READY=1 to any NOTIFY_SOCKET it inherits, which would speak for the
    process (a kiosk under systemd, or its test) that started the simulator."""
    return {k: v for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
