"""Sign-in and exposure, tried as an attacker would: throttling that holds under concurrency and
is no cheap lock-out, password hashing off the loop, /metrics behind a token, keys and accounts
that can be revoked, honest audit rows, 400 for bad parameters, bound enrollment tokens, log
uploads only when asked, login CSRF, durable security state."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet.app import sweep_once
from fleet.auth import token_hash
from fleet.store import Role
from kiosk.fleet_enrollment import FleetError, enroll, generate_device_key
from tests.fleet.fleetkit import PASSWORD, Fleet, config_for
from wire.fleet import API_PREFIX as API

SCRAPE_TOKEN = "scrape-token-0123456789"


@pytest.fixture
async def proxied(backend, tmp_path, request):
    """A fleet server behind a trusted proxy: X-Forwarded-For names the caller."""
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    config = await config_for(
        backend,
        tmp_path,
        pg,
        trusted_proxies=("127.0.0.1",),
        metrics_token_hash=token_hash(SCRAPE_TOKEN),
    )
    f = Fleet(config)
    await f.start()
    yield f
    await f.close()


async def _sign_in(fleet: Fleet, username: str, password: str, address: str = "192.0.2.1"):
    async with fleet.http.post(
        f"{fleet.url}{API}/session",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    ) as r:
        return r.status, await r.json()


async def test_concurrent_wrong_passwords_cannot_outrun_the_lockout(proxied):
    await proxied.add_user("ada", Role.ADMIN)
    statuses: list[int] = []
    for _ in range(3):  # three bursts of 40 guesses at once, from one address
        burst = await asyncio.gather(*(_sign_in(proxied, "ada", f"guess-{i}") for i in range(40)))
        statuses += [s for s, _ in burst]
    assert statuses.count(401) == proxied.config.login_limits.per_user_address
    assert statuses.count(429) == 120 - statuses.count(401)
    status, reply = await _sign_in(proxied, "ada", PASSWORD)
    assert (status, reply["error"]) == (429, "locked_out")


async def test_naming_an_operator_does_not_lock_them_out_and_an_admin_can_unlock(proxied):
    await proxied.add_user("ada", Role.ADMIN)
    await proxied.add_user("olga", Role.OPERATOR)
    for _ in range(8):
        await _sign_in(proxied, "olga", "wrong", address="198.51.100.66")
    assert (await _sign_in(proxied, "olga", PASSWORD, address="198.51.100.66"))[0] == 429
    # Olga at her own desk is not locked out by someone else typing her name.
    assert (await _sign_in(proxied, "olga", PASSWORD, address="192.0.2.7"))[0] == 200
    admin = await proxied.operator("root", Role.ADMIN)
    try:
        async with admin.delete(f"{proxied.url}{API}/users/olga/lockout") as r:
            assert r.status == 200
    finally:
        await admin.close()
    assert (await _sign_in(proxied, "olga", PASSWORD, address="198.51.100.66"))[0] == 200
    audit = await proxied.store.list_audit()
    assert ("root", "unlock_user", "olga") in [
        (a["actor"], a["action"], a["target"]) for a in audit
    ]


async def test_guessing_from_many_addresses_is_slowed_not_locked(proxied):
    await proxied.add_user("olga", Role.OPERATOR)
    limits = proxied.config.login_limits
    for i in range(limits.per_user):
        assert (await _sign_in(proxied, "olga", "wrong", address=f"203.0.113.{i}"))[0] == 401
    status, reply = await _sign_in(proxied, "olga", "wrong", address="203.0.113.200")
    assert status == 401  # one check per slow_s goes through...
    status, reply = await _sign_in(proxied, "olga", PASSWORD, address="203.0.113.201")
    assert (status, reply["error"]) == (429, "slow_down")  # ...the next waits its turn
    assert 0 < reply["retry_after_s"] <= limits.slow_s


async def test_one_address_spraying_user_names_is_throttled(proxied):
    limits = proxied.config.login_limits
    for i in range(limits.per_address):
        assert (await _sign_in(proxied, f"user{i}", "wrong", address="198.51.100.9"))[0] == 401
    status, reply = await _sign_in(proxied, "someone", "wrong", address="198.51.100.9")
    assert (status, reply["error"]) == (429, "address_throttled")


async def test_password_hashing_does_not_hold_up_a_kiosk(proxied):
    kiosk = await proxied.enroll_kiosk("K-1")
    logins = [
        asyncio.create_task(_sign_in(proxied, f"user{i}", "wrong", address=f"192.0.2.{i}"))
        for i in range(120)
    ]
    await asyncio.sleep(0.2)  # they are all in
    status, _ = await proxied.heartbeat(kiosk)
    pending = sum(not t.done() for t in logins)
    answers = await asyncio.gather(*logins)
    assert status == 200
    # The heartbeat was answered while most sign-ins still waited for scrypt (on the event loop
    # it waited behind every one of them); past the pool's queue they are told to come back.
    assert pending >= 20, pending
    assert {s for s, _ in answers} <= {401, 503}


async def test_metrics_need_a_token_or_a_session_and_show_no_kiosk(proxied):
    for name in ("K-1", "K-2", "K-3"):
        await proxied.heartbeat(await proxied.enroll_kiosk(name))
    async with proxied.http.get(f"{proxied.url}/metrics") as r:
        assert r.status == 401
    async with proxied.http.get(
        f"{proxied.url}/metrics", headers={"Authorization": "Bearer wrong-token-000000"}
    ) as r:
        assert r.status == 401
    async with proxied.http.get(
        f"{proxied.url}/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    ) as r:
        assert r.status == 200
        families = {f.name: f for f in text_string_to_metric_families(await r.text())}
    labels = {k for f in families.values() for s in f.samples for k in s.labels}
    assert "kiosk" not in labels
    states = {s.labels["state"]: s.value for s in families["fleet_kiosks"].samples}
    assert states["up"] == 3
    viewer = await proxied.operator("victor", Role.VIEWER)
    try:
        async with viewer.get(f"{proxied.url}/metrics") as r:
            assert r.status == 200
    finally:
        await viewer.close()


async def test_a_revoked_key_is_refused_and_a_rekey_brings_the_kiosk_back(fleet):
    kiosk = await fleet.enroll_kiosk("K-1")
    assert (await fleet.heartbeat(kiosk))[0] == 200
    admin = await fleet.operator("ada", Role.ADMIN)
    try:
        async with admin.post(f"{fleet.url}{API}/kiosks/K-1/revoke-key") as r:
            assert r.status == 200
        status, reply = await fleet.heartbeat(kiosk)
        assert (status, reply["error"]) == (401, "key_revoked")
        token, hashed = "rekey-" + "x" * 30, None
        from fleet.auth import token_hash as th

        hashed = th(token)
        await fleet.store.create_enrollment_token(hashed, "test", 3600, rekey_kiosk_id="K-1")
        private_pem, _ = generate_device_key()
        await enroll(fleet.url, token, private_pem, "K-1", "hall-1", "east")
        kiosk.private_pem = private_pem
        assert (await fleet.heartbeat(kiosk))[0] == 200
        async with admin.post(f"{fleet.url}{API}/kiosks/K-1/retire") as r:
            assert r.status == 200
        status, reply = await fleet.heartbeat(kiosk)
        assert (status, reply["error"]) == (401, "kiosk_retired")
        assert await sweep_once(fleet.services, now=time.time() + 3600) == 0  # no offline alert
        async with admin.get(f"{fleet.url}{API}/kiosks") as r:
            assert (await r.json())["total"] == 0  # in no list or count
        async with admin.get(f"{fleet.url}{API}/kiosks/K-1") as r:
            assert (await r.json())["kiosk"]["retired_at"] is not None  # its page stays
    finally:
        await admin.close()
    actions = [(a["actor"], a["action"]) for a in await fleet.store.list_audit()]
    assert ("ada", "revoke_key") in actions and ("ada", "retire_kiosk") in actions


async def test_a_disabled_operator_is_signed_out_and_cannot_sign_in(fleet):
    olga = await fleet.operator("olga", Role.OPERATOR)
    admin = await fleet.operator("ada", Role.ADMIN)
    try:
        async with admin.post(f"{fleet.url}{API}/users/olga/disable") as r:
            assert r.status == 200
        async with olga.get(f"{fleet.url}{API}/kiosks") as r:
            assert r.status == 401
        async with fleet.http.post(
            f"{fleet.url}{API}/session", json={"username": "olga", "password": PASSWORD}
        ) as r:
            assert r.status == 401
        async with admin.post(f"{fleet.url}{API}/users/olga/enable") as r:
            assert r.status == 200
        async with fleet.http.post(
            f"{fleet.url}{API}/session", json={"username": "olga", "password": PASSWORD}
        ) as r:
            assert r.status == 200
    finally:
        await olga.close()
        await admin.close()


async def test_a_password_change_ends_the_operators_other_sessions(fleet):
    desk = await fleet.operator("olga", Role.OPERATOR)
    laptop = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    admin = await fleet.operator("ada", Role.ADMIN)
    try:
        async with laptop.post(
            f"{fleet.url}{API}/session", json={"username": "olga", "password": PASSWORD}
        ) as r:
            assert r.status == 200
        new = "a new password 2024"
        async with desk.put(
            f"{fleet.url}{API}/session/password",
            json={"current_password": PASSWORD, "new_password": new},
        ) as r:
            assert r.status == 200
        async with desk.get(f"{fleet.url}{API}/session") as r:
            assert r.status == 200  # the session that changed it goes on
        async with laptop.get(f"{fleet.url}{API}/session") as r:
            assert r.status == 401
        async with admin.post(
            f"{fleet.url}{API}/users/olga/password", json={"password": "reset by admin 1"}
        ) as r:
            assert r.status == 200
        async with desk.get(f"{fleet.url}{API}/session") as r:
            assert r.status == 401
    finally:
        for s in (desk, laptop, admin):
            await s.close()
    audit = [(a["actor"], a["action"], a["target"]) for a in await fleet.store.list_audit()]
    assert ("olga", "change_password", "olga") in audit
    assert ("ada", "reset_password", "olga") in audit


async def test_unauthenticated_refusals_are_audited_as_anonymous_and_rate_limited(fleet):
    await fleet.add_user("ada", Role.ADMIN)
    async with fleet.http.post(
        f"{fleet.url}{API}/session", json={"username": "ada", "password": "wrong"}
    ) as r:
        assert r.status == 401
    private_pem, _ = generate_device_key()
    for i in range(fleet.config.login_limits.per_address + 5):
        with pytest.raises(FleetError):
            await enroll(
                fleet.url, f"made-up-enrollment-token-{i:04d}", private_pem, "K-A", "h", "r"
            )
    audit = await fleet.store.list_audit()
    assert {a["actor"] for a in audit} == {"anonymous"}
    assert all(a["detail"]["address"] == "127.0.0.1" for a in audit)
    # The address's refusals past its limit write no rows (one sign-in, then the enrollments).
    assert len(audit) == fleet.config.login_limits.per_address


@pytest.mark.parametrize(
    ("path", "query"),
    [("/kiosks/K-1", "days=99999999"), ("/kiosks", "limit=99999999999999999999999")],
)
async def test_bad_query_parameters_answer_400(fleet, path, query):
    await fleet.enroll_kiosk("K-1")
    viewer = await fleet.operator("victor", Role.VIEWER)
    try:
        async with viewer.get(f"{fleet.url}{API}{path}?{query}") as r:
            assert r.status == 400
    finally:
        await viewer.close()


@pytest.mark.parametrize(("field", "value"), [("seq", 2**70), ("sent_at", -1e300)])
async def test_bad_heartbeat_values_answer_400(fleet, field, value):
    kiosk = await fleet.enroll_kiosk("K-1")
    status, reply = await fleet.heartbeat(kiosk, **{field: value})
    assert (status, reply["error"]) == (400, "bad_request")


async def test_an_enrollment_token_bound_to_a_kiosk_and_site_enrolls_only_that(fleet):
    admin = await fleet.operator("ada", Role.ADMIN)
    try:
        async with admin.post(
            f"{fleet.url}{API}/enrollment-tokens", json={"kiosk_id": "K-7", "site": "hall-7"}
        ) as r:
            token = (await r.json())["token"]
    finally:
        await admin.close()
    private_pem, _ = generate_device_key()
    with pytest.raises(FleetError) as other_kiosk:
        await enroll(fleet.url, token, private_pem, "K-8", "hall-7", "east")
    with pytest.raises(FleetError) as other_site:
        await enroll(fleet.url, token, private_pem, "K-7", "hall-8", "east")
    assert (other_kiosk.value.code, other_site.value.code) == (
        "token_for_other_kiosk",
        "token_for_other_site",
    )
    await enroll(fleet.url, token, private_pem, "K-7", "hall-7", "east")


async def test_logs_are_taken_only_in_answer_to_an_upload_logs_command(fleet):
    kiosk = await fleet.enroll_kiosk("K-1")
    status, reply = await fleet.signed_post(
        kiosk, "/kiosks/K-1/logs?command_id=made-up", None, body=b"x" * 1000
    )
    assert (status, reply["error"]) == (409, "no_upload_asked")
    asked = await fleet.ask_for_logs(kiosk)
    path = f"/kiosks/K-1/logs?command_id={asked}"
    assert (await fleet.signed_post(kiosk, path, None, body=b"INFO started\n"))[0] == 201
    assert (await fleet.signed_post(kiosk, path, None, body=b"more\n"))[0] == 409  # once


async def test_sign_in_from_another_origin_is_refused(fleet):
    await fleet.add_user("ada", Role.ADMIN)
    async with fleet.http.post(
        f"{fleet.url}{API}/session",
        json={"username": "ada", "password": PASSWORD},
        headers={"Origin": "https://attacker.example"},
    ) as r:
        assert (r.status, (await r.json())["error"]) == (403, "cross_origin")


async def test_sqlite_keeps_security_state_with_full_sync(tmp_path):
    from fleet.app import open_store
    from tests.fleet.fleetkit import sqlite_config

    store = await open_store(sqlite_config(tmp_path))
    try:
        row = await store.db.fetchrow("PRAGMA synchronous")
        assert row is not None and list(row.values()) == [2]  # FULL
    finally:
        await store.close()
