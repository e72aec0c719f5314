"""The operators' dashboard in headless Chromium: sign in, glance, search and filter, one kiosk
(its commands' honest status, alert history, history, logs), a bulk command, the audit log."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from fleet.store import Role
from tests.fleet.fleetkit import HEALTHY_DEVICES, PASSWORD, Fleet, sqlite_config

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Where the screenshots go (KIOSK_SCREENSHOTS=DIR keeps them; else the test's tmp dir).
SHOTS = os.environ.get("KIOSK_SCREENSHOTS")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
JAM = [
    {
        "device": "printer",
        "health": "fault",
        "reason": "paper_jam",
        "supplies": [{"name": "paper", "level": "low", "remaining": 9}],
    },
    {"device": "card_reader", "health": "ok"},
]


def _kiosk_log_lines() -> bytes:
    """What the kiosk's logging writes to its kiosk.log (what an upload sends): a line about a
    transaction, through the kiosk's own set-up; and a line from before structured logs."""
    import logging
    import tempfile

    from kiosk.logs import LOG_FILE, setup_logging
    from tests.logging_kit import root_logger_kept

    with tempfile.TemporaryDirectory() as folder:
        with root_logger_kept():
            setup_logging(Path(folder), logging.INFO)
            logging.getLogger("kiosk.steps").warning(
                "receipt not printed: %s", "paper_out",
                extra={"transaction": "T-20261127-0001", "reason": "paper_out"})
        return b"2026-11-26 08:00:00,000 INFO kiosk started\n" + (Path(folder) / LOG_FILE).read_bytes()


async def _populate(fleet: Fleet) -> None:
    up = await fleet.enroll_kiosk("ZS-HALL-01", site="city-hall", region="zhongshan")
    jammed = await fleet.enroll_kiosk("ZS-HALL-02", site="city-hall", region="zhongshan")
    village = await fleet.enroll_kiosk("BT-VIL-07", site="village-7", region="baotou")
    down = await fleet.enroll_kiosk("BT-CTY-01", site="county", region="baotou")
    await fleet.enroll_kiosk("BT-CTY-02", site="county", region="baotou")  # never heard from
    await fleet.heartbeat(up, devices=HEALTHY_DEVICES)
    await fleet.heartbeat(jammed, devices=JAM)
    await fleet.heartbeat(village, devices=HEALTHY_DEVICES)
    await fleet.heartbeat(down, devices=HEALTHY_DEVICES, in_service=False)
    await fleet.store.set_tags("BT-VIL-07", ["pilot"], "test")
    await fleet.store.set_tags("ZS-HALL-02", ["lobby", "pilot"], "test")
    crash = {
        "event_id": "e-crash",
        "kind": "unexpected_exit",
        "at": time.time(),
        "severity": "critical",
        "reason": "exception KeyError at flow.py:88",
    }
    await fleet.signed_post(
        jammed, "/kiosks/ZS-HALL-02/events", {"kiosk_id": "ZS-HALL-02", "events": [crash]}
    )
    asked = await fleet.ask_for_logs(jammed, counters={"transactions_completed": 12}, devices=JAM)
    await fleet.signed_post(
        jammed, f"/kiosks/ZS-HALL-02/logs?command_id={asked}", None, body=_kiosk_log_lines()
    )
    done = {"command_id": asked, "outcome": "done", "detail": "uploaded", "at": time.time()}
    await fleet.heartbeat(
        jammed, counters={"transactions_completed": 12}, devices=JAM, acks=[done]
    )  # as the kiosk's agent does once its logs are up


