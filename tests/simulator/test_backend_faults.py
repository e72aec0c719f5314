"""Every fault rule of the simulated backends has an effect a client can see, on the call it is
aimed at only; payment notifications reach the relay signed, duplicated when told to."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from simulator.backend_faults import FaultKind, FaultRule
from simulator.backends import Backends
from simulator.payment_notifications import SIGNATURE_HEADER

CODE = "134567890123456789"
MICROPAY = "POST /pay/v1/micropay"


@pytest.fixture
async def served():
    backends = Backends()
    runner = web.AppRunner(backends.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    backends.serving_at(base)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as http:
        yield backends, base, http
    await runner.cleanup()


async def micropay(http, base, number="M1"):
    body = {"out_trade_no": number, "amount_fen": 100, "auth_code": CODE}
    async with http.post(f"{base}/pay/v1/micropay", json=body) as resp:
        return resp.status, await resp.json()


async def settle(backends):
    while backends.in_flight:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("kind,status,taken", [
    (FaultKind.ERROR, 503, False),
    (FaultKind.LOST_BEFORE, None, False),
    (FaultKind.LOST_AFTER, None, True),
    (FaultKind.TIMEOUT, None, True),
    (FaultKind.SLOW, 200, True),
    (FaultKind.DUPLICATE, 200, True),
])
async def test_each_fault_kind_does_what_it_says(served, kind, status, taken):
    backends, base, http = served
    backends.faults["payment"].rules = [FaultRule(kind, MICROPAY, delay_s=(
        1.5 if kind is FaultKind.TIMEOUT else 0.2))]
    try:
        answer = (await micropay(http, base))[0]
    except (aiohttp.ClientError, TimeoutError):
        answer = None
    assert answer == status
    await settle(backends)                       # a timed-out call lands afterwards
    order = backends.gateway.orders.get("M1")
    assert (order is not None and order.payments == 1) is taken
    assert [c["fault"] for c in backends.calls.calls if c["route"] == MICROPAY] == [kind.value]


async def test_a_rule_hits_only_its_route_after_skipping_and_for_its_count(served):
    backends, base, http = served
    backends.faults["payment"].rules = [FaultRule(FaultKind.ERROR, MICROPAY, skip=1, times=2)]
    async with http.get(f"{base}/pay/v1/orders/NONE") as resp:   # another route: untouched
        assert resp.status == 404
    statuses = [(await micropay(http, base, f"M{i}"))[0] for i in range(4)]
    assert statuses == [200, 503, 503, 200]


async def test_notifications_are_signed_relayed_and_duplicated_when_told(served):
    backends, base, http = served
    backends.notifier.update({"duplicate": True})
    await micropay(http, base)
    await settle(backends)
    async with http.get(f"{base}/notify/v1/orders/M1") as resp:
        notes = (await resp.json())["notifications"]
    assert len(notes) == 2 and {n["status"] for n in notes} == {"SUCCESS"}
    assert notes[0]["notify_id"] == notes[1]["notify_id"]        # the same one, twice
    async with http.post(f"{base}/notify/v1/payments", data=b'{"out_trade_no": "M1"}',
                         headers={SIGNATURE_HEADER: "forged"}) as resp:
        assert resp.status == 401
    assert backends.relay.refused == 1


async def test_a_reset_empties_the_ledgers_and_the_faults(served):
    backends, base, http = served
    backends.faults["payment"].rules = [FaultRule(FaultKind.ERROR, MICROPAY, times=5)]
    await micropay(http, base)
    backends.reset()
    assert backends.calls.calls == [] and backends.faults["payment"].rules == []
    assert (await micropay(http, base))[0] == 200 and list(backends.gateway.orders) == ["M1"]
