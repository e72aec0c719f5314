"""What operators report, fed by the real producer: a kiosk core on the simulator serves
scripted citizens (bills paid on the phone, a pre-review, queue tickets), its fleet link reports
each transaction and evaluation, and the fleet's statistics, e-supervision and health figures
say what happened, once, across a kiosk restart."""

from __future__ import annotations

import time

import pytest

from fleet.availability import Window
from fleet.kiosk_reports import day_of
from fleet.statistics import Grain, GroupBy, StatsQuery
from fleet.supervision import SupervisionQuery
from tests.integration.reporting_kiosks import BILL, PREREVIEW, QUEUE, ReportingFleet, until
from wire.reports import ApplicationStatus

KIOSK = "ZS-HALL-01"


@pytest.fixture
async def reporting(tmp_path):
    env = await ReportingFleet(tmp_path).start()
    yield env
    await env.close()


def _today(group: GroupBy, **kw) -> StatsQuery:
    today = day_of(time.time())
    return StatsQuery(Grain.DAY, today, today, group, **kw)


async def test_a_kiosk_cores_transactions_and_evaluations_become_the_fleets_figures(reporting):
    store = reporting.fleet.store
    core = await reporting.kiosk(KIOSK, site="city-hall", region="zhongshan")
    await reporting.citizens(core, "bill", 2)
    await reporting.citizens(core, "prereview")
    await reporting.citizens(core, "queue", 2)
    await reporting.reported(core)
    journal = {tx.tx_id: tx for tx in core.ctx.journal.recent(10)}
    assert len(journal) == 5 and all(tx.state.value == "closed" for tx in journal.values())
    paid_fen = sum(tx.amount_fen or 0 for tx in journal.values() if tx.service == BILL)
    assert paid_fen > 0

    rows = {r["item_code"]: r for r in (await store.statistics(_today(GroupBy.ITEM)))["rows"]}
    assert {code: r["transactions"] for code, r in rows.items()} == {
        BILL: 2,
        QUEUE: 2,
        PREREVIEW: 1,
    }
    assert (rows[BILL]["amount_fen"], rows[BILL]["success_rate"]) == (paid_fen, 1.0)
    assert rows[PREREVIEW]["item_name"] and rows[QUEUE]["amount_fen"] == 0
    # The kiosk detail's per-day chart reads these figures.
    (day,) = (await store.statistics(_today(GroupBy.PERIOD, kiosk=KIOSK)))["rows"]
    assert day["completed"] == 5

    # Evaluations through the fleet link: a 非常满意 and a 差评 with its reasons.
    bill_tx = next(tx for tx in journal.values() if tx.service == BILL)
    await core.link.report_evaluation("ev-1", BILL, 5, time.time(), bill_tx.tx_id)
    await core.link.report_evaluation("ev-2", BILL, 2, time.time(), "", ("too_slow",))
    await core.link.report_evaluation("ev-1", BILL, 5, time.time(), bill_tx.tx_id)  # again

    async def rated():
        (bill,) = (await store.statistics(_today(GroupBy.ITEM, item=BILL)))["rows"]
        return bill if bill["evaluations"] == 2 else None

    bill = await until(rated)
    assert bill["satisfaction_rate"] == 0.5

    # The pre-review has a promised time limit: supervised from its submission.
    now = time.time()
    window = (now - 86400, now + 60)
    lit = await store.supervision(SupervisionQuery(*window, now))
    assert lit["totals"]["green"] == 1 and lit["items"][0]["item_code"] == PREREVIEW
    (fact,) = await store.db.fetch(
        "SELECT tx_id, submitted_at, deadline_at, yellow_at FROM tx_facts WHERE deadline_at"
        " IS NOT NULL"
    )
    assert core.ctx.journal.get(fact["tx_id"]).service == PREREVIEW
    assert fact["submitted_at"] < fact["yellow_at"] < fact["deadline_at"]
    soon = await store.supervision(SupervisionQuery(*window, fact["yellow_at"] + 1))
    late = await store.supervision(SupervisionQuery(*window, fact["deadline_at"] + 1))
    assert (soon["totals"]["yellow"], late["totals"]["red"]) == (1, 1)
    await core.link.report_application_update(fact["tx_id"], ApplicationStatus.DONE, time.time())

    async def decided():
        result = await store.supervision(SupervisionQuery(*window, fact["deadline_at"] + 1))
        return result if result["totals"]["done"] == 1 else None

    await until(decided)

    # A restart reads the same journal again: nothing is counted twice.
    await core.stop()
    again = await reporting.kiosk(KIOSK)
    await reporting.citizens(again, "bill")
    await reporting.reported(again)
    total = (await store.statistics(_today(GroupBy.TOTAL)))["total"]
    assert (total["transactions"], total["completed"], total["evaluations"]) == (6, 6, 2)


async def test_device_faults_and_menu_changes_become_repairs_and_availability(reporting):
    store = reporting.fleet.store
    core = await reporting.kiosk(KIOSK, site="city-hall", region="zhongshan")

    async def items_reported():
        row = await store.db.fetchrow("SELECT avail_state FROM kiosks WHERE kiosk_id = $1", KIOSK)
        return row and QUEUE in row["avail_state"]

    await until(items_reported)
    reporting.sim.printer.set_fault("paper_out", True)

    async def repair_open():
        result = await store.repairs(0, time.time() + 60, time.time())
        return [r for r in result["open"] if r["device"] == "receipt_printer"]

    await until(repair_open)
    await until(_menu_lacks(store, QUEUE))
    reporting.sim.printer.set_fault("paper_out", False)

    async def repaired():
        result = await store.repairs(0, time.time() + 60, time.time())
        kinds = {d["device"]: d for d in result["device_kinds"]}
        printer = kinds.get("receipt_printer")
        return printer if printer and printer["repairs"] == 1 and not printer["open"] else None

    printer = await until(repaired)
    assert printer["mttr_s"] > 0
    await until(_menu_offers(store, QUEUE))
    await core.stop()  # closes the spell: a goodbye
    today = day_of(time.time())
    result = await store.availability(Window(today, today, time.time()))
    (kiosk,) = result["kiosks"]
    items = {i["item_code"]: i for i in result["items"]}
    # Queue tickets need the printer; bills do not: the queue was offered less of the time.
    assert 0 < items[QUEUE]["in_service_s"] < items[BILL]["in_service_s"]
    assert items[BILL]["in_service_s"] <= kiosk["in_service_s"] <= kiosk["open_s"]


def _menu_lacks(store, code):
    async def check():
        row = await store.db.fetchrow("SELECT avail_state FROM kiosks WHERE kiosk_id = $1", KIOSK)
        return row and f'"{code}": false' in row["avail_state"]

    return check


def _menu_offers(store, code):
    async def check():
        row = await store.db.fetchrow("SELECT avail_state FROM kiosks WHERE kiosk_id = $1", KIOSK)
        return row and f'"{code}": true' in row["avail_state"]

    return check
