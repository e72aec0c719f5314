"""The throttling link in front of the simulated backends: real sockets, real HTTP through it.

Times are asserted only from below (a loaded machine makes a link slower, never faster)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time

import aiohttp
import pytest
from aiohttp import web

from simulator.backends import Backends
from simulator.throttled_link import LinkShape, ThrottledLink, behind_link

# What the catalog endpoint publishes here: 48 KB that no compression shrinks much.
PAYLOAD = json.dumps({"pad": base64.b64encode(random.Random(14).randbytes(36_000)).decode()})


@pytest.fixture
async def link():
    backends = Backends()
    backends.catalog.published = PAYLOAD.encode()
    runner = web.AppRunner(backends.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    link = ThrottledLink("127.0.0.1", runner.addresses[0][1])
    await link.start()
    try:
        yield link
    finally:
        await link.stop()
        await runner.cleanup()


async def _get(url: str, timeout: float = 60.0) -> bytes:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.get(url) as resp:
            assert resp.status == 200
            return await resp.read()


async def test_bandwidth_limits_a_download_and_it_arrives_whole(link):
    link.configure({"bandwidth_bps": 256_000})
    started = time.monotonic()
    body = await _get(link.url + "/catalog/v1/items")
    took = time.monotonic() - started
    assert body == PAYLOAD.encode()
    assert took >= link.counters.bytes_down * 8 / 256_000 * 0.95
    assert link.counters.bytes_down >= len(body) * 0.7 and link.counters.connections == 1


async def test_connections_share_the_line(link):
    link.configure({"bandwidth_bps": 200_000})
    started = time.monotonic()
    await asyncio.gather(*(_get(link.url + "/catalog/v1/items") for _ in range(2)))
    took = time.monotonic() - started
    assert link.counters.connections == 2
    assert took >= link.counters.bytes_down * 8 / 200_000 * 0.95


async def test_latency_delays_every_round_trip(link):
    link.configure({"latency_s": 0.3})
    started = time.monotonic()
    assert await _get(link.url + "/health") == b'{"ok": true}'
    # connect (SYN is not ours to delay), request one way, answer the other way
    assert time.monotonic() - started >= 0.6


async def test_lost_segments_come_late_but_in_order(link):
    link.configure({"loss": 0.3, "bandwidth_bps": 2_000_000})
    body = await _get(link.url + "/catalog/v1/items")
    assert body == PAYLOAD.encode()
    assert link.counters.segments_lost > 0


async def test_an_outage_refuses_and_cuts_then_ends_by_itself(link):
    link.configure({"bandwidth_bps": 64_000})
    slow = asyncio.create_task(_get(link.url + "/catalog/v1/items"))
    await asyncio.sleep(0.5)
    link.configure({"down_for_s": 1.5})
    with pytest.raises(aiohttp.ClientError):
        await slow  # the live download was cut
    with pytest.raises(aiohttp.ClientError):
        await _get(link.url + "/health")
    assert link.counters.cut >= 1 and link.counters.refused >= 1
    await asyncio.sleep(1.7)
    assert not link.shape.down
    link.configure({"bandwidth_bps": 0})
    assert await _get(link.url + "/health") == b'{"ok": true}'


async def test_down_and_up_by_command(link):
    link.configure({"down": True})
    await asyncio.sleep(0.1)
    with pytest.raises(aiohttp.ClientError):
        await _get(link.url + "/health")
    link.configure({"down": False})
    assert await _get(link.url + "/health") == b'{"ok": true}'


@pytest.mark.parametrize("bad", [{"loss": 1.5}, {"bandwidth_bps": -1}, {"speed": 3},
                                 {"latency_s": "slow"}])
def test_a_bad_setting_is_refused_and_changes_nothing(bad):
    shape = LinkShape(bandwidth_bps=64_000)
    with pytest.raises(ValueError):
        shape.update(bad)
    assert shape == LinkShape(bandwidth_bps=64_000)


def test_behind_link_moves_only_the_backends():
    endpoints = {"backends_url": "http://127.0.0.1:1", "catalog_url": "http://127.0.0.1:1/c/v1",
                 "evaluation_url": "http://127.0.0.1:1/evaluation/v1",
                 "face_camera_url": "http://127.0.0.1:2/face"}
    moved = behind_link(endpoints, "http://127.0.0.1:9")
    assert moved["catalog_url"] == "http://127.0.0.1:9/c/v1"
    assert moved["evaluation_url"] == "http://127.0.0.1:9/evaluation/v1"
    assert moved["face_camera_url"] == endpoints["face_camera_url"]
    only = behind_link(endpoints, "http://127.0.0.1:9", ("catalog_url",))
    assert only["evaluation_url"] == endpoints["evaluation_url"]
