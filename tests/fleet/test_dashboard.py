"""The operators' dashboard in headless Chromium: sign in, glance, filter, one kiosk, ack, command."""

from __future__ import annotations

import asyncio
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

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


async def _populate(fleet: Fleet) -> None:
    up = await fleet.enroll_kiosk("ZS-HALL-01", site="city-hall", region="zhongshan")
    jammed = await fleet.enroll_kiosk("ZS-HALL-02", site="city-hall", region="zhongshan")
    village = await fleet.enroll_kiosk("BT-VIL-07", site="village-7", region="baotou")
    down = await fleet.enroll_kiosk("BT-CTY-01", site="county", region="baotou")
    await fleet.enroll_kiosk("BT-CTY-02", site="county", region="baotou")  # never heard from
    await fleet.heartbeat(up, devices=HEALTHY_DEVICES, counters={"transactions_completed": 31})
    await fleet.heartbeat(
        jammed,
        counters={"transactions_completed": 12},
        devices=[
            {
                "device": "printer",
                "health": "fault",
                "reason": "paper_jam",
                "supplies": [{"name": "paper", "level": "low", "remaining": 9}],
            },
            {"device": "card_reader", "health": "ok"},
        ],
    )
    await fleet.heartbeat(village, devices=HEALTHY_DEVICES, counters={"transactions_completed": 4})
    await fleet.heartbeat(down, devices=HEALTHY_DEVICES, in_service=False)


def test_dashboard_shows_the_fleet_and_one_kiosk(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    loop = asyncio.new_event_loop()
    fleet = Fleet(sqlite_config(tmp_path))
    loop.run_until_complete(fleet.start())
    loop.run_until_complete(_populate(fleet))
    loop.run_until_complete(fleet.add_user("olga", Role.OPERATOR))

    # The server runs on this thread's loop; let it serve while Playwright drives Chromium.
    import threading

    stop = threading.Event()

    def serve():
        async def idle():
            while not stop.is_set():
                await asyncio.sleep(0.01)

        loop.run_until_complete(idle())

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            server = threading.Thread(target=serve, daemon=True)
            server.start()
            page.goto(fleet.url + "/")
            page.fill("#username", "olga")
            page.fill("#password", "wrong password")
            page.click("#sign-in-form button")
            expect(page.locator("#sign-in-error")).to_contain_text("Wrong user name")
            page.fill("#password", PASSWORD)
            page.click("#sign-in-form button")
            expect(page.locator("#user-name")).to_have_text("olga")
            expect(page.locator("#count-up")).to_have_text("2")
            expect(page.locator("#count-degraded")).to_have_text("1")
            expect(page.locator("#count-down")).to_have_text("1")
            expect(page.locator("#count-offline")).to_have_text("1")
            expect(page.locator("#kiosks tbody tr")).to_have_count(5)
            expect(page.locator("#alerts tbody tr")).to_have_count(2)  # the jam and low paper

            page.select_option("#filter-region", "zhongshan")
            expect(page.locator("#kiosks tbody tr")).to_have_count(2)
            expect(page.locator("#count-offline")).to_have_text("0")

            page.click("text=ZS-HALL-02")
            expect(page.locator("#detail-state")).to_have_text("degraded")
            expect(page.locator("#devices")).to_contain_text("paper_jam")
            expect(page.locator("#per-day .bar-value")).to_have_text(["12"])
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            page.once("dialog", lambda d: d.accept())
            page.click("#command-buttons button[data-kind='out_of_service']")
            expect(page.locator("#commands tbody tr")).to_have_count(1)
            expect(page.locator("#commands")).to_contain_text("queued")

            page.locator("#alerts tbody tr", has_text="device fault").locator("button").click()
            expect(page.locator("#alerts tbody tr.acked")).to_have_count(1)
            browser.close()
    finally:
        stop.set()
        server.join(timeout=5)
        commands = loop.run_until_complete(fleet.store.list_commands("ZS-HALL-02"))
        audit = loop.run_until_complete(fleet.store.list_audit())
        loop.run_until_complete(fleet.close())
        loop.close()
    assert [(c["kind"], c["issued_by"]) for c in commands] == [("out_of_service", "olga")]
    assert {("olga", "ack_alert"), ("olga", "command")} <= {
        (a["actor"], a["action"]) for a in audit
    }
