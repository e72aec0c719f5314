"""The kiosk's transaction reports, from its journal through its fleet outbox to a real fleet
server (SQLite): a transaction is reported when it reaches an end, once; reported again when a
transaction left unsettled settles; found after a restart even when recovery settled it before
the link started; kept while the server is away or does not take reports yet (404)."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from fleet.app import create_app
from fleet.kiosk_reports import day_of
from fleet.statistics import Grain, GroupBy, StatsQuery
from kiosk.fleet_agent import FleetAgent
from kiosk.fleet_tx_reports import JournalReporter
from kiosk.journal import TxState
from tests.fleet.fleetkit import Fleet, sqlite_config

try:  # the transaction core's writer, where it exists; before it, the journal wrote itself
    from kiosk.transaction import JournalWriter as Writer  # type: ignore[import-not-found]
except ImportError:
    from kiosk.journal import Journal as Writer

BILL = "442000-BM-0001"
PAID_PATH = (TxState.QUOTED, TxState.PAYMENT_PENDING, TxState.PAID, TxState.SUBMITTED)


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


class Kiosk:
    """A journal, the agent and the reporter over one state directory (one kiosk run)."""

    def __init__(self, fleet: Fleet, enrolled, state, url: str | None = None) -> None:
        self.journal = Writer(state / "journal.sqlite3", enrolled.kiosk_id)
        self.agent = FleetAgent(
            url or fleet.url,
            enrolled.kiosk_id,
            enrolled.private_pem,
            state / "outbox.sqlite3",
            status_source=dict,
            is_busy=lambda: False,
            command_handler=self._no_commands,
            interval_s=0.2,
            max_backoff_s=0.3,
        )
        self.reporter = JournalReporter(self.journal, lambda: None, self.agent, margin_s=0.0)
        self.agent.start()

    @staticmethod
    async def _no_commands(command):
        return None

    def walk(self, tx, *states, amount_fen=None):
        for state in states:
            fields = {"amount_fen": amount_fen} if state is TxState.QUOTED and amount_fen else {}
            tx = self.journal.transition(tx, state, f"to {state.value}", **fields)
        return tx

    async def stop(self) -> None:
        await self.agent.stop()
        self.journal.close()


@pytest.fixture
async def fleet(tmp_path):
    f = Fleet(sqlite_config(tmp_path / "fleet"))
    await f.start()
    yield f
    await f.close()


async def _totals(fleet) -> dict:
    today = day_of(time.time())
    q = StatsQuery(Grain.DAY, today, today, GroupBy.TOTAL)
    return (await fleet.store.statistics(q))["total"]


async def _delivered(fleet, kiosk: Kiosk, **expected) -> dict:
    async def arrived():
        if await kiosk.agent.unsent_reports():
            return None
        total = await _totals(fleet)
        return total if all(total[k] == v for k, v in expected.items()) else None

    return await until(arrived)


async def test_a_transaction_is_reported_once_when_it_ends_and_again_when_it_settles(
    fleet, tmp_path
):
    enrolled = await fleet.enroll_kiosk("K-REPORTS")
    kiosk = Kiosk(fleet, enrolled, tmp_path / "kiosk")
    done = kiosk.walk(kiosk.journal.create(BILL), *PAID_PATH, amount_fen=4850)
    stuck = kiosk.walk(kiosk.journal.create(BILL), *PAID_PATH[:3], amount_fen=3000)
    running = kiosk.journal.create(BILL)
    assert await kiosk.reporter.scan() == 0  # nothing has ended yet
    kiosk.walk(done, TxState.FULFILLED, TxState.CLOSED)
    kiosk.journal.transition(
        kiosk.journal.get(stuck.tx_id), TxState.NEEDS_ATTENTION, "refund_refused"
    )
    assert await kiosk.reporter.scan() == 2
    assert await kiosk.reporter.scan() == 0  # unchanged: not staged again
    total = await _delivered(fleet, kiosk, transactions=2)
    assert (total["completed"], total["unsettled"], total["amount_fen"]) == (1, 1, 7850)

    # The one a person looked at is refunded later: its figures move, nothing doubles.
    kiosk.journal.transition(kiosk.journal.get(stuck.tx_id), TxState.REFUNDED, "refunded by hand")
    assert await kiosk.reporter.report(stuck.tx_id)
    assert not await kiosk.reporter.report(running.tx_id)  # still running: nothing to say
    total = await _delivered(fleet, kiosk, refunded=1)
    assert (total["transactions"], total["unsettled"], total["refunded_fen"]) == (2, 0, 3000)
    facts = await fleet.store.db.fetch("SELECT tx_id, revision FROM tx_facts ORDER BY revision")
    assert [f["tx_id"] for f in facts] == [done.tx_id, stuck.tx_id]
    await kiosk.stop()


async def test_after_a_restart_what_recovery_settled_is_reported_and_nothing_twice(fleet, tmp_path):
    enrolled = await fleet.enroll_kiosk("K-RESTART")
    state = tmp_path / "kiosk"
    first = Kiosk(fleet, enrolled, state)
    closed = first.walk(
        first.journal.create(BILL), *PAID_PATH, TxState.FULFILLED, TxState.CLOSED, amount_fen=100
    )
    pending = first.walk(
        first.journal.create(BILL), TxState.QUOTED, TxState.PAYMENT_PENDING, amount_fen=200
    )
    assert await first.reporter.scan() == 1
    await _caught_up(first)
    await _delivered(fleet, first, transactions=1)
    await first.stop()  # the process ends with a payment pending

    # The next start: recovery settles the pending one before the fleet link starts, and the
    # cursor has moved past it (margin 0): only the remembered unfinished list finds it.
    second = Kiosk(fleet, enrolled, state)
    second.journal.transition(
        second.journal.get(pending.tx_id), TxState.CANCELLED, "recovery:unpaid"
    )
    assert await second.reporter.scan() == 1
    total = await _delivered(fleet, second, transactions=2)
    assert (total["completed"], total["cancelled"], total["amount_fen"]) == (1, 1, 100)
    # This run has not seen the closed one, but the outbox has: asked again, nothing is resent.
    assert await second.reporter.report(closed.tx_id) is False
    assert await second.agent.unsent_reports() == 0
    await second.stop()


async def _caught_up(kiosk: Kiosk) -> None:
    """Scan until the cursor has reached now (the first scans look back a day at a time)."""
    while ((await kiosk.agent.report_cursor()).scan_from or 0.0) < time.time() - 1:
        await kiosk.reporter.scan()


async def test_a_first_scan_looks_back_a_day_per_pass_and_today_comes_at_once(fleet, tmp_path):
    enrolled = await fleet.enroll_kiosk("K-BACKFILL")
    kiosk = Kiosk(fleet, enrolled, tmp_path / "kiosk")
    kiosk.walk(kiosk.journal.create(BILL), TxState.CANCELLED)
    assert await kiosk.reporter.scan() == 1
    cursors = []
    while (cursor := (await kiosk.agent.report_cursor()).scan_from) < time.time() - 1:
        cursors.append(cursor)
        assert await kiosk.reporter.scan() == 0  # the older days hold nothing more
        assert len(cursors) <= 31
    steps = {round(b - a) for a, b in zip(cursors, cursors[1:], strict=False)}
    assert (len(cursors), steps) == (30, {86400})  # 31 days back, one day per pass
    await kiosk.stop()


async def test_reports_wait_for_a_server_that_is_away_or_does_not_take_them(fleet, tmp_path):
    enrolled = await fleet.enroll_kiosk("K-AWAY")
    await fleet.stop_server()
    kiosk = Kiosk(fleet, enrolled, tmp_path / "kiosk")
    kiosk.walk(kiosk.journal.create(BILL), TxState.CANCELLED)
    await kiosk.reporter.report(kiosk.journal.recent(1)[0].tx_id)
    await asyncio.sleep(0.5)
    assert await kiosk.agent.unsent_reports() == 1
    await fleet.start()
    await _delivered(fleet, kiosk, cancelled=1)
    await kiosk.stop()

    # A server of the previous release has no reports endpoint: aiohttp's plain 404. The kiosk
    # keeps its reports and its heartbeats go on.
    @web.middleware
    async def previous_release(request, handler):
        if request.path.endswith("/reports"):
            raise web.HTTPNotFound()
        return await handler(request)

    app = create_app(fleet.config, store=fleet.store)
    app.middlewares.insert(0, previous_release)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    enrolled = await fleet.enroll_kiosk("K-OLD-SERVER")
    old = Kiosk(fleet, enrolled, tmp_path / "kiosk-2", url=f"http://127.0.0.1:{port}")
    old.walk(old.journal.create(BILL), TxState.CANCELLED)
    await old.reporter.report(old.journal.recent(1)[0].tx_id)

    async def beating_on():
        return (await fleet.store.get_kiosk("K-OLD-SERVER"))["heartbeats"] >= 3

    await until(beating_on)
    assert await old.agent.unsent_reports() == 1
    assert (await _totals(fleet))["cancelled"] == 1
    await old.stop()
    await runner.cleanup()


class CountingSink:
    """The agent, counting the reporter's writes to the outbox."""

    def __init__(self, agent: FleetAgent) -> None:
        self.agent, self.writes = agent, 0

    async def report_cursor(self):
        return await self.agent.report_cursor()

    async def stage_reports(self, reports, cursor=None):
        self.writes += 1
        return await self.agent.stage_reports(reports, cursor)


