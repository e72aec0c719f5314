"""Signalling through the real fleet server: the kiosk's signed socket, the agent role, one agent
per call, relayed offers and answers, a dropped link resumed or ended, the site's policy; and on
PostgreSQL, a kiosk and an agent held by two server processes."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from fleet.call_config import CallConfig
from fleet.call_store import CallPolicy
from fleet.signalling import CALL_HUB
from fleet.store import Role
from kiosk.videocall.signalling import CallLinkError, SignallingLink
from tests.fleet.fleetkit import Fleet
from wire.fleet import API_PREFIX
from wire.videocall import (
    AGENT_CALLS_PATH,
    KIOSK_CALL_PATH,
    CallMessage,
    ItemRef,
    MessageType,
    new_call_id,
)

ITEMS = (ItemRef("BILL-0001", {"zh": "水费缴纳", "en": "Water bill"}),)


async def allow_calls(fleet: Fleet, site: str = "hall-1", recording: bool = False) -> None:
    await fleet.runner.app[CALL_HUB].store.set_policy(  # type: ignore[union-attr]
        site, CallPolicy(True, recording), "test", time.time())


async def kiosk_link(fleet: Fleet, kiosk_id: str = "VIL-01", site: str = "hall-1"):
    kiosk = fleet.kiosks.get(kiosk_id) or await fleet.enroll_kiosk(kiosk_id, site=site)
    return SignallingLink(fleet.url, kiosk.kiosk_id, kiosk.private_pem)


async def agent_socket(fleet: Fleet, name: str, url: str | None = None, role=Role.AGENT):
    session = await fleet.operator(name, role)
    ws = await session.ws_connect((url or fleet.url) + AGENT_CALLS_PATH)
    return session, ws


async def next_of(ws, kind: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.monotonic()))
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == kind:
            return data


async def next_of_any(ws, kinds: set[str], timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.monotonic()))
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] in kinds:
            return data


async def kiosk_next(link: SignallingLink, kind: MessageType, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        m = await asyncio.wait_for(link.receive(), max(0.01, deadline - time.monotonic()))
        if m.type is kind:
            return m


async def test_a_call_is_rung_taken_by_one_agent_and_relayed_both_ways(fleet):
    await allow_calls(fleet)
    link = await kiosk_link(fleet)
    s1, agent1 = await agent_socket(fleet, "wang")
    s2, agent2 = await agent_socket(fleet, "li")
    try:
        assert (await next_of(agent1, "calls"))["calls"] == []
        call_id = new_call_id()
        await link.connect()
        await link.send(CallMessage(MessageType.RING, call_id, items=ITEMS))
        assert (await kiosk_next(link, MessageType.RINGING)).call_id == call_id
        listed = await next_of(agent1, "calls")
        assert [c["call_id"] for c in listed["calls"]] == [call_id]
        assert listed["calls"][0]["kiosk_id"] == "VIL-01"
        # Both agents answer at once: one gets the call (either: two take requests race through
        # the store), the other is told it is taken.
        await agent1.send_json({"v": 1, "type": "take", "call_id": call_id})
        await agent2.send_json({"v": 1, "type": "take", "call_id": call_id})
        first = await next_of_any(agent1, {"taken", "error"})
        second = await next_of_any(agent2, {"taken", "error"})
        assert {first["type"], second["type"]} == {"taken", "error"}
        (taken, name, agent), refused = ((first, "wang", agent1), second) \
            if first["type"] == "taken" else ((second, "li", agent2), first)
        assert [i["code"] for i in taken["items"]] == ["BILL-0001"]
        assert refused["reason"] == "taken"
        answered = await kiosk_next(link, MessageType.ANSWERED)
        assert answered.agent == name
        agent1 = agent
        await link.send(CallMessage(MessageType.OFFER, call_id, "v=0 offer", tracks={"camera": "0"}))
        offer = await next_of(agent1, "offer")
        assert offer["sdp"] == "v=0 offer" and offer["tracks"] == {"camera": "0"}
        await agent1.send_json({"v": 1, "type": "answer", "call_id": call_id, "sdp": "v=0 answer"})
        assert (await kiosk_next(link, MessageType.ANSWER)).sdp == "v=0 answer"
        # The agent guides to an item of the kiosk's menu; one it does not offer is refused.
        await agent1.send_json({"v": 1, "type": "start_item", "call_id": call_id,
                                "item_code": "BILL-0001"})
        assert (await kiosk_next(link, MessageType.START_ITEM)).item_code == "BILL-0001"
        await agent1.send_json({"v": 1, "type": "guide", "call_id": call_id,
                                "item_code": "NOT-ON-MENU"})
        assert (await next_of(agent1, "error"))["reason"] == "unknown_item"
        # The citizen hangs up: the agent hears, the call is ended once, and audited.
        await link.send(CallMessage(MessageType.HANGUP, call_id, reason="citizen"))
        assert (await next_of(agent1, "hangup"))["reason"] == "citizen"
        row = await fleet.runner.app[CALL_HUB].store.call(call_id)  # type: ignore[union-attr]
        assert row.state.value == "ended"
        # The end is audited after both sides were told (the hub's on_ended), so it may land a
        # moment after the agent hears the hang-up.
        wanted = {"call_ring", "call_answer", "call_start_item", "call_end"}
        deadline = time.monotonic() + 15
        while True:
            actions = {a["action"] for a in await fleet.store.list_audit()}
            if wanted <= actions or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert wanted <= actions
    finally:
        await link.close()
        await s1.close()
        await s2.close()


async def test_only_agents_answer_and_only_signed_kiosks_call(fleet):
    await allow_calls(fleet)
    for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
        session = await fleet.operator(f"user-{role.value}", role)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(fleet.url + AGENT_CALLS_PATH)
        assert refused.value.status == 403
        await session.close()
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(fleet.url + AGENT_CALLS_PATH)
        assert refused.value.status == 401
        # Unsigned, or signed by another kiosk's key: no socket.
        path = KIOSK_CALL_PATH.format(kiosk_id="VIL-01")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(fleet.url + path)
        assert refused.value.status == 401
    await fleet.enroll_kiosk("VIL-01")
    other = await fleet.enroll_kiosk("VIL-02")
    impostor = SignallingLink(fleet.url, "VIL-01", other.private_pem)
    with pytest.raises(CallLinkError):
        await impostor.connect()
    await impostor.close()


async def test_a_site_without_calls_refuses_the_ring_and_says_so(fleet):
    link = await kiosk_link(fleet, site="village-3")
    try:
        assert await link.policy() == {"calls_allowed": False, "recording": False}
        await link.connect()
        await link.send(CallMessage(MessageType.RING, new_call_id(), items=ITEMS))
        assert (await kiosk_next(link, MessageType.HANGUP)).reason == "not_allowed"
        await allow_calls(fleet, "village-3", recording=True)
        assert await link.policy() == {"calls_allowed": True, "recording": True}
    finally:
        await link.close()


async def test_a_dropped_kiosk_link_resumes_within_the_grace_and_ends_after_it(backend, tmp_path,
                                                                              request):
    from tests.fleet.fleetkit import config_for

    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    config = await config_for(backend, tmp_path, pg)
    fleet = Fleet(replace(config, calls=CallConfig(grace_s=1.5)))
    await fleet.start()
    fleet.runner.app[CALL_HUB].poll_s = 0.2  # type: ignore[union-attr]
    try:
        await allow_calls(fleet)
        link = await kiosk_link(fleet)
        session, agent = await agent_socket(fleet, "wang")
        call_id = new_call_id()
        await link.connect()
        await link.send(CallMessage(MessageType.RING, call_id, items=ITEMS))
        await kiosk_next(link, MessageType.RINGING)
        await agent.send_json({"v": 1, "type": "take", "call_id": call_id})
        seq = (await kiosk_next(link, MessageType.ANSWERED)).seq
        await link.close_socket()                      # the village's link drops
        await next_of(agent, "peer_away")
        await agent.send_json({"v": 1, "type": "answer", "call_id": call_id, "sdp": "late"})
        await link.connect()                           # and comes back in time
        await link.send(CallMessage(MessageType.RESUME, call_id, seq=seq))
        assert (await kiosk_next(link, MessageType.ANSWER)).sdp == "late"  # nothing lost
        await next_of(agent, "peer_back")
        await link.close_socket()                      # drops again, for good
        assert (await next_of(agent, "hangup", timeout=6))["reason"] == "link_lost"
        await link.connect()
        await link.send(CallMessage(MessageType.RESUME, call_id, seq=seq))
        assert (await kiosk_next(link, MessageType.HANGUP)).reason == "link_lost"
        # The same agent, on the same page, answers the kiosk's next call.
        again = new_call_id()
        await link.connect()
        await link.send(CallMessage(MessageType.RING, again, items=ITEMS))
        await kiosk_next(link, MessageType.RINGING)
        await agent.send_json({"v": 1, "type": "take", "call_id": again})
        assert (await next_of(agent, "taken"))["call_id"] == again
        await link.close()
        await session.close()
    finally:
        await fleet.close()


async def test_kiosk_and_agent_on_two_server_processes_meet_through_postgresql(pg_dsn, tmp_path):
    """Behind HAProxy the kiosk's socket and the agent's may land on different processes."""
    from tests.fleet.fleetkit import config_for

    config = await config_for("postgresql", tmp_path, pg_dsn)
    one, two = Fleet(config), Fleet(replace(config, data_dir=Path(tmp_path / "two")))
    await one.start()
    await two.start()
    for f in (one, two):
        f.runner.app[CALL_HUB].poll_s = 30.0  # type: ignore[union-attr] - only NOTIFY may wake
    try:
        await allow_calls(one)
        link = await kiosk_link(one)
        session, agent = await agent_socket(two, "wang")
        await next_of(agent, "calls")
        call_id = new_call_id()
        await link.connect()
        await link.send(CallMessage(MessageType.RING, call_id, items=ITEMS))
        listed = await next_of(agent, "calls", timeout=3)    # process two hears of it
        assert [c["call_id"] for c in listed["calls"]] == [call_id]
        await agent.send_json({"v": 1, "type": "take", "call_id": call_id})
        await kiosk_next(link, MessageType.ANSWERED, timeout=3)
        await link.send(CallMessage(MessageType.OFFER, call_id, "offer-sdp"))
        assert (await next_of(agent, "offer", timeout=3))["sdp"] == "offer-sdp"
        await agent.send_json({"v": 1, "type": "hangup", "call_id": call_id})
        assert (await kiosk_next(link, MessageType.HANGUP, timeout=3)).reason == "agent"
        await link.close()
        await session.close()
    finally:
        await one.close()
        await two.close()


def test_paths_are_under_the_api_prefix():
    assert AGENT_CALLS_PATH.startswith(API_PREFIX) and KIOSK_CALL_PATH.startswith(API_PREFIX)


def test_the_servers_ice_settings_come_from_its_command_line(tmp_path):
    from fleet.call_config import turn_credentials
    from fleet.cli import _config, _parser

    secret = tmp_path / "turn.secret"
    secret.write_text("s3cret\n")
    args = _parser().parse_args(["serve", "--data", str(tmp_path), "--ice-url",
                                 "stun:hall.example:3478", "--ice-url", "turn:hall.example:3478",
                                 "--turn-secret-file", str(secret)])
    calls = _config(args).calls
    servers = calls.ice_servers("VIL-01", now=1000.0)
    assert [s.urls for s in servers] == [("stun:hall.example:3478",), ("turn:hall.example:3478",)]
    # coturn's REST form: the user is "<expiry>:<who>", the password HMAC-SHA1 of it.
    assert servers[1].username == f"{int(1000 + calls.turn_ttl_s)}:VIL-01"
    assert (servers[1].username, servers[1].credential) == turn_credentials(
        "s3cret", "VIL-01", 1000 + calls.turn_ttl_s)
