"""A serial device's far side on a pseudo-terminal, reachable at a stable symlink path.

The kiosk opens the symlink with pyserial as it would open /dev/ttyUSB0. Unplugging closes the
pty (the kiosk's reads and writes fail, as when a USB-serial adapter goes away); plugging in
again makes a new pty and moves the symlink, as udev would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DataHandler = Callable[[bytes], None]


class PtySerialDevice:
    """Owns the pty master; `on_data` gets the bytes the kiosk writes, `write` answers it."""

    def __init__(self, link_path: Path, on_data: DataHandler) -> None:
        self.link_path = link_path
        self.on_data = on_data
        self._master: int | None = None
        self._slave: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def path(self) -> str:
        return str(self.link_path)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.plug()

    async def stop(self) -> None:
        self.unplug()

    def plug(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        tty.setraw(master, termios.TCSANOW)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.link_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link_path)
        assert self._loop is not None, "start() first"
        self._loop.add_reader(master, self._readable)

    def unplug(self) -> None:
        if self._master is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._master)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)  # type: ignore[arg-type]
            except OSError:
                pass
        self._master = self._slave = None
        self.link_path.unlink(missing_ok=True)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)  # type: ignore[arg-type]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if data:
            try:
                self.on_data(data)
            except Exception:  # the far side must never die of what the kiosk sent
                log.exception("serial device %s failed on input", self.link_path.name)

    def write(self, data: bytes) -> None:
        """Sends bytes to the kiosk (dropped while unplugged, like a dead cable)."""
        if self._master is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                continue
            view = view[written:]
