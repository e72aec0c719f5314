"""A call through two `kiosk-fleet serve` processes on one PostgreSQL, the kiosk's signed socket
through Debian's HAProxy with the shipped configuration (fleet.devcluster): the agent's socket
is held by each worker in turn, so at least one call has its two ends in different processes
(they meet in the database, woken by NOTIFY)."""

from __future__ import annotations

import time
from dataclasses import replace

import aiohttp
import pytest

from fleet.app import open_store
from fleet.auth import hash_password, new_secret_token
from fleet.call_store import CallPolicy, CallStore
from fleet.devcluster import HAPROXY, fleet_workers, haproxy_in_front
from fleet.store import Role
from kiosk.fleet_enrollment import enroll, generate_device_key
from kiosk.videocall.signalling import SignallingLink
from tests.fleet.fleetkit import PASSWORD, fresh_postgres_database, sqlite_config
from tests.videocall.test_signalling import ITEMS, kiosk_next, next_of
from wire.fleet import API_PREFIX
from wire.videocall import AGENT_CALLS_PATH, CallMessage, MessageType, new_call_id

pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists(HAPROXY), reason="haproxy is not installed (setup.sh)")


async def _agent(worker: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(f"{worker}{API_PREFIX}/session",
                            json={"username": "wang", "password": PASSWORD}) as r:
        assert r.status == 200, await r.text()
    return session, await session.ws_connect(worker + AGENT_CALLS_PATH)


async def _one_call(link: SignallingLink, agent_at: str) -> None:
    session, agent = await _agent(agent_at)
    try:
        await next_of(agent, "calls")
        await link.connect()                 # one socket per call, as kiosk.videocall's desk
        call_id = new_call_id()
        await link.send(CallMessage(MessageType.RING, call_id, items=ITEMS))
        listed = await next_of(agent, "calls", timeout=5)
        assert [c["call_id"] for c in listed["calls"]] == [call_id]
        await agent.send_json({"v": 1, "type": "take", "call_id": call_id})
        await kiosk_next(link, MessageType.ANSWERED, timeout=5)
        await link.send(CallMessage(MessageType.OFFER, call_id, "offer-sdp"))
        assert (await next_of(agent, "offer", timeout=5))["sdp"] == "offer-sdp"
        await agent.send_json({"v": 1, "type": "answer", "call_id": call_id, "sdp": "answer-sdp"})
        assert (await kiosk_next(link, MessageType.ANSWER, timeout=5)).sdp == "answer-sdp"
        await agent.send_json({"v": 1, "type": "hangup", "call_id": call_id})
        assert (await kiosk_next(link, MessageType.HANGUP, timeout=5)).reason == "agent"
    finally:
        await agent.close()
        await session.close()


async def test_a_call_through_haproxy_meets_its_agent_on_either_worker(pg_dsn, tmp_path):
    dsn = await fresh_postgres_database(pg_dsn)
    config = replace(sqlite_config(tmp_path), database_url=dsn)
    with fleet_workers(dsn, tmp_path / "data", 2) as workers:
        w1, w2 = (f"http://127.0.0.1:{w.port}" for w in workers)
        with haproxy_in_front([w.port for w in workers]) as lb:
            store = await open_store(config)
            try:
                await store.create_user("wang", hash_password(PASSWORD), Role.AGENT)
                token, hashed = new_secret_token()
                await store.create_enrollment_token(hashed, "test", 3600)
                private_pem, _ = generate_device_key()
                await enroll(lb, token, private_pem, "VIL-09", "village-9", "east")
                await CallStore(store.db).set_policy("village-9", CallPolicy(True, False),
                                                     "test", time.time())
            finally:
                await store.close()
            link = SignallingLink(lb, "VIL-09", private_pem)
            try:
                for agent_at in (w1, w2):
                    await _one_call(link, agent_at)
            finally:
                await link.close()
