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
from tests.reports_kit import listen

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
    problems = listen(ctx).problems
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


# Every place outside kiosk.tasks that starts a task itself, and why it may. Anything new fails
# here until it goes through ctx.tasks (spawn or keep_running) or earns a line with its reason.
AWAITED_HERE = "a race of waits awaited in this very function; the loser is cancelled there"
PERIPHERALS = "peripherals/ may not import kiosk/ (layers): kept on the service, cancelled at close"
OWN_TASKS = {
    ("kiosk/main.py", "_CoreAfterFirstFrame._after_first_frame"):
        "the core's bring-up, before any supervisor exists (the core makes it); kept and awaited",
    ("kiosk/main.py", "_run"): "the scripted citizen (make run), outside the core; awaited at exit",
    ("kiosk/steps.py", "_read_account"): AWAITED_HERE,
    ("kiosk/transaction/run.py", "TxRun.collect"):
        "the payment's notification watch: cancelled in the same function's finally",
    ("kiosk/transaction/run.py", "TxRun._micropay"):
        "the payment's notification watch: cancelled in the same function's finally",
    ("kiosk/transaction/run.py", "_code_or_notice"): AWAITED_HERE,
    ("kiosk/steps_services.py", "_card_or_code"): AWAITED_HERE,
    ("kiosk/steps_services.py", "queue_ticket"): AWAITED_HERE,
    ("kiosk/village_agent.py", "AgentDesk._credential"): AWAITED_HERE,
    ("kiosk/watchdog.py", "Watchdog.start"):
        "systemd's watchdog pings: must outlive the supervisor's stop, to the last moment",
    ("kiosk/videocall/camera_feed.py", "CameraFeed.start"):
        "the call's camera pump: kept, stopped by its event at the call's end",
    ("kiosk/videocall/media.py", "RemoteMedia.take"):
        "the agent's tracks' readers: kept in RemoteMedia._tasks, cancelled at the call's end",
    ("kiosk/videocall/media.py", "RemoteMedia._video"):
        "one frame's conversion off the loop; its done callback takes the result",
    ("peripherals/barcode_scanner.py", "BarcodeScannerService.start"): PERIPHERALS,
    ("peripherals/camera_scanner.py", "CameraScannerService.start"): PERIPHERALS,
    ("peripherals/card_presence.py", "CardPresenceWatch.start"): PERIPHERALS,
    ("peripherals/card_presence.py", "CardPresenceWatch.call"): AWAITED_HERE,
    ("peripherals/device_manager.py", "DeviceManager.start"): PERIPHERALS,
    ("peripherals/device_manager.py", "DeviceManager._publish"): PERIPHERALS,
}


def _task_sites() -> set[tuple[str, str]]:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sites: set[tuple[str, str]] = set()

    def visit(node: ast.AST, path: str, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, path, [*scope, child.name])
                continue
            if isinstance(child, ast.Call):
                func = child.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("create_task", "ensure_future"):
                    sites.add((path, ".".join(scope)))
            visit(child, path, scope)

    for package in ("kiosk", "peripherals", "drivers"):
        for file in sorted((root / package).rglob("*.py")):
            path = file.relative_to(root).as_posix()
            if path != "kiosk/tasks.py":
                visit(ast.parse(file.read_text(encoding="utf-8")), path, [])
    return sites


def test_every_background_task_is_started_by_the_supervisor_or_has_a_reason():
    sites = _task_sites()
    assert sites - OWN_TASKS.keys() == set(), "start these through ctx.tasks (kiosk.tasks)"
    assert OWN_TASKS.keys() - sites == set(), "gone: take their lines out of OWN_TASKS"
