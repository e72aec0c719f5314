"""A citizen's 差评 at a real kiosk core reaches the operators: the kiosk's fleet link sends an
event at once and an evaluation report (wire.reports) for the satisfaction figures, both through
the fleet agent's store-and-forward outbox, and the operators' API shows both, with nothing the
citizen typed."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from fleet.store import Role
from tests.integration.reporting_kiosks import QUEUE, ReportingFleet, until
from wire.fleet import API_PREFIX

KIOSK = "ZS-HALL-07"
COMMENT = "queue screen froze"


@pytest.fixture
async def reporting(tmp_path):
    env = await ReportingFleet(tmp_path).start()
    yield env
    await env.close()


async def _rate_a_queue_ticket(core, level: int, tag: str = "", comment: str = "") -> None:
    """A citizen takes a queue ticket, then rates it on the rating screen (好差评)."""
    view, session = core.ctx.view, core.session

    async def on(screen: str) -> None:
        async with asyncio.timeout(30):
            while str(view.screen) != screen:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0)

    session.touch_start()
    await on("menu")
    session.choose_service(QUEUE)
    await on("choose")
    session.choose_option("A")
    await on("result")
    while session.busy:
        await asyncio.sleep(0.02)
    session.finish()
    await on("evaluate")
    session.rate(level)
    if tag:
        session.toggle_rating_tag(tag)
    for key in comment:
        session.comment_key("space" if key == " " else key)
    if view.rating_note_key != "rate.thanks":   # a good level is sent on its tap
        session.send_rating()
    await on("attract")


async def test_a_bad_rating_reaches_the_operators_as_an_event_and_in_the_satisfaction(
    reporting, tmp_path
):
    core = await reporting.kiosk(KIOSK)
    await _rate_a_queue_ticket(core, 1, "device_fault", COMMENT)
    await _rate_a_queue_ticket(core, 5)
    operator = await reporting.fleet.operator("duty", Role.VIEWER)
    try:
        async def bad_rating_event():
            async with operator.get(f"{reporting.fleet.url}{API_PREFIX}/kiosks/{KIOSK}") as r:
                assert r.status == 200
                events = (await r.json())["events"]
            return [e for e in events if e["reason"].startswith("bad_rating:")]

        (event,) = await until(bad_rating_event)
        assert event["reason"] == f"bad_rating:{QUEUE}:1:device_fault"
        assert event["severity"] == "warning"

        async def rated():
            async with operator.get(f"{reporting.fleet.url}{API_PREFIX}/statistics",
                                    params={"group": "item", "item": QUEUE}) as r:
                assert r.status == 200
                rows = (await r.json())["rows"]
            return rows[0] if rows and rows[0]["evaluations"] == 2 else None

        row = await until(rated)
        assert row["satisfaction_rate"] == 0.5 and row["mean_level"] == 3.0
    finally:
        await operator.close()
    await core.stop()
    # The citizen's words went to the evaluation backend only: the fleet never saw them.
    for db_file in (tmp_path / "fleet").rglob("*.sqlite3*"):
        assert COMMENT.encode() not in db_file.read_bytes(), db_file
    fleet_outbox = sqlite3.connect(tmp_path / KIOSK / "fleet-outbox.sqlite3")
    try:
        for table, in fleet_outbox.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in fleet_outbox.execute(f"SELECT * FROM {table}"):  # noqa: S608
                assert COMMENT not in repr(row), table
    finally:
        fleet_outbox.close()
