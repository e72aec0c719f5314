"""Village agents in the fleet, over HTTP on SQLite and PostgreSQL: kept by admins, sign-in
codes issued by operators, kiosks of the agent's own site asking by ID card and PIN or by code,
a lockout after five wrong PINs, and every sign-in in the audit log (never the ID number)."""

from __future__ import annotations

import time

from fleet import village_agents
from fleet.store import Role
from wire.agents import AgentCredential, AgentSignIn

API = "/api/v1"
AGENT_CARD = "440102198001010013"
PIN = "246810"


async def _admin_creates_agent(fleet, admin, agent_id="VA-0001", site="village-3"):
    async with admin.post(f"{fleet.url}{API}/village-agents", json={
            "agent_id": agent_id, "site": site, "id_number": AGENT_CARD, "pin": PIN}) as r:
        assert r.status == 201, await r.text()


async def _ask(fleet, kiosk, **body):
    payload = {"kiosk_id": kiosk.kiosk_id, **body}
    return await fleet.signed_post(kiosk, f"/kiosks/{kiosk.kiosk_id}/agent-sign-in", payload)


async def test_agents_are_kept_by_admins_and_listed_for_operators(fleet):
    admin = await fleet.operator("root", Role.ADMIN)
    operator = await fleet.operator("ops", Role.OPERATOR)
    viewer = await fleet.operator("eyes", Role.VIEWER)
    try:
        async with operator.post(f"{fleet.url}{API}/village-agents", json={
                "agent_id": "VA-9", "site": "v", "id_number": AGENT_CARD, "pin": PIN}) as r:
            assert r.status == 403
        async with admin.post(f"{fleet.url}{API}/village-agents", json={
                "agent_id": "VA-9", "site": "v", "id_number": AGENT_CARD, "pin": "12"}) as r:
            assert r.status == 400 and (await r.json())["reason"] == "pin"
        await _admin_creates_agent(fleet, admin)
        async with admin.post(f"{fleet.url}{API}/village-agents", json={
                "agent_id": "VA-0002", "site": "v", "id_number": AGENT_CARD, "pin": PIN}) as r:
            assert (r.status, (await r.json())["error"]) == (409, "id_card_in_use")
        async with viewer.get(f"{fleet.url}{API}/village-agents") as r:
            assert r.status == 403
        async with operator.get(f"{fleet.url}{API}/village-agents") as r:
            (listed,) = (await r.json())["agents"]
        assert listed["agent_id"] == "VA-0001" and listed["site"] == "village-3"
        assert not listed["disabled"] and listed["assisted"] == 0
        stored = await fleet.store.db.fetchrow("SELECT * FROM village_agents")
        assert AGENT_CARD not in str(stored) and PIN not in str(stored)
        assert stored["pin_hash"].startswith("scrypt$")
    finally:
        for session in (admin, operator, viewer):
            await session.close()


async def test_a_kiosk_of_the_agents_site_signs_them_in_by_id_card_and_pin(fleet):
    admin = await fleet.operator("root", Role.ADMIN)
    try:
        await _admin_creates_agent(fleet, admin)
        here = await fleet.enroll_kiosk("K-V3", site="village-3")
        elsewhere = await fleet.enroll_kiosk("K-V4", site="village-4")
        status, answer = await _ask(fleet, here, credential="id_card_pin",
                                    id_number=AGENT_CARD, pin=PIN)
        assert status == 200 and answer["agent_id"] == "VA-0001" and answer["session_s"] > 0
        status, answer = await _ask(fleet, elsewhere, credential="id_card_pin",
                                    id_number=AGENT_CARD, pin=PIN)
        assert (status, answer["error"]) == (403, "other_site")
        status, answer = await _ask(fleet, here, credential="id_card_pin",
                                    id_number="110101199003070038", pin=PIN)
        assert (status, answer["error"]) == (403, "unknown")
        # Five wrong PINs lock the agent; then even the right PIN is refused.
        for _ in range(village_agents.MAX_PIN_FAILURES):
            status, answer = await _ask(fleet, here, credential="id_card_pin",
                                        id_number=AGENT_CARD, pin="000000")
            assert (status, answer["error"]) == (403, "pin_wrong")
        status, answer = await _ask(fleet, here, credential="id_card_pin",
                                    id_number=AGENT_CARD, pin=PIN)
        assert (status, answer["error"]) == (423, "locked")
        async with admin.get(f"{fleet.url}{API}/audit") as r:
            audit = [a for a in (await r.json())["audit"] if a["action"] == "agent_sign_in"]
        outcomes = sorted(a["outcome"] for a in audit)
        assert outcomes == sorted(["ok", "other_site", "unknown", "locked"] + ["pin_wrong"] * 5)
        assert all(a["actor"] in ("kiosk:K-V3", "kiosk:K-V4") for a in audit)
        assert AGENT_CARD not in str(audit) and PIN not in str(audit)
    finally:
        await admin.close()


async def test_a_dashboard_sign_in_code_works_once_and_not_after_five_minutes(fleet):
    admin = await fleet.operator("root", Role.ADMIN)
    operator = await fleet.operator("ops", Role.OPERATOR)
    try:
        await _admin_creates_agent(fleet, admin)
        kiosk = await fleet.enroll_kiosk("K-V3", site="village-3")
        async with operator.post(f"{fleet.url}{API}/village-agents/VA-0001/sign-in-code") as r:
            assert r.status == 201
            issued = await r.json()
        assert issued["qr_svg"].startswith("<svg") and issued["code"] not in issued["qr_svg"]
        assert issued["expires_at"] - time.time() <= village_agents.CODE_LIFETIME_S
        status, answer = await _ask(fleet, kiosk, credential="sign_in_code", code=issued["code"])
        assert status == 200 and answer["agent_id"] == "VA-0001"
        status, answer = await _ask(fleet, kiosk, credential="sign_in_code", code=issued["code"])
        assert (status, answer["error"]) == (403, "code_used")
        late = await village_agents.issue_code(fleet.store, "ops", "VA-0001")
        request = AgentSignIn(kiosk.kiosk_id, AgentCredential.SIGN_IN_CODE, code=late.code)
        try:
            await village_agents.sign_in(fleet.store, fleet.services.passwords, request,
                                         late.expires_at + 1)
            raise AssertionError("an expired code signed an agent in")
        except village_agents.AgentSignInRefused as exc:
            assert exc.reason.value == "code_expired"
        # Disabled: no new code, and an earlier one no longer signs in.
        fresh = await village_agents.issue_code(fleet.store, "ops", "VA-0001")
        async with admin.post(f"{fleet.url}{API}/village-agents/VA-0001/disable") as r:
            assert (await r.json())["disabled"] is True
        async with operator.post(f"{fleet.url}{API}/village-agents/VA-0001/sign-in-code") as r:
            assert r.status == 404
        status, answer = await _ask(fleet, kiosk, credential="sign_in_code", code=fresh.code)
        assert (status, answer["error"]) == (403, "disabled")
    finally:
        await admin.close()
        await operator.close()
