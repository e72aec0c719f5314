"""The kiosk's background tasks, owned: every task is created here, kept until it ends (asyncio
keeps only a weak reference to a running task), and a failure is never lost. A long-lived loop
that fails is logged with its traceback and started again after a pause that grows with each
failure in a row; a one-off task that fails is logged and escalated (the operators hear of it
through the fleet, as any problem the kiosk reports).

The log lines go through the kiosk's masked handlers (kiosk.logs) with `task` and `reason` as
context fields; the exception's message is not trusted to be free of personal data, so only
its type is in the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

# The problem kind the operators see when a one-off background task fails (kiosk.flow's
# report_problem: kind, reason).
TASK_FAILED = "background_task_failed"

T = TypeVar("T")
# asyncio's own task factories take coroutines of any yield and send types; only the result
# type matters here. Any: those two.
Job = Coroutine[Any, Any, T]
Escalate = Callable[[str, str], None]


def _reason(name: str, exc: BaseException) -> str:
    return f"{name}:{type(exc).__name__}"


class TaskSupervisor:
    """Creates and keeps the kiosk's background tasks. `escalate(kind, reason)` is told of a
    one-off task that failed; a loop restarts after `restart_delay_s`, doubled after each
    failure in a row up to `max_restart_delay_s`."""

    def __init__(self, escalate: Escalate | None = None, restart_delay_s: float = 1.0,
                 max_restart_delay_s: float = 60.0) -> None:
        self._escalate = escalate
        self.restart_delay_s = restart_delay_s
        self.max_restart_delay_s = max_restart_delay_s
        self._tasks: set[asyncio.Task[object]] = set()
        self.restarts: dict[str, int] = {}  # loop name -> how often it failed and restarted

    @property
    def running(self) -> frozenset[str]:
        return frozenset(task.get_name() for task in self._tasks if not task.done())

    def spawn(self, name: str, job: Job[T]) -> asyncio.Task[T]:
        """A one-off task: kept until it ends; its failure is logged and escalated."""
        task = asyncio.get_running_loop().create_task(job, name=name)
        self._keep(task)
        task.add_done_callback(self._one_off_ended)
        return task

    def keep_running(self, name: str, loop: Callable[[], Job[T]]) -> asyncio.Task[T]:
        """A long-lived loop: `loop()` is awaited again whenever it fails (an exception), until
        it returns or the task is cancelled."""
        task = asyncio.get_running_loop().create_task(self._restarting(name, loop), name=name)
        self._keep(task)
        return task

    async def stop(self) -> None:
        """Cancels every task still running and waits for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _keep(self, task: asyncio.Task[object]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restarting(self, name: str, loop: Callable[[], Job[T]]) -> T:
        failures = 0
        clock = asyncio.get_running_loop()
        while True:
            started = clock.time()
            try:
                return await loop()
            except Exception as exc:
                # A loop that ran well for a while before failing starts again soon.
                failures = 1 if clock.time() - started > self.max_restart_delay_s else failures + 1
                self.restarts[name] = self.restarts.get(name, 0) + 1
                delay = min(self.restart_delay_s * 2 ** (failures - 1), self.max_restart_delay_s)
                log.error("background loop %s failed; restarting in %.1f s", name, delay,
                          exc_info=exc, extra={"task": name, "reason": _reason(name, exc)})
                await asyncio.sleep(delay)

    def _one_off_ended(self, task: asyncio.Task[object]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        name = task.get_name()
        log.error("background task %s failed", name, exc_info=exc,
                  extra={"task": name, "reason": _reason(name, exc)})
        if self._escalate is not None:
            try:
                self._escalate(TASK_FAILED, _reason(name, exc))
            except Exception:
                log.exception("background task failure not escalated", extra={"task": name})
