"""Background tasks are owned (kiosk.tasks): a long-lived loop that fails is logged with its
traceback and started again; a one-off task that fails is logged and the operators hear of it;
stopping its owner ends the loops. Driven through the kiosk's own housekeeping on a real
session (simulated backends over real HTTP) and the real disk."""

from __future__ import annotations

import asyncio
import logging

from kiosk.retention import start_housekeeping
from kiosk.tasks import TASK_FAILED
from kiosk.viewmodel import ScreenId
from tests.kiosk.test_flow_engine import kiosk, until  # noqa: F401 - the fixture
from tests.kiosk.test_retention import keeping

__all__ = ["kiosk"]


async def test_a_failing_disk_loop_is_logged_and_restarted_and_the_change_still_told(
        kiosk, caplog, monkeypatch):  # noqa: F811
    backends, ctx, session = kiosk
    ctx.config = keeping(ctx, disk_warn_free_mb=1e12, disk_stop_free_mb=1e12, disk_check_s=0.05)
    ctx.tasks.restart_delay_s = 0.05
    told = []
    set_disk_full = session.set_disk_full

    def flaky(full: bool) -> None:  # the session's first answer fails (a bug of its own)
        told.append(full)
        if len(told) == 1:
            raise RuntimeError("menu refresh failed")
        set_disk_full(full)

    monkeypatch.setattr(session, "set_disk_full", flaky)
    caplog.set_level(logging.ERROR, logger="kiosk.tasks")
    keeper = start_housekeeping(ctx, session)
    try:
        # The loop died once; started again, it tells the session of the full disk after all.
        await until(ctx.view, ScreenId.OUT_OF_SERVICE, timeout=5)
        assert told[:2] == [True, True]
        assert ctx.tasks.restarts["housekeeping-disk"] >= 1
        [record] = [r for r in caplog.records if getattr(r, "task", "") == "housekeeping-disk"]
        assert record.exc_info is not None and record.exc_info[0] is RuntimeError
        assert record.reason == "housekeeping-disk:RuntimeError"
        assert "housekeeping-disk" in ctx.tasks.running
    finally:
        await keeper.stop()
    assert not ctx.tasks.running & {"housekeeping-disk", "housekeeping-retention"}


async def test_a_failing_one_off_task_is_logged_and_the_operators_hear_of_it(
        kiosk, caplog):  # noqa: F811
    backends, ctx, session = kiosk
    problems = []
    ctx.report_problem = lambda kind, reason: problems.append((kind, reason))
    caplog.set_level(logging.ERROR, logger="kiosk.tasks")

    async def refresh() -> None:
        await asyncio.sleep(0)
        raise KeyError("item")

    task = ctx.tasks.spawn("catalog-refresh", refresh())
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)  # done callbacks run on the loop's next turn
    assert problems == [(TASK_FAILED, "catalog-refresh:KeyError")]
    [record] = [r for r in caplog.records if getattr(r, "task", "") == "catalog-refresh"]
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "catalog-refresh" not in ctx.tasks.running
