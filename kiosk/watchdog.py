"""systemd's notify protocol for the kiosk: READY, watchdog pings from the event loop, STATUS.

The service runs with `Type=notify` and `WatchdogSec=`: systemd restarts the kiosk when READY=1
does not come within `TimeoutStartSec=` or when WATCHDOG=1 pings stop. The pings come from a
task on the kiosk's own asyncio loop, so a loop that is stuck (a blocking call, a deadlock)
stops them and gets the process restarted, which is the point. Outside systemd (no
NOTIFY_SOCKET) every call is a no-op.

Protocol: sd_notify(3) - newline-separated KEY=VALUE datagrams to the AF_UNIX socket named in
NOTIFY_SOCKET (a leading "@" means Linux's abstract namespace). WATCHDOG_USEC gives the
watchdog time-out; WATCHDOG_PID, when set, says which process it is meant for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Watchdog:
    """Sends sd_notify messages; `start()` pings from the running loop at half the time-out."""

    def __init__(self, notify_socket: str | None, watchdog_usec: int | None = None) -> None:
        self.notify_socket = notify_socket or None
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self.is_ready = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Watchdog:
        """From the service manager's variables; only the composition root passes os.environ."""
        usec: int | None = None
        raw = environ.get("WATCHDOG_USEC", "")
        if raw.isdigit():
            usec = int(raw)
        pid = environ.get("WATCHDOG_PID", "")
        if pid.isdigit() and int(pid) != os.getpid():
            usec = None  # the watchdog belongs to another process (e.g. our parent)
        return cls(environ.get("NOTIFY_SOCKET"), usec)

    @property
    def enabled(self) -> bool:
        return self.notify_socket is not None

    @property
    def ping_interval_s(self) -> float | None:
        """Half of the watchdog time-out, as sd_watchdog_enabled(3) recommends."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec else None

    def notify(self, message: str) -> bool:
        """Sends one datagram; False when not under systemd or the manager cannot take it."""
        if self.notify_socket is None:
            return False
        address = self.notify_socket
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                # Never block the loop: a datagram the manager cannot take now is dropped.
                self._socket.setblocking(False)
            self._socket.sendto(message.encode("utf-8"), address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc.__class__.__name__)
            return False
        return True

    def ready(self, status: str | None = None) -> None:
        """READY=1: startup finished (the attract screen is up). Sent once."""
        if self.is_ready:
            return
        self.is_ready = True
        self.notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def status(self, text: str) -> None:
        """STATUS=...: one line that `systemctl status kiosk` shows. No personal data here."""
        self.notify(f"STATUS={_one_line(text)}")

    def ping(self) -> None:
        if self.watchdog_usec is not None:
            self.notify("WATCHDOG=1")

    def extend_start_timeout(self, seconds: float) -> None:
        """EXTEND_TIMEOUT_USEC: startup needs longer (e.g. a slow reconciliation at boot)."""
        self.notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def start(self) -> None:
        """Starts pinging from the running loop (call inside it); a no-op without a watchdog."""
        interval = self.ping_interval_s
        if interval is None or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._pings(interval), name="watchdog")

    async def _pings(self, interval: float) -> None:
        while True:
            self.ping()
            await asyncio.sleep(interval)

    def stop(self, status: str | None = None) -> None:
        """STOPPING=1, then the pings end and the socket closes."""
        self.notify("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def _one_line(text: str) -> str:
    return " ".join(text.split())
