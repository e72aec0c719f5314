"""A virtual display for benchmarks and tests that start the Kivy app: the caller's, or an Xvfb
of our own."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def start_xvfb(width: int, height: int) -> Iterator[str]:
    """An Xvfb of our own on a free display number; yields its DISPLAY.

    Xvfb picks the free number itself and tells it on a pipe (-displayfd): two test workers (or
    two checkouts) starting displays at once never race for one number."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    try:
        number = _read_display_number(read_end, proc, deadline=time.monotonic() + 10)
        while not Path(f"/tmp/.X11-unix/X{number}").exists():  # listening, not only chosen
            if proc.poll() is not None:
                raise RuntimeError("Xvfb did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        os.close(read_end)
        proc.terminate()
        proc.wait(5)


def _read_display_number(fd: int, proc: subprocess.Popen[bytes], deadline: float) -> int:
    text = b""
    while not text.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            raise RuntimeError("Xvfb did not start")
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(fd, 16)
            if not chunk:
                raise RuntimeError("Xvfb did not start")
            text += chunk
    return int(text)


@contextlib.contextmanager
def virtual_display(width: int = 1080, height: int = 1920) -> Iterator[dict[str, str]]:
    """Yields an environment with DISPLAY set; starts Xvfb when none is available."""
    env = dict(os.environ)
    if env.get("DISPLAY"):
        yield env
        return
    with start_xvfb(width, height) as display:
        env["DISPLAY"] = display
        yield env
