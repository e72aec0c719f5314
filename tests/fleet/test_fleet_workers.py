"""Two `kiosk-fleet serve` processes behind Debian's HAProxy (the shipped configuration) on a
throwaway PostgreSQL: what must hold when a fleet server is several processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet.app import open_store
from fleet.auth import hash_password, new_secret_token
from fleet.devcluster import HAPROXY, fleet_workers, haproxy_in_front
from fleet.store import Role
from kiosk.fleet_enrollment import enroll, generate_device_key
from tests.fleet.fleetkit import PASSWORD, Kiosk, fresh_postgres_database, sqlite_config
from wire.fleet import API_PREFIX as API
from wire.fleet import sign_request

pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists(HAPROXY), reason="haproxy is not installed (setup.sh)"
)


def _heartbeat(kiosk: Kiosk, interval_s: float = 15.0, **fields) -> tuple[str, bytes]:
    kiosk.seq += 1
    body = {
        "wire_version": 2,
        "kiosk_id": kiosk.kiosk_id,
        "seq": kiosk.seq,
        "sent_at": time.time(),
        "interval_s": interval_s,
        **fields,
    }
    return f"{API}/kiosks/{kiosk.kiosk_id}/heartbeat", json.dumps(body).encode()


async def _post_signed(http, url: str, kiosk: Kiosk, path: str, body: bytes, headers=None):
    headers = headers or sign_request(kiosk.private_pem, "POST", path, body, time.time())
    async with http.post(url + path, data=body, headers=headers) as r:
        return r.status, await r.json()


async def _sign_in(url: str, username: str, password: str = PASSWORD) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(
        f"{url}{API}/session", json={"username": username, "password": password}
    ) as r:
        assert r.status == 200, await r.text()
    return session


async def test_two_workers_behind_haproxy_share_one_fleet(pg_dsn, tmp_path):
    dsn = await fresh_postgres_database(pg_dsn)
    config = replace(sqlite_config(tmp_path), database_url=dsn)
    # Both start on the empty database at once: the migrations' lock must hold.
    with fleet_workers(dsn, tmp_path / "data", 2, ["--sweep-interval", "0.5"]) as workers:
        w1, w2 = (f"http://127.0.0.1:{w.port}" for w in workers)
        with haproxy_in_front([w.port for w in workers]) as lb:
            store = await open_store(config)
            http = aiohttp.ClientSession()
            try:
                await _checks(store, http, lb, w1, w2)
            finally:
                await http.close()
                await store.close()


async def _checks(store, http, lb: str, w1: str, w2: str) -> None:
    await store.create_user("ada", hash_password(PASSWORD), Role.ADMIN)
    kiosks = []
    for name in ("K-1", "K-2"):
        token, hashed = new_secret_token()
        await store.create_enrollment_token(hashed, "test", 3600)
        private_pem, public_pem = generate_device_key()
        await enroll(lb, token, private_pem, name, "hall", "east")
        kiosks.append(Kiosk(name, private_pem, public_pem))
    k1, k2 = kiosks

    # A signed heartbeat taken by one worker is a replay at the other.
    path, body = _heartbeat(k1, interval_s=1.0)
    headers = sign_request(k1.private_pem, "POST", path, body, time.time())
    assert (await _post_signed(http, w1, k1, path, body, headers))[0] == 200
    status, reply = await _post_signed(http, w2, k1, path, body, headers)
    assert (status, reply["error"]) == (401, "replayed")

    # A session made at one worker is good at the other.
    admin = await _sign_in(w1, "ada")
    try:
        async with admin.get(f"{w2}{API}/session") as r:
            assert r.status == 200 and (await r.json())["username"] == "ada"

        # A command queued at one worker is delivered by the other.
        async with admin.post(f"{w1}{API}/kiosks/K-2/commands", json={"kind": "restart_app"}) as r:
            assert r.status == 201
            command_id = (await r.json())["command_id"]
        path, body = _heartbeat(k2)
        status, reply = await _post_signed(http, w2, k2, path, body)
        assert status == 200 and [c["command_id"] for c in reply["commands"]] == [command_id]

        # A key revoked through one worker is refused by the other, which had it cached.
        path, body = _heartbeat(k2)
        assert (await _post_signed(http, w2, k2, path, body))[0] == 200
        async with admin.post(f"{w1}{API}/kiosks/K-2/revoke-key") as r:
            assert r.status == 200
        path, body = _heartbeat(k2)
        status, reply = await _post_signed(http, w2, k2, path, body)
        assert (status, reply["error"]) == (401, "key_revoked")

        # K-1 goes silent (1 s interval): both workers sweep, one offline alert is raised.
        await asyncio.sleep(6.0)
        alerts = [a for a in await store.list_alerts(open_only=False) if a["kind"] == "offline"]
        assert [a["kiosk_id"] for a in alerts] == ["K-1"]

        # Heartbeats taken by both workers add up in /metrics, scraped through the balancer.
        for i in range(6):
            path, body = _heartbeat(k1, interval_s=1.0)
            assert (await _post_signed(http, (w1, w2)[i % 2], k1, path, body))[0] == 200
        await asyncio.sleep(1.5)  # every worker flushes its counts (--sweep-interval 0.5)
        for _ in range(2):  # whichever worker answers, the same figure
            async with admin.get(f"{lb}/metrics") as r:
                assert r.status == 200
                families = {f.name: f for f in text_string_to_metric_families(await r.text())}
            (sample,) = families["fleet_server_heartbeats_received"].samples
            assert sample.value == 1 + 2 + 6  # K-1's first, K-2's two before the revocation
    finally:
        await admin.close()

    # Wrong passwords through the balancer land on both workers: still five, not ten.
    statuses = []
    for _ in range(7):
        async with http.post(
            f"{lb}{API}/session", json={"username": "ada", "password": "wrong"}
        ) as r:
            statuses.append(r.status)
    assert statuses == [401] * 5 + [429] * 2
    async with http.post(f"{lb}{API}/session", json={"username": "ada", "password": PASSWORD}) as r:
        assert r.status == 429


def _migrate_cli(dsn: str, data: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "create-token", "--data", data]
        + ["--database-url", dsn],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_processes_starting_together_on_an_empty_database_all_come_up(pg_dsn, tmp_path):
    for trial in range(6):
        dsn = await fresh_postgres_database(pg_dsn)
        procs = [_migrate_cli(dsn, str(tmp_path / f"d{trial}")) for _ in range(3)]
        outcomes = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]  # type: ignore[union-attr]
        assert [code for code, _ in outcomes] == [0, 0, 0], outcomes


async def test_a_retried_heartbeat_in_flight_with_the_first_counts_once(pg_dsn, tmp_path):
    """Two processes (two pools) take the same heartbeat at once, as after a kiosk's retry."""
    from wire.fleet import Heartbeat

    dsn = await fresh_postgres_database(pg_dsn)
    config = replace(sqlite_config(tmp_path), database_url=dsn)
    one, two = await open_store(config), await open_store(config)
    try:
        token, hashed = new_secret_token()
        await one.create_enrollment_token(hashed, "test", 3600)
        _, public_pem = generate_device_key()
        await one.enroll(hashed, "K-1", public_pem.decode(), "kid-1", "hall", "east", 15.0)
        for seq in range(1, 31):
            hb = Heartbeat(
                kiosk_id="K-1",
                seq=seq,
                sent_at=time.time(),
                interval_s=15.0,
                counters={"transactions_completed": seq},
            )
            await asyncio.gather(
                one.record_heartbeat(hb, time.time()), two.record_heartbeat(hb, time.time())
            )
        rows = await one.daily_counters("K-1", "2000-01-01")
        assert sum(r["value"] for r in rows) == 30
        assert (await one.get_kiosk("K-1"))["last_seq"] == 30
    finally:
        await one.close()
        await two.close()
