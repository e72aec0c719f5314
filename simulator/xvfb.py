"""A virtual display for benchmarks that start the Kivy app: the caller's, or an Xvfb of our own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def start_xvfb(width: int, height: int) -> Iterator[str]:
    """An Xvfb of our own on a free display number; yields its DISPLAY."""
    for number in range(90, 120):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            break
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("Xvfb did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(5)


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
