"""The operators' reports in headless Chromium, fed by real kiosk cores on the simulator: the
kiosk's per-day chart (it once read a counter no kiosk sends), statistics with charts and the
CSV export, the e-supervision lights looking ahead, and fleet health (availability, time to
repair, supplies). Screenshots go to KIOSK_SCREENSHOTS=DIR when set."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import os
import threading
import time
from pathlib import Path

import pytest

from fleet.kiosk_reports import day_of
from fleet.statistics import Grain, GroupBy, StatsQuery
from fleet.store import Role
from tests.fleet.fleetkit import PASSWORD
from tests.fleet.test_dashboard import ARGS, CHROMIUM
from tests.integration.reporting_kiosks import BILL, PREREVIEW, QUEUE, ReportingFleet, until
from wire.reports import ApplicationStatus

SHOTS = os.environ.get("KIOSK_SCREENSHOTS")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


async def _paper_low(store) -> bool:
    kiosk = await store.get_kiosk("ZS-HALL-01")
    return any(
        s["name"] == "paper" and s["level"] == "low"
        for d in kiosk["devices"]
        for s in d.get("supplies", [])
    )


async def _populate(env: ReportingFleet) -> dict:
    """Two kiosks' real work: the second one's first, then the first stays running."""
    store = env.fleet.store
    county = await env.kiosk("BT-CTY-01", site="county", region="baotou")
    await env.citizens(county, "bill", 2)
    await env.citizens(county, "queue")
    await env.reported(county)
    await county.link.report_evaluation("ev-c1", BILL, 2, time.time(), "", ("too_slow",))
    await env.reported(county)
    await county.stop()

    hall = await env.kiosk("ZS-HALL-01", site="city-hall", region="zhongshan")
    await env.citizens(hall, "bill", 3)
    await env.citizens(hall, "prereview", 2)
    await env.citizens(hall, "queue", 2)
    await env.citizens(hall, "certificate")
    for n, level in enumerate((5, 5, 4, 3)):
        await hall.link.report_evaluation(f"ev-h{n}", BILL, level, time.time())
    # A printer fault, mended: a repair. Then a short roll: the near-end sensor trips after the
    # next receipt, and what is printed after it is counted down from what the sensor leaves.
    env.sim.printer.set_fault("cover_open", True)
    await asyncio.sleep(1.0)
    env.sim.printer.set_fault("cover_open", False)
    env.sim.printer.load_paper(1600)
    await env.citizens(hall, "bill")
    await until(lambda: _paper_low(store))
    await env.citizens(hall, "queue", 2)
    await env.reported(hall)
    prereviews = [tx for tx in hall.ctx.journal.recent(20) if tx.service == PREREVIEW]
    await hall.link.report_application_update(
        prereviews[0].tx_id, ApplicationStatus.DONE, time.time()
    )
    await env.reported(hall)
    journal = hall.ctx.journal.recent(50)
    completed = sum(tx.state.value == "closed" for tx in journal)
    facts = await store.db.fetch(
        "SELECT yellow_at, deadline_at FROM tx_facts WHERE tx_id = $1", prereviews[1].tx_id
    )
    today = day_of(time.time())
    everything = await store.statistics(StatsQuery(Grain.DAY, today, today, GroupBy.TOTAL))
    return {
        "completed": completed,
        "all": everything["total"]["completed"],
        "yellow_at": facts[0]["yellow_at"],
        "deadline_at": facts[0]["deadline_at"],
    }


def _date(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).date().isoformat()


def test_reports_show_what_real_kiosks_did(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    # Everything runs on one loop in its own thread (the kiosk core's journal belongs to the
    # thread that opened it) while Playwright drives Chromium from this one.
    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()

    def on_loop(coro, timeout=240):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=timeout)

    env = ReportingFleet(tmp_path)
    try:
        on_loop(env.start())
        facts = on_loop(_populate(env))
        on_loop(env.fleet.add_user("olga", Role.VIEWER))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.goto(env.fleet.url + "/")
            page.fill("#username", "olga")
            page.fill("#password", PASSWORD)
            page.click("#sign-in-form button")
            expect(page.locator("#user-name")).to_have_text("olga")

            # The kiosk's chart counts its completed transactions (all of today's).
            page.click("text=ZS-HALL-01")
            expect(page.locator("#per-day .bar-value")).to_have_text([str(facts["completed"])])
            page.screenshot(path=str(shots / "reports-kiosk-per-day.png"), full_page=True)

            # Statistics: per item, with charts and the CSV export.
            page.click("#views button[data-view='statistics']")
            expect(page.locator("#stats-table tbody tr")).to_have_count(4)
            bills = page.locator("#stats-table tbody tr", has_text=BILL)
            expect(bills).to_contain_text("6")  # 2 at the county, 4 in the hall
            expect(page.locator("#stats-tiles")).to_contain_text("satisfaction")
            expect(page.locator("#stats-tiles")).to_contain_text("80.0% of 5")
            # Today's bar: every transaction of both kiosks completed.
            expect(page.locator("#stats-chart-tx rect.completed title")).to_have_text(
                [f"{datetime.date.today().isoformat()[5:]} completed: {facts['all']}"]
            )
            with page.expect_download() as download:
                page.click("#stats-csv")
            text = Path(download.value.path()).read_text(encoding="utf-8-sig")
            rows = {r["item_code"]: r for r in csv.DictReader(io.StringIO(text))}
            assert (rows[BILL]["transactions"], rows[QUEUE]["transactions"]) == ("6", "5")
            page.select_option("#stats-group", "site")
            page.click("#stats-form button")
            expect(page.locator("#stats-table tbody tr")).to_have_count(2)
            page.select_option("#stats-group", "item")
            page.click("#stats-form button")
            expect(page.locator("#stats-table tbody tr")).to_have_count(4)
            page.screenshot(path=str(shots / "reports-statistics.png"), full_page=True)

            # E-supervision: today both pre-reviews are within their time; looking ahead to the
            # day the undecided one turns yellow, then to its deadline.
            page.click("#views button[data-view='supervision']")
            expect(page.locator("#sup-tiles .tile.green .count")).to_have_text("1")
            expect(page.locator("#sup-tiles .tile.done .count")).to_have_text("1")
            expect(page.locator("#sup-note")).to_contain_text(
                "Decisions reported by offices so far: 1"
            )
            page.fill("#sup-at", _date(facts["yellow_at"] + 60))
            page.click("#sup-form button")
            expect(page.locator("#sup-table tbody tr.yellow")).to_have_count(1)
            page.screenshot(path=str(shots / "reports-supervision-yellow.png"), full_page=True)
            page.fill("#sup-at", _date(facts["deadline_at"] + 60))
            page.click("#sup-form button")
            expect(page.locator("#sup-table tbody tr.red")).to_have_count(1)
            expect(page.locator("#sup-table")).to_contain_text(PREREVIEW)
            page.screenshot(path=str(shots / "reports-supervision-red.png"), full_page=True)

            # Fleet health: both kiosks' availability, the printer's repair, the short roll.
            page.click("#views button[data-view='health']")
            expect(page.locator("#avail-kiosks tbody tr")).to_have_count(2)
            expect(page.locator("#mttr tbody tr", has_text="receipt_printer")).to_contain_text("1")
            # The receipt roll (an A4 printer's paper has a row of its own).
            paper = page.locator("#supplies tbody tr", has_text="ZS-HALL-01").filter(
                has_text="receipt_printer"
            )
            expect(paper).to_contain_text("low")
            expect(paper).to_contain_text("receipts")
            expect(paper).to_contain_text("in about")
            page.screenshot(path=str(shots / "reports-health.png"), full_page=True)
            browser.close()
    finally:
        on_loop(env.close())
        loop.call_soon_threadsafe(loop.stop)
        server.join(timeout=10)
        loop.close()
