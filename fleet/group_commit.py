"""Group commit: the units of work waiting for the database run together, in one transaction.

A heartbeat used to cost five hops to the SQLite thread (BEGIN + read, update, counters, commands,
COMMIT), each a pair of thread switches behind a busy event loop; the disk was not the limit. Here
every unit queued while the previous batch ran is taken in one hop and one transaction, each unit
inside its own savepoint (one failing unit is rolled back alone), and every caller is answered
only after COMMIT: durability is what it was, the hops are shared.

A unit is `async def work(conn) -> result` that awaits nothing but `conn`'s statements, so the
same store code runs on the SQLite thread (driven there without an event loop, see `drive`) and
on an asyncpg connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
# Any: the database's connection (sqlite3's or asyncpg's), and a coroutine's yield and send
# types (only its result matters).
Work = Callable[[Any], Coroutine[Any, Any, T]]


class UnitAwaitedElsewhere(RuntimeError):
    """A unit of work awaited something other than its connection: a bug in the unit."""


# Any: a coroutine's yield and send types (only its result matters).
def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its awaits all complete at once) to its end."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise UnitAwaitedElsewhere("a group-commit unit suspended; it may only await its connection")


@dataclass
class Unit(Generic[T]):
    """One caller's work, the key that orders it within a batch (its kiosk: row locks are then
    always taken in the same order, so two batches cannot deadlock), and its answer."""

    work: Work[T]
    order_key: str
    future: asyncio.Future[T] = field(repr=False)

    def settle(self, ok: bool, value: Any) -> None:  # Any: the unit's result, or its error
        if self.future.done():  # the caller was cancelled; its work is committed all the same
            return
        if ok:
            self.future.set_result(value)
        else:
            self.future.set_exception(value)


RunBatch = Callable[[list[Unit[Any]]], Awaitable[None]]  # Any: each unit's own result


class GroupCommit:
    """Queues units and runs them in batches of at most `max_batch`, `concurrency` batches at
    a time (1 for SQLite, whose writer is one thread; a few for PostgreSQL's pool)."""

    def __init__(self, run_batch: RunBatch, *, max_batch: int = 256, concurrency: int = 1) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._queue: list[Unit[Any]] = []  # Any: each unit's own result
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, work: Work[T], order_key: str = "") -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(Unit(work, order_key, future))
        if self._running < self._concurrency:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                batch.sort(key=lambda u: u.order_key)
                try:
                    await self._run_batch(batch)
                except BaseException as exc:  # the batch never committed: every caller hears it
                    for unit in batch:
                        unit.settle(False, exc if isinstance(exc, Exception) else RuntimeError())
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._running -= 1
