"""One worker thread per device: blocking driver calls run there, results come back on the loop."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


# A device's thread runs at a lower priority than the loop's (Linux: niceness is per thread). The
# loop draws the citizen's screen; the Python parts of a device's work (the chip's secure
# messaging and passive authentication, a frame's decoding) wait a little when both cores are
# busy, rather than the frame: with the simulator at nice 10, 0-2 frames over 50 ms per
# endorsement at the same niceness, 0 in 3 runs at 5 (bench.frames).
WORKER_NICENESS = 5


def _lower_priority() -> None:
    try:
        os.nice(WORKER_NICENESS)   # this thread only (nice(2) on Linux is per thread)
    except OSError:
        pass


class DeviceWorker:
    """Serialises a device's blocking calls on its own thread, so one slow device blocks no other."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dev-{name}",
                                            initializer=_lower_priority)

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
