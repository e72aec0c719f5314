"""The village agent (代办员) through the real kiosk core on the simulator and a real fleet
server: the agent signs in with their own ID card and PIN (a wrong PIN first) or with a QR code
the dashboard issued, acts for citizens who consent on screen, one after another without the
attract screen (batch mode), is refused an "in person only" item, and every transaction is
agent-assisted in the journal and in the fleet's statistics, under the agent's id and nothing
of the citizen's."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet import village_agents
from fleet.statistics import GroupBy
from scenarios import headless_citizen
from simulator.control_client import SimulatorClient
from simulator.reference import ENDORSEMENT, SERVICE_RATING, WATER_ACCOUNT
from tests.integration.reporting_kiosks import BILL, PREREVIEW, ReportingFleet, until
from tests.integration.test_fleet_reports import _today

KIOSK, SITE = "VILLAGE-03", "village-3"
AGENT, PIN = "VA-0001", "246810"
AGENT_CARD = {"name": "陈代办", "id_number": "442000197508120042", "birth_date": "19750812"}
CITIZEN_ID = "44200019900307123X"  # the simulator's default card: the citizen's


@pytest.fixture
async def village(tmp_path):
    env = await ReportingFleet(tmp_path).start()
    yield env
    await env.close()


async def _screen(view, screen: str, timeout: float = 20.0) -> None:
    await headless_citizen._until(view, screen, timeout)


async def _view_says(view, **fields) -> None:
    async def matches():
        return all(getattr(view, k) == v for k, v in fields.items())

    await until(matches)


async def _keys(session, digits: str) -> None:
    for digit in digits:
        session.key_press(digit)
    await asyncio.sleep(0.2)  # the step shows its screen, then waits for "ok"
    session.key_press("ok")


async def _agent_signs_in_with_card(core, sim, pin: str) -> None:
    view, session = core.ctx.view, core.session
    await _view_says(view, status_key="agent.sign_in.pin")
    for digit in pin:
        session.key_press(digit)
    session.key_press("ok")


async def _citizen_consents(view, session, item: str) -> None:
    session.choose_service(item)
    await _screen(view, "choose")
    assert [o.code for o in view.options] == ["agree", "decline"]
    assert AGENT in view.choose_title["zh"]
    session.choose_option("agree")


async def _two(delivered):
    ratings = await delivered()
    return ratings if len(ratings) >= 2 else None


async def _next_citizen_screen(view, session, rate: int = 0) -> None:
    """The result, then (batch mode) the menu again, wiped, with the agent still signed in;
    a service that may be rated offers its rating screen first: the citizen gives `rate`
    (one tap, then "thank you"), or skips it."""
    await _screen(view, "result", 60)
    assert view.result_ok, view.result_lines
    session.finish()
    if rate:
        assert str(view.screen) == "evaluate"
        session.rate(rate)
    elif str(view.screen) == "evaluate":
        session.finish()
    await _screen(view, "menu")
    assert view.agent_id == AGENT and view.result_lines == () and view.entry == ""


async def test_an_agent_runs_a_pre_review_and_a_bill_for_two_citizens_in_a_row(village):
    store = village.fleet.store
    await village_agents.create_agent(store, village.fleet.services.passwords, "admin", AGENT,
                                      SITE, AGENT_CARD["id_number"], PIN)
    core = await village.kiosk(KIOSK, site=SITE, region="zhongshan")
    view, session = core.ctx.view, core.session
    async with SimulatorClient(village.endpoints["control_url"]) as sim:
        # The discreet entry, the agent's own card, a wrong PIN, then the right one.
        session.agent_entry()
        await _screen(view, "agent_sign_in")
        await sim.insert_idcard(AGENT_CARD)
        await _agent_signs_in_with_card(core, sim, "135799")
        await _view_says(view, entry_error_key="agent.refused.pin_wrong")
        await _agent_signs_in_with_card(core, sim, PIN)
        await _screen(view, "menu")
        assert view.agent_id == AGENT
        await sim.remove_idcard()

        # In person only: greyed with its reason, and choosing it starts nothing.
        tiles = {t.code: t for t in view.services}
        assert not tiles[ENDORSEMENT].available
        assert tiles[ENDORSEMENT].reason_key == "unavailable.in_person_only"
        session.choose_service(ENDORSEMENT)
        await asyncio.sleep(0.3)
        assert str(view.screen) == "menu" and not session.busy

        # First citizen: consent, their ID card, their materials: a pre-review.
        await _citizen_consents(view, session, PREREVIEW)
        await _screen(view, "read_idcard")
        await sim.insert_idcard()
        await _screen(view, "scan_document")
        await sim.document_scene("text_page")
        while view.scan_index < 2 and str(view.screen) == "scan_document":
            await asyncio.sleep(0.02)
        await sim.document_scene("form")
        await _screen(view, "enter_account")  # the citizen's mobile, for the text message
        await _keys(session, "13800138000")
        await _screen(view, "confirm")
        session.choose_option("confirm")
        await _next_citizen_screen(view, session)
        await sim.document_scene("empty")
        await sim.remove_idcard()

        # Second citizen, straight from the menu: a water bill.
        await _citizen_consents(view, session, BILL)
        await _screen(view, "enter_account")
        await _keys(session, WATER_ACCOUNT)
        await _screen(view, "confirm")
        session.choose_option("confirm")
        await headless_citizen._pay_on_phone(view, sim)
        await _next_citizen_screen(view, session, rate=5)  # rated on screen, then the menu
        bill_tx = next(tx for tx in core.ctx.journal.recent(5) if tx.service == BILL)

        # The first citizen rates their pre-review by its receipt: the evaluation says which
        # agent served them.
        prereview_tx = next(tx for tx in core.ctx.journal.recent(5) if tx.service == PREREVIEW)
        await _citizen_consents(view, session, SERVICE_RATING)
        await _screen(view, "enter_account")
        await sim.scan(prereview_tx.tx_id)
        await _screen(view, "choose")
        session.choose_option("5")
        await _next_citizen_screen(view, session)
        async def delivered():
            return list((await sim.hall_ledgers())["ratings"].values())

        ratings = await until(lambda: _two(delivered))
        assert sorted((r["transaction"], r["agent_id"]) for r in ratings) == sorted(
            [(prereview_tx.tx_id, AGENT), (bill_tx.tx_id, AGENT)])

        # A citizen who says no: nothing starts, back to the menu.
        session.choose_service(BILL)
        await _screen(view, "choose")
        session.choose_option("decline")
        await _screen(view, "menu")
        # One who walks off the consent screen (exit): the next citizen's menu, agent still in.
        session.choose_service(BILL)
        await _screen(view, "choose")
        session.cancel()
        await _screen(view, "menu")
        assert view.agent_id == AGENT and view.options == () and not session.busy

        session.agent_sign_out()
        await _screen(view, "attract")
        assert view.agent_id == ""
        # Signed out, the in-person item is offered again.
        assert {t.code: t for t in view.services}[ENDORSEMENT].available

    # The journal: both agent-assisted under the agent's id; nothing of either person in clear.
    journal = core.ctx.journal.recent(10)
    assert sorted(tx.service for tx in journal) == sorted([PREREVIEW, BILL, SERVICE_RATING])
    assert all(tx.agent_id == AGENT for tx in journal)
    assert all(tx.state.value == "closed" for tx in journal if tx.service != SERVICE_RATING)
    raw = core.ctx.journal.path.read_bytes() + b"".join(
        p.read_bytes() for p in core.ctx.journal.path.parent.glob("*.db-wal"))
    for secret in (CITIZEN_ID, AGENT_CARD["id_number"], PIN):
        assert secret.encode() not in raw

    # The fleet: statistics count both as agent-assisted; the agent's acts and sign-ins.
    await village.reported(core)
    rows = {r["item_code"]: r for r in (await store.statistics(_today(GroupBy.ITEM)))["rows"]}
    assert (rows[PREREVIEW]["agent_assisted"], rows[PREREVIEW]["agent_share"]) == (1, 1.0)
    assert rows[BILL]["agent_assisted"] == 1
    acts = await village_agents.agent_acts(store, AGENT)
    assert sorted(a["item_code"] for a in acts) == sorted([PREREVIEW, BILL, SERVICE_RATING])
    assert {a["tx_id"] for a in acts} == {tx.tx_id for tx in journal}
    audit = [a for a in await store.list_audit() if a["action"] == "agent_sign_in"]
    assert sorted(a["outcome"] for a in audit) == ["ok", "pin_wrong"]
    assert all(a["actor"] == f"kiosk:{KIOSK}" and a["target"] == AGENT for a in audit)


async def test_a_dashboard_qr_code_signs_the_agent_in_until_the_session_runs_out(
        village, monkeypatch):
    store = village.fleet.store
    await village_agents.create_agent(store, village.fleet.services.passwords, "admin", AGENT,
                                      SITE, AGENT_CARD["id_number"], PIN)
    core = await village.kiosk(KIOSK, site=SITE, region="zhongshan")
    view, session = core.ctx.view, core.session
    monkeypatch.setattr(village_agents, "SESSION_S", 2.0)  # the fleet's session length
    code = await village_agents.issue_code(store, "ops", AGENT)
    async with SimulatorClient(village.endpoints["control_url"]) as sim:
        session.agent_entry()
        await _screen(view, "agent_sign_in")
        await sim.scan("VA1:" + "x" * 30)  # not a code the fleet issued
        await _view_says(view, entry_error_key="agent.refused.unknown")
        await sim.scan(code.code)
        await _screen(view, "menu")
        assert view.agent_id == AGENT
        signed_in = time.monotonic()
        await _screen(view, "attract", 10)  # the session ran out by itself
        assert view.agent_id == "" and time.monotonic() - signed_in >= 1.5
        # The same code again: used.
        session.agent_entry()
        await sim.scan(code.code)
        await _view_says(view, entry_error_key="agent.refused.code_used")
        session.cancel()
        await _screen(view, "attract")
