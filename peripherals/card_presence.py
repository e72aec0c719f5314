"""Card inserted / card removed on the chip reader, as events on the loop.

The reader's worker thread runs `drivers.pcsc_watch.ReaderWatcher` in slices (a blocking
`SCardGetStatusChange` with a real time-out, so a read queued behind it waits one slice at
most); between slices this loop publishes what changed. No polling, no new PC/SC context per
look, and a pcscd restart is survived (the watcher makes a new context when pcscd is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from drivers.pcsc_watch import CardPresence
from peripherals.worker import DeviceWorker

log = logging.getLogger(__name__)


class CardEventKind(StrEnum):
    INSERTED = "inserted"
    REMOVED = "removed"


@dataclass(frozen=True)
class CardEvent:
    device: str
    kind: CardEventKind
    at: float = field(default_factory=time.time)


T = TypeVar("T")
_CUT_AGAIN_S = 0.05

CardCallback = Callable[[CardEvent], None]
# On the worker thread: wait up to `timeout` s, return the reader's presence now (None: unknown,
# pcscd away).
WatchSlice = Callable[[float], CardPresence | None]


class CardPresenceWatch:
    """Owns the watch task of one reader; `wait_for(PRESENT)` awaits the next insert."""

    def __init__(self, device: str, worker: DeviceWorker, watch_slice: WatchSlice,
                 slice_s: float = 0.25, cut_short: Callable[[], None] | None = None) -> None:
        self.device = device
        self.slice_s = slice_s
        self._cut_short = cut_short   # from any thread: the slice under way returns now
        self.presence: CardPresence | None = None
        self._worker = worker
        self._slice = watch_slice
        self._callbacks: list[CardCallback] = []
        self._waiters: list[tuple[CardPresence, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    def on_card(self, callback: CardCallback) -> Callable[[], None]:
        """`callback(event)` on the loop for every insert and remove; returns the unsubscribe."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{self.device}-card-watch")

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the reader's thread as soon as it is free, not a slice later: the
        slice under way is cut short, and cut again while the call has not run (a slice that
        began just as it was cut could not be cancelled yet)."""
        if self._cut_short is None:
            return await self._worker.call(fn, *args)
        call = asyncio.ensure_future(self._worker.call(fn, *args))
        try:
            while not call.done():
                self._cut_short()
                await asyncio.wait({call}, timeout=_CUT_AGAIN_S)
            return call.result()
        finally:
            call.cancel()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if self._cut_short is not None:
            self._cut_short()   # the thread is free for the reader's close at once
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_for(self, wanted: CardPresence, timeout: float) -> None:
        """Returns once the reader's presence is `wanted`; TimeoutError after `timeout` s."""
        self.start()
        if self.presence is wanted:
            return
        waiter = (wanted, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter[1]
        finally:
            self._waiters.remove(waiter)

    def notice(self, presence: CardPresence | None) -> None:
        """A presence seen on the worker (by the watch or by a refresh): publish the change."""
        old, self.presence = self.presence, presence
        if presence is old:
            return
        kind = (CardEventKind.INSERTED if presence is CardPresence.PRESENT
                else CardEventKind.REMOVED if old is CardPresence.PRESENT else None)
        if kind is not None:
            event = CardEvent(self.device, kind)
            for callback in list(self._callbacks):
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop the watch
                    log.exception("card event subscriber failed", extra={"device": self.device})
        for wanted, future in self._waiters:
            if presence is wanted and not future.done():
                future.set_result(None)

    async def _run(self) -> None:
        while True:
            try:
                presence = await self._worker.call(self._slice, self.slice_s)
            except RuntimeError:  # the worker was shut down
                return
            except Exception:  # a bug must not end the watch silently: logged, then on
                log.exception("card watch failed", extra={"device": self.device})
                await asyncio.sleep(self.slice_s)
                continue
            self.notice(presence)
