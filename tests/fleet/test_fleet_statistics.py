"""Statistics and e-supervision on both store backends: reports through the signed kiosk API,
each counted once however often it comes, a late settlement moving its figures, the rollups'
days and months agreeing, the CSV export, and the lights of applications with a time limit.

The reports are the wire's own message types (wire.reports), as the kiosk's fleet
link builds them; tests/integration/test_fleet_reports.py has the kiosk core produce them."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import time

import pytest

from fleet.kiosk_reports import day_of
from fleet.statistics import Grain, GroupBy, StatsQuery
from fleet.store import Role
from fleet.supervision import (
    SupervisionQuery,
    add_working_time,
    deadline_and_warning,
    subtract_working_time,
)
from wire.fleet import API_PREFIX
from wire.reports import (
    ApplicationStatus,
    ApplicationUpdate,
    DayUnit,
    EvaluationReport,
    ReportBatch,
    TransactionOutcome,
    TransactionSummary,
)

BILL = "442000-BM-0001"
PREREVIEW = "442000-HZ-0012"
DAY = 86400.0


def summary(tx_id: str, outcome: TransactionOutcome, revision: int = 1, **kw) -> TransactionSummary:
    started = kw.pop("started_at", time.time() - 120)
    return TransactionSummary(
        tx_id=tx_id,
        item_code=kw.pop("item_code", BILL),
        outcome=outcome,
        revision=revision,
        started_at=started,
        ended_at=kw.pop("ended_at", started + 90),
        **kw,
    )


async def send(fleet, kiosk, **lists):
    batch = ReportBatch(kiosk.kiosk_id, **{k: tuple(v) for k, v in lists.items()})
    status, body = await fleet.signed_post(
        kiosk, f"/kiosks/{kiosk.kiosk_id}/reports", batch.to_json()
    )
    assert status == 200, body
    return body


def today_query(group=GroupBy.TOTAL, grain=Grain.DAY, **kw) -> StatsQuery:
    today = day_of(time.time())
    period = today if grain is Grain.DAY else today[:7]
    return StatsQuery(grain, period, period, group, **kw)


async def test_a_resent_summary_counts_once_and_a_late_settlement_moves_its_figures(fleet):
    kiosk = await fleet.enroll_kiosk("BT-CTY-01", site="county", region="baotou")
    paid = summary("T1", TransactionOutcome.COMPLETED, amount_fen=4850)
    stuck = summary("T2", TransactionOutcome.UNSETTLED, 2, amount_fen=3000, reason="refund_refused")
    first = await send(fleet, kiosk, transactions=[paid, stuck])
    again = await send(fleet, kiosk, transactions=[paid, stuck])
    assert (first["new"], again["new"], again["duplicates"]) == (2, 0, 2)
    total = (await fleet.store.statistics(today_query()))["total"]
    assert (total["transactions"], total["completed"], total["unsettled"]) == (2, 1, 1)
    assert (total["amount_yuan"], total["refunds"], total["success_rate"]) == ("78.50", 0, 0.5)

    settled = summary("T2", TransactionOutcome.REFUNDED, 5, amount_fen=3000, refunded_fen=3000)
    assert (await send(fleet, kiosk, transactions=[settled]))["updated"] == 1
    late_copy = summary("T2", TransactionOutcome.UNSETTLED, 3, amount_fen=3000)
    assert (await send(fleet, kiosk, transactions=[late_copy]))["duplicates"] == 1
    for grain in Grain:
        total = (await fleet.store.statistics(today_query(grain=grain)))["total"]
        assert (total["transactions"], total["unsettled"], total["refunded"]) == (2, 0, 1)
        assert (total["amount_yuan"], total["refunded_yuan"], total["net_yuan"]) == (
            "78.50",
            "30.00",
            "48.50",
        )
        assert total["refunds"] == 1


async def test_concurrent_copies_of_a_batch_count_once(fleet):
    kiosk = await fleet.enroll_kiosk("ZS-HALL-01", site="city-hall", region="zhongshan")
    batch = {
        "transactions": [
            summary(f"C{i}", TransactionOutcome.COMPLETED, amount_fen=100 * i) for i in range(1, 8)
        ],
        "evaluations": [EvaluationReport("E1", BILL, 5, time.time(), "C1")],
    }
    answers = await asyncio.gather(*(send(fleet, kiosk, **batch) for _ in range(6)))
    assert sum(a["new"] for a in answers) == 8
    total = (await fleet.store.statistics(today_query()))["total"]
    assert (total["transactions"], total["amount_fen"], total["evaluations"]) == (7, 2800, 1)


async def test_satisfaction_counts_levels_three_to_five_and_agent_share_is_of_all(fleet):
    kiosk = await fleet.enroll_kiosk("BT-VIL-07", site="village-7", region="baotou")
    now = time.time()
    ratings = [EvaluationReport(f"R{lvl}", BILL, lvl, now, f"T{lvl}") for lvl in (5, 4, 3, 2, 1)]
    ratings.append(EvaluationReport("R0", BILL, 2, now, "T9", ("too_slow", "device_fault")))
    await send(fleet, kiosk, evaluations=ratings)
    await send(fleet, kiosk, evaluations=ratings[:2])  # resent: nothing changes
    await send(
        fleet,
        kiosk,
        transactions=[
            summary("A1", TransactionOutcome.COMPLETED, agent_assisted=True),
            summary("A2", TransactionOutcome.COMPLETED),
            summary("A3", TransactionOutcome.CANCELLED),
            summary("A4", TransactionOutcome.COMPLETED),
        ],
    )
    (row,) = (await fleet.store.statistics(today_query(GroupBy.ITEM)))["rows"]
    assert (row["item_code"], row["evaluations"], row["evaluations_good"]) == (BILL, 6, 3)
    assert (row["satisfaction_rate"], row["mean_level"]) == (0.5, 2.83)
    assert (row["agent_share"], row["success_rate"]) == (0.25, 0.75)
    assert row["mean_minutes"] == 1.5


async def test_figures_group_by_place_and_the_csv_holds_no_transaction(fleet):
    hall = await fleet.enroll_kiosk("ZS-HALL-02", site="city-hall", region="zhongshan")
    hall2 = await fleet.enroll_kiosk("ZS-HALL-03", site="city-hall", region="zhongshan")
    county = await fleet.enroll_kiosk("BT-CTY-02", site="county", region="baotou")
    await send(
        fleet, hall, transactions=[summary("H1", TransactionOutcome.COMPLETED, amount_fen=1)]
    )
    await send(
        fleet,
        hall2,
        transactions=[
            summary(
                "H2", TransactionOutcome.COMPLETED, amount_fen=2, item_name="=cmd|' /C calc'!A0"
            ),
            summary(
                "H3", TransactionOutcome.COMPLETED, item_code=PREREVIEW, item_name="户籍材料预审"
            ),
        ],
    )
    await send(fleet, county, transactions=[summary("B1", TransactionOutcome.REFUNDED)])
    sites = (await fleet.store.statistics(today_query(GroupBy.SITE)))["rows"]
    assert [(r["region"], r["site"], r["transactions"]) for r in sites] == [
        ("zhongshan", "city-hall", 3),
        ("baotou", "county", 1),
    ]
    one_region = await fleet.store.statistics(today_query(GroupBy.KIOSK, region="zhongshan"))
    assert [r["kiosk_id"] for r in one_region["rows"]] == ["ZS-HALL-03", "ZS-HALL-02"]

    viewer = await fleet.operator("vera", Role.VIEWER)
    try:
        async with viewer.get(f"{fleet.url}{API_PREFIX}/statistics.csv?group=item") as r:
            assert r.status == 200 and r.content_type == "text/csv"
            text = (await r.read()).decode("utf-8-sig")
        async with viewer.get(f"{fleet.url}{API_PREFIX}/statistics?grain=week") as r:
            assert (r.status, (await r.json())["reason"]) == (400, "grain")
        async with viewer.get(f"{fleet.url}{API_PREFIX}/statistics?from=2024-13-01") as r:
            assert (r.status, (await r.json())["reason"]) == (400, "from")
    finally:
        await viewer.close()
    rows = list(csv.DictReader(io.StringIO(text)))
    by_item = {r["item_code"]: r for r in rows}
    assert by_item[PREREVIEW]["item_name"] == "户籍材料预审"
    assert by_item[BILL]["item_name"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert (by_item[BILL]["transactions"], by_item[BILL]["amount_yuan"]) == ("3", "0.03")
    assert rows[-1]["item_name"] == "total" and rows[-1]["transactions"] == "4"
    for tx_id in ("H1", "H2", "H3", "B1"):
        assert tx_id not in text


def test_working_days_skip_weekends_and_warn_a_day_or_a_fifth_ahead():
    def at(text: str) -> float:
        return datetime.datetime.fromisoformat(text).timestamp()

    def text(t: float) -> str:
        return datetime.datetime.fromtimestamp(t).isoformat(timespec="minutes")

    friday = at("2024-06-07T15:00")
    assert text(add_working_time(friday, 3 * DAY)) == "2024-06-12T15:00"
    assert text(add_working_time(at("2024-06-08T10:00"), DAY)) == "2024-06-11T00:00"
    assert text(subtract_working_time(at("2024-06-10T09:00"), DAY)) == "2024-06-07T09:00"
    deadline, yellow = deadline_and_warning(friday, 3, DayUnit.WORKING_DAYS)
    assert (text(deadline), text(yellow)) == ("2024-06-12T15:00", "2024-06-11T15:00")
    deadline, yellow = deadline_and_warning(friday, 20, DayUnit.WORKING_DAYS)
    assert (text(deadline), text(yellow)) == ("2024-07-05T15:00", "2024-07-01T15:00")
    deadline, yellow = deadline_and_warning(friday, 3, DayUnit.CALENDAR_DAYS)
    assert (text(deadline), text(yellow)) == ("2024-06-10T15:00", "2024-06-09T15:00")


async def test_supervision_lights_applications_by_time_left_until_a_decision(fleet):
    kiosk = await fleet.enroll_kiosk("ZS-HALL-04", site="city-hall", region="zhongshan")
    now = time.time()

    def application(tx_id: str, days_ago: float, **kw) -> TransactionSummary:
        submitted = now - days_ago * DAY
        return summary(
            tx_id,
            kw.pop("outcome", TransactionOutcome.COMPLETED),
            item_code=PREREVIEW,
            started_at=submitted - 60,
            ended_at=submitted + 30,
            submitted_at=submitted,
            time_limit_days=3,
            time_limit_unit=DayUnit.CALENDAR_DAYS,
            **kw,
        )

    await send(
        fleet,
        kiosk,
        transactions=[
            application("P-GREEN", 0.5),
            application("P-YELLOW", 2.5),
            application("P-RED", 4),
            application("P-DONE", 2.5),
            application("P-LATE", 4),
            application("P-REFUNDED", 1, outcome=TransactionOutcome.REFUNDED),
            summary("NOT-SUPERVISED", TransactionOutcome.COMPLETED),
        ],
        applications=[
            ApplicationUpdate("P-DONE", ApplicationStatus.DONE, now - DAY),
            ApplicationUpdate("P-LATE", ApplicationStatus.RETURNED, now - 0.5 * DAY),
        ],
    )
    q = SupervisionQuery(now - 30 * DAY, now + 1, now)
    lit = await fleet.store.supervision(q)
    assert lit["totals"] == {"green": 1, "yellow": 1, "red": 1, "done": 1, "done_late": 1}
    assert [a["tx_id"] for a in lit["lit"]] == ["P-RED", "P-YELLOW"]
    assert lit["decisions_reported"] == 2
    ahead = await fleet.store.supervision(SupervisionQuery(now - 30 * DAY, now + 1, now + 2 * DAY))
    assert (ahead["totals"]["yellow"], ahead["totals"]["red"]) == (1, 2)
    # A resent decision of an older revision does not undo a newer one.
    await send(
        fleet, kiosk, applications=[ApplicationUpdate("P-RED", ApplicationStatus.DONE, now, 2)]
    )
    await send(
        fleet, kiosk, applications=[ApplicationUpdate("P-RED", ApplicationStatus.RETURNED, now, 1)]
    )
    lit = await fleet.store.supervision(q)
    assert (lit["totals"]["red"], lit["totals"]["done_late"]) == (0, 2)


@pytest.mark.parametrize(
    "bad",
    [
        {"tx_id": "T", "item_code": BILL, "outcome": "completed", "revision": 1, "started_at": 1.0,
         "ended_at": 2.0, "amount_fen": 100, "refunded_fen": 101},
        {"tx_id": "T", "item_code": BILL, "outcome": "lost", "revision": 1, "started_at": 1.0,
         "ended_at": 2.0},
        {"tx_id": "T", "item_code": BILL, "outcome": "completed", "revision": 0, "started_at": 1.0,
         "ended_at": 2.0},
    ],
)  # fmt: skip
async def test_a_report_the_schema_refuses_changes_nothing(fleet, bad):
    kiosk = await fleet.enroll_kiosk("ZS-HALL-05")
    status, body = await fleet.signed_post(
        kiosk,
        f"/kiosks/{kiosk.kiosk_id}/reports",
        {"kiosk_id": kiosk.kiosk_id, "transactions": [bad]},
    )
    assert (status, body["error"]) == (400, "bad_request")
    assert (await fleet.store.statistics(today_query()))["total"]["transactions"] == 0
    other = await fleet.enroll_kiosk("ZS-HALL-06")
    status, _ = await fleet.signed_post(
        other, f"/kiosks/{kiosk.kiosk_id}/reports", {"kiosk_id": kiosk.kiosk_id}
    )
    assert status == 403