def test_dashboard_finds_kiosks_shows_one_honestly_and_sends_a_bulk_command(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    fleet = Fleet(sqlite_config(tmp_path))
    loop.run_until_complete(fleet.start())
    loop.run_until_complete(_populate(fleet))
    loop.run_until_complete(fleet.add_user("olga", Role.OPERATOR))
    loop.run_until_complete(fleet.add_user("ada", Role.ADMIN))

    # The server runs on its loop in another thread while Playwright drives Chromium here;
    # the test's kiosks speak to it through that loop.
    server = threading.Thread(target=loop.run_forever, daemon=True)

    def on_server(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    def sign_in(page, user):
        page.goto(fleet.url + "/")
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("#sign-in-form button")
        expect(page.locator("#user-name")).to_have_text(user)

    try:
        server.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.on("dialog", lambda d: d.accept())
            page.goto(fleet.url + "/")
            page.fill("#username", "olga")
            page.fill("#password", "wrong password")
            page.click("#sign-in-form button")
            expect(page.locator("#sign-in-error")).to_contain_text("Wrong user name")
            for _ in range(5):  # someone guessing another name from this computer
                page.fill("#username", "mallory")
                page.fill("#password", "guess")
                page.click("#sign-in-form button")
                expect(page.locator("#sign-in-error")).not_to_be_empty()
                page.evaluate("document.getElementById('sign-in-error').textContent = ''")
            page.click("#sign-in-form button")
            expect(page.locator("#sign-in-error")).to_contain_text("Too many wrong passwords")
            sign_in(page, "olga")
            expect(page.locator("#count-up")).to_have_text("2")
            expect(page.locator("#count-degraded")).to_have_text("1")
            expect(page.locator("#count-down")).to_have_text("1")
            expect(page.locator("#count-offline")).to_have_text("1")
            expect(page.locator("#kiosks tbody tr")).to_have_count(5)
            expect(page.locator("#alerts tbody tr")).to_have_count(3)  # jam, low paper, crash

            # Search and filters narrow the list on the server.
            page.fill("#filter-search", "hall")
            expect(page.locator("#kiosks tbody tr")).to_have_count(2)
            page.click("#filter-clear")
            page.select_option("#filter-tag", "pilot")
            expect(page.locator("#kiosks tbody tr")).to_have_count(2)
            page.select_option("#filter-alert", "crash")
            expect(page.locator("#kiosks tbody tr")).to_have_count(1)
            expect(page.locator("#kiosks tbody tr")).to_contain_text("lobby")
            page.click("#filter-clear")
            page.select_option("#filter-region", "zhongshan")
            expect(page.locator("#kiosks tbody tr")).to_have_count(2)
            expect(page.locator("#count-offline")).to_have_text("0")
            page.screenshot(path=str(shots / "dashboard-fleet.png"), full_page=True)

            # One kiosk: out of service says "waiting for the next heartbeat" until the kiosk
            # has applied it, then "done".
            page.click("text=ZS-HALL-02")
            expect(page.locator("#detail-state")).to_have_text("degraded")
            expect(page.locator("#devices")).to_contain_text("paper_jam")
            # Its per-day chart: tests/integration/test_reports_dashboard.py, fed by a kiosk core.
            expect(page.locator("#per-day")).to_contain_text("no transactions reported")
            expect(page.locator("#commands tbody tr")).to_have_count(1)  # the logs asked for
            page.click("#command-buttons button[data-kind='out_of_service']")
            expect(page.locator("#commands tbody tr")).to_have_count(2)
            expect(page.locator("#commands")).to_contain_text(
                "queued: waiting for the next heartbeat (next heartbeat"
            )
            jammed = fleet.kiosks["ZS-HALL-02"]
            on_server(fleet.heartbeat(jammed, devices=JAM))
            page.click("text=ZS-HALL-02")
            expect(page.locator("#commands")).to_contain_text("delivered: waiting for the kiosk")
            expect(page.locator("#detail-service")).to_contain_text(
                "operators want out of service; the kiosk still reports in service"
            )
            on_server(
                fleet.heartbeat(
                    jammed,
                    devices=JAM,
                    in_service=False,
                    service_state="out_of_service",
                    service_revision=1,
                )
            )
            page.click("text=ZS-HALL-02")
            expect(page.locator("#commands")).to_contain_text("done: out of service")
            expect(page.locator("#detail-state")).to_have_text("down")

            # The crash: in the history, in the alert history, acknowledged and then closed.
            expect(page.locator("#events")).to_contain_text("unexpected exit")
            page.locator("#alerts tbody tr", has_text="crash").locator("button").click()
            expect(page.locator("#alert-history")).to_contain_text("olga")
            expect(page.locator("#alerts tbody tr", has_text="crash")).to_have_count(0)

            # Logs: read in the page, or saved as a file.
            page.locator("#logs button", has_text="View").click()
            # Each JSON line as a person reads it, its context as key=value; an old text line
            # as it came.
            expect(page.locator("#log-view")).to_contain_text("2026-11-26 08:00:00,000 INFO kiosk started")
            expect(page.locator("#log-view")).to_contain_text(
                "WARNING kiosk.steps receipt not printed: paper_out reason=paper_out "
                "transaction=T-20261127-0001")
            assert "{" not in page.locator("#log-view").text_content()
            with page.expect_download() as download:
                page.click("#logs a.download")
            assert download.value.suggested_filename.startswith("ZS-HALL-02-logs-")
            page.screenshot(path=str(shots / "dashboard-kiosk.png"), full_page=True)

            # A bulk command to what the filters show, with each kiosk's result.
            page.select_option("#bulk-kind", "restart_app")
            expect(page.locator("#bulk-count")).to_have_text("2")
            page.click("#bulk-send")
            expect(page.locator("#bulk-results tbody tr")).to_have_count(2)
            expect(page.locator("#bulk-results tbody tr").first).to_contain_text("queued")
            on_server(fleet.heartbeat(fleet.kiosks["ZS-HALL-01"], devices=HEALTHY_DEVICES))
            page.click("text=ZS-HALL-01")  # any refresh will do; the results follow
            page.select_option("#filter-state", "")
            expect(page.locator("#bulk-results tr[data-kiosk='ZS-HALL-01']")).to_contain_text(
                "delivered"
            )
            page.screenshot(path=str(shots / "dashboard-bulk.png"), full_page=True)

            # The admin's audit log names each command and its target.
            page.click("#sign-out")
            sign_in(page, "ada")
            expect(page.locator("#audit")).to_contain_text("command: out of service")
            audit_row = page.locator("#audit tbody tr", has_text="command: out of service")
            expect(audit_row).to_contain_text("ZS-HALL-02")
            expect(page.locator("#audit")).to_contain_text("bulk command: restart app")
            page.screenshot(path=str(shots / "dashboard-audit.png"), full_page=True)
            browser.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        server.join(timeout=5)
        commands = loop.run_until_complete(fleet.store.list_commands())
        loop.run_until_complete(fleet.close())
        loop.close()
    assert sorted((c["kiosk_id"], c["kind"], c["issued_by"]) for c in commands) == [
        ("ZS-HALL-01", "restart_app", "olga"),
        ("ZS-HALL-02", "out_of_service", "olga"),
        ("ZS-HALL-02", "restart_app", "olga"),
        ("ZS-HALL-02", "upload_logs", "test"),  # asked for before the run, by fleetkit
    ]
