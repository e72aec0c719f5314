"""Catalog sync by ETag / If-Modified-Since through the throttling link, and the last good copy
on the kiosk's disk when the link is down."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web

from kiosk.app import build_session, build_transactions
from kiosk.backends import PaymentClient, ServiceClient
from kiosk.config import load_config, simulator_overrides
from kiosk.flow import Devices, FlowContext
from kiosk.viewmodel import SessionView
from simulator.backends import Backends, reference_catalog
from simulator.throttled_link import ThrottledLink, behind_link
from tests.reports_kit import listen


class Village:
    """The simulated backends behind a link, and kiosks (sessions) built on one state folder."""

    def __init__(self, backends: Backends, link: ThrottledLink, endpoints: dict, state) -> None:
        self.backends, self.link, self.endpoints, self.state = backends, link, endpoints, state
        self.sessions: list = []

    def session(self):
        overrides = simulator_overrides(self.endpoints)
        overrides["state_dir"] = str(self.state)
        overrides["backends"]["deadline_s"] = 3.0
        config = load_config(None, overrides)
        b = config.backends
        for before in self.sessions:
            before.ctx.transactions.close()   # a restart: the kiosk before it let go of its journal
        payment = PaymentClient(b.payment_url, 3.0)
        services = {n: ServiceClient(u, 3.0) for n, u in b.services().items()}
        ctx = FlowContext(config=config, view=SessionView(),
                          transactions=build_transactions(config, payment, services),
                          devices=Devices(), payment=payment, services=services,
                          subject_key=b"k" * 32)
        session = build_session(ctx)
        self.sessions.append(session)
        return session


@pytest.fixture
async def village(tmp_path):
    backends = Backends()
    runner = web.AppRunner(backends.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    link = ThrottledLink("127.0.0.1", runner.addresses[0][1])
    await link.start()
    endpoints = {"card_reader": "none", "face_camera_url": "", "printer": {"host": "", "port": 0},
                 "backends_url": base,
                 **{f"{name}_url": f"{base}{prefix}" for name, prefix in (
                     ("payment", "/pay/v1"), ("catalog", "/catalog/v1"),
                     ("exit_entry", "/exit-entry/v1"), ("utility", "/utility/v1"),
                     ("certificates", "/certificates/v1"), ("queue", "/queue/v1"))}}
    v = Village(backends, link, behind_link(endpoints, link.url), tmp_path / "kiosk")
    try:
        yield v
    finally:
        for session in v.sessions:
            await session.stop()
            await session.catalog_client.close()
            session.ctx.transactions.close()
        await link.stop()
        await runner.cleanup()


async def test_an_unchanged_catalog_costs_a_304_not_a_download(village):
    session = village.session()
    await session.refresh_catalog()
    first = village.link.counters.bytes_down
    assert session.catalog is not None and village.backends.catalog.not_modified == 0
    await session.refresh_catalog()
    assert village.backends.catalog.not_modified == 1
    assert village.link.counters.bytes_down - first < 1000
    assert session.network_ok and session.catalog.version == village.backends.catalog.version()


async def test_the_catalog_goes_gzipped_over_the_link(village):
    session = village.session()
    await session.refresh_catalog()
    assert village.link.counters.bytes_down < len(reference_catalog()) / 4


async def test_a_restarted_kiosk_asks_with_what_its_cache_holds(village):
    await village.session().refresh_catalog()
    again = village.session()
    await again.refresh_catalog()
    assert village.backends.catalog.not_modified == 1
    assert again.catalog is not None


async def test_a_newly_published_catalog_is_fetched_and_replaces_the_cache(village):
    session = village.session()
    await session.refresh_catalog()
    catalog = json.loads(reference_catalog())
    catalog["version"] = "2099-01-01.1"
    village.backends.catalog.published = json.dumps(catalog).encode()
    await session.refresh_catalog()
    assert session.catalog.version == "2099-01-01.1"
    assert village.backends.catalog.not_modified == 0
    restarted = village.session()
    assert restarted.catalog.version == "2099-01-01.1"
    await restarted.refresh_catalog()
    assert village.backends.catalog.not_modified == 1


async def test_a_refused_catalog_is_downloaded_once_and_reported_once(village):
    session = village.session()
    problems = listen(session.ctx).problems
    await session.refresh_catalog()
    good = session.catalog.version
    broken = json.loads(reference_catalog())
    broken["items"][0]["steps"] = [{"step": "no_such_step"}]
    village.backends.catalog.published = json.dumps(broken).encode()
    await session.refresh_catalog()
    before = village.link.counters.bytes_down
    await session.refresh_catalog()
    assert village.link.counters.bytes_down - before < 1000
    assert problems == [("catalog_refused", "catalog_unknown_step")]
    assert session.catalog.version == good
    fixed = json.loads(reference_catalog())
    fixed["version"] = "2099-02-02.1"
    village.backends.catalog.published = json.dumps(fixed).encode()
    await session.refresh_catalog()
    assert session.catalog.version == "2099-02-02.1"


async def test_offline_a_restarted_kiosk_serves_its_last_good_copy(village):
    await village.session().refresh_catalog()
    village.link.configure({"down": True})
    restarted = village.session()
    await restarted.refresh_catalog()
    assert not restarted.network_ok
    assert restarted.catalog.version == village.backends.catalog.version()
    assert restarted.ctx.view.services  # the menu is built from the cached copy


async def test_the_publisher_answers_if_modified_since_without_an_etag(village):
    url = village.endpoints["catalog_url"] + "/items"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            last_modified = resp.headers["Last-Modified"]
        async with http.get(url, headers={"If-Modified-Since": last_modified}) as resp:
            assert resp.status == 304
        village.backends.catalog.published = reference_catalog() + b" "
        async with http.get(url, headers={"If-Modified-Since": last_modified}) as resp:
            assert resp.status == 200 and await resp.read() == reference_catalog() + b" "


async def test_the_link_coming_back_clears_the_catalog_problem_on_a_304(village):
    session = village.session()
    await session.refresh_catalog()
    village.link.configure({"down": True})
    await session.refresh_catalog()
    assert session.catalog_problem == "catalog_unreachable"
    village.link.configure({"down": False})
    await session.refresh_catalog()
    assert village.backends.catalog.not_modified == 1
    assert session.catalog_problem is None and session.network_ok