async def test_an_idle_journal_is_not_written_about_every_scan(fleet, tmp_path):
    enrolled = await fleet.enroll_kiosk("K-IDLE")
    kiosk = Kiosk(fleet, enrolled, tmp_path / "kiosk")
    sink = CountingSink(kiosk.agent)
    kiosk.reporter = JournalReporter(kiosk.journal, lambda: None, sink, margin_s=0.0)
    await _caught_up(kiosk)
    writes = sink.writes
    for _ in range(5):
        assert await kiosk.reporter.scan() == 0
    assert sink.writes == writes
    kiosk.walk(kiosk.journal.create(BILL), TxState.CANCELLED)
    assert await kiosk.reporter.scan() == 1
    assert sink.writes == writes + 1
    await kiosk.stop()


async def test_a_summary_the_wire_cannot_carry_does_not_hold_up_the_others(fleet, tmp_path):
    enrolled = await fleet.enroll_kiosk("K-ODD")
    kiosk = Kiosk(fleet, enrolled, tmp_path / "kiosk")
    odd = kiosk.journal.create("户籍/预审")  # not an item code the wire can carry
    kiosk.walk(odd, TxState.CANCELLED)
    kiosk.walk(kiosk.journal.create(BILL), TxState.CANCELLED)
    assert await kiosk.reporter.scan() == 1
    assert await kiosk.reporter.scan() == 0  # and it is not tried again while unchanged
    total = await _delivered(fleet, kiosk, cancelled=1)
    assert total["transactions"] == 1
    await kiosk.stop()
