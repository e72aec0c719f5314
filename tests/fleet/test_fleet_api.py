"""The fleet server over HTTP, on SQLite and on a real PostgreSQL: the same tests for both."""

from __future__ import annotations

import time

import pytest

from fleet.app import sweep_once
from fleet.server_counters import read_counters
from fleet.store import Role
from kiosk.fleet_enrollment import FleetError, enroll, generate_device_key
from tests.fleet import wire_v1
from tests.fleet.fleetkit import HEALTHY_DEVICES
from wire.fleet import HEADER_SIGNATURE, sign_request

API = "/api/v1"


async def test_enrollment_token_works_once(fleet):
    token = await fleet.token()
    private_pem, _ = generate_device_key()
    answer = await enroll(fleet.url, token, private_pem, "K-0001", "hall-1", "east")
    assert answer["kiosk_id"] == "K-0001" and len(answer["key_id"]) == 32
    other_pem, _ = generate_device_key()
    with pytest.raises(FleetError) as refused:
        await enroll(fleet.url, token, other_pem, "K-0002", "hall-1", "east")
    assert refused.value.code == "token_used"
    with pytest.raises(FleetError) as unknown:
        await enroll(fleet.url, "x" * 43, other_pem, "K-0002", "hall-1", "east")
    assert unknown.value.code == "token_unknown"
    with pytest.raises(FleetError) as taken:
        await enroll(fleet.url, await fleet.token(), other_pem, "K-0001", "hall-1", "east")
    assert taken.value.code == "kiosk_exists"


async def test_expired_token_is_refused(fleet):
    from fleet.auth import new_secret_token

    token, hashed = new_secret_token()
    await fleet.store.create_enrollment_token(hashed, "test", -1.0)
    private_pem, _ = generate_device_key()
    with pytest.raises(FleetError) as refused:
        await enroll(fleet.url, token, private_pem, "K-0009", "hall-1", "east")
    assert refused.value.code == "token_expired"


async def test_unsigned_forged_stale_replayed_and_impostor_requests_are_refused(fleet):
    a = await fleet.enroll_kiosk("K-A")
    b = await fleet.enroll_kiosk("K-B")
    status, reply = await fleet.heartbeat(a)
    assert status == 200 and reply["commands"] == []

    hb = {"kiosk_id": "K-A", "seq": 50, "sent_at": time.time(), "interval_s": 15.0}
    path = f"{API}/kiosks/K-A/heartbeat"
    async with fleet.http.post(fleet.url + path, json=hb) as r:
        assert (r.status, (await r.json())["error"]) == (401, "unsigned")

    body = b'{"kiosk_id": "K-A", "seq": 51, "sent_at": 1, "interval_s": 15.0}'
    headers = sign_request(a.private_pem, "POST", path, body, time.time())
    tampered = body.replace(b"51", b"52")
    status, reply = await fleet.signed_post(
        a, "/kiosks/K-A/heartbeat", None, headers=headers, body=tampered
    )
    assert (status, reply["error"]) == (401, "bad_digest")
    headers2 = dict(headers)
    headers2.pop("X-Kiosk-Content-SHA256")
    status, reply = await fleet.signed_post(
        a, "/kiosks/K-A/heartbeat", None, headers=headers2, body=tampered
    )
    assert (status, reply["error"]) == (401, "forged")
    forged = dict(sign_request(b.private_pem, "POST", path, body, time.time()))
    forged["X-Kiosk-Key-Id"] = headers["X-Kiosk-Key-Id"]  # B's signature claiming A's key
    status, reply = await fleet.signed_post(
        a, "/kiosks/K-A/heartbeat", None, headers=forged, body=body
    )
    assert (status, reply["error"]) == (401, "forged")

    status, reply = await fleet.signed_post(a, "/kiosks/K-A/heartbeat", hb, now=time.time() - 600)
    assert (status, reply["error"]) == (401, "stale")

    fresh = sign_request(a.private_pem, "POST", path, body, time.time())
    status, _ = await fleet.signed_post(a, "/kiosks/K-A/heartbeat", None, headers=fresh, body=body)
    assert status == 200
    status, reply = await fleet.signed_post(
        a, "/kiosks/K-A/heartbeat", None, headers=fresh, body=body
    )
    assert (status, reply["error"]) == (401, "replayed")

    # B, with its own valid key, may not speak for A: neither in the path nor in the body.
    status, reply = await fleet.signed_post(b, "/kiosks/K-A/heartbeat", hb)
    assert (status, reply["error"]) == (403, "not_yours")
    status, reply = await fleet.signed_post(b, "/kiosks/K-B/heartbeat", hb)
    assert (status, reply["error"]) == (403, "not_yours")
    await fleet.services.counters.flush(fleet.store.db)
    assert (await read_counters(fleet.store.db))["kiosk_requests_refused"]["not_yours"] == 2

    unknown_pem, _ = generate_device_key()
    headers = sign_request(unknown_pem, "POST", path, body, time.time())
    headers[HEADER_SIGNATURE] = headers[HEADER_SIGNATURE]
    status, reply = await fleet.signed_post(
        a, "/kiosks/K-A/heartbeat", None, headers=headers, body=body
    )
    assert (status, reply["error"]) == (401, "unknown_key")


async def test_bad_heartbeat_gets_a_reason_not_a_crash(fleet):
    a = await fleet.enroll_kiosk("K-A")
    status, reply = await fleet.signed_post(a, "/kiosks/K-A/heartbeat", {"kiosk_id": "K-A"})
    assert (status, reply["error"], reply["reason"]) == (400, "bad_request", "missing_field")
    status, reply = await fleet.signed_post(a, "/kiosks/K-A/heartbeat", None, body=b"{not json")
    assert (status, reply["error"]) == (400, "bad_json")


async def test_v1_kiosk_gets_out_of_service_as_a_command_until_it_acknowledges(fleet):
    """A kiosk of the previous release (wire v1) keeps working: the reply is in its version and
    it gets out/back in service as a command, as before."""
    kiosk = await fleet.enroll_kiosk("K-A")
    op = await fleet.operator("olga", Role.OPERATOR)
    viewer = await fleet.operator("victor", Role.VIEWER)
    try:
        async with viewer.post(
            f"{fleet.url}{API}/kiosks/K-A/commands", json={"kind": "reboot"}
        ) as r:
            assert r.status == 403
        async with op.post(f"{fleet.url}{API}/kiosks/K-A/commands", json={"kind": "nonsense"}) as r:
            assert r.status == 400
        async with op.post(
            f"{fleet.url}{API}/kiosks/K-A/commands",
            json={"kind": "out_of_service", "params": {"note": "cleaning"}},
        ) as r:
            assert r.status == 201
            command = await r.json()
        status, reply = await fleet.heartbeat(kiosk, wire_version=1)
        parsed = wire_v1.HeartbeatReply.from_json(reply)  # what the old kiosk runs
        assert [c.command_id for c in parsed.commands] == [command["command_id"]]
        assert reply["commands"][0]["params"] == {"note": "cleaning"}
        assert reply["wire_version"] == 1 and "service" not in reply
        # Not acknowledged yet: delivered again (the kiosk may never have seen the reply).
        status, reply = await fleet.heartbeat(kiosk, wire_version=1)
        assert [c["command_id"] for c in reply["commands"]] == [command["command_id"]]
        ack = {"command_id": command["command_id"], "outcome": "done", "at": time.time()}
        status, reply = await fleet.heartbeat(kiosk, wire_version=1, acks=[ack], in_service=False)
        assert reply["commands"] == [] and reply["acked"] == [command["command_id"]]
        async with op.get(f"{fleet.url}{API}/kiosks/K-A/commands") as r:
            (listed,) = (await r.json())["commands"]
        assert listed["status"] == "done" and listed["issued_by"] == "olga"
        admin = await fleet.operator("ada", Role.ADMIN)
        async with admin.get(f"{fleet.url}{API}/audit") as r:
            audit = (await r.json())["audit"]
        await admin.close()
        actions = {(a["actor"], a["action"], a["target"], a["outcome"]) for a in audit}
        # The audit names the command and its target.
        assert ("olga", "command:out_of_service", "K-A", "queued") in actions
        assert ("olga", "sign_in", "olga", "ok") in actions
        assert ("olga", "command:nonsense", "K-A", "bad_request") in actions
        async with op.get(f"{fleet.url}{API}/audit") as r:
            assert r.status == 403
    finally:
        await op.close()
        await viewer.close()


async def test_sign_in_failures_are_audited_and_locked_out(fleet):
    await fleet.add_user("ada", Role.ADMIN)
    for _ in range(fleet.config.login_limits.per_user_address):
        async with fleet.http.post(
            f"{fleet.url}{API}/session", json={"username": "ada", "password": "wrong"}
        ) as r:
            assert r.status == 401
    async with fleet.http.post(
        f"{fleet.url}{API}/session", json={"username": "ada", "password": "correct horse battery"}
    ) as r:
        assert r.status == 429
    async with fleet.http.get(f"{fleet.url}{API}/kiosks") as r:
        assert r.status == 401
    audit = await fleet.store.list_audit()
    refused = [a for a in audit if a["action"] == "sign_in"]
    # Each refusal once, by nobody (the caller is not signed in), with the address it came from.
    assert [(a["actor"], a["target"], a["outcome"]) for a in refused] == [
        ("anonymous", "ada", "refused")
    ] * 5
    assert {a["detail"]["address"] for a in refused} == {"127.0.0.1"}
    user = await fleet.store.get_user("ada")
    assert "correct horse" not in user["password_hash"] and user["password_hash"].startswith(
        "scrypt$"
    )


async def test_state_alerts_and_per_day_transactions(fleet):
    kiosk = await fleet.enroll_kiosk("K-A", site="hall-9", region="west")
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES, counters={"transactions_completed": 3})
    bad = [
        {
            "device": "printer",
            "health": "fault",
            "reason": "paper_jam",
            "supplies": [{"name": "paper", "level": "low", "remaining": 12}],
        },
        {"device": "card_reader", "health": "ok"},
    ]
    attention = [{"ref": "tx-42", "state": "paid", "since": time.time() - 60}]
    await fleet.heartbeat(
        kiosk, devices=bad, counters={"transactions_completed": 5}, attention=attention
    )
    alerts = await fleet.store.list_alerts()
    assert sorted((a["kind"], a["subject"]) for a in alerts) == [
        ("device_fault", "printer"),
        ("needs_attention", "journal"),
        ("supply_low", "printer/paper"),
    ]
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        async with op.get(f"{fleet.url}{API}/kiosks/K-A") as r:
            detail = await r.json()
        assert detail["kiosk"]["state"] == "degraded"
        assert sum(d["counters"]["transactions_completed"] for d in detail["per_day"]) == 5
        fault = next(a for a in alerts if a["kind"] == "device_fault")
        async with op.post(f"{fleet.url}{API}/alerts/{fault['id']}/ack") as r:
            assert r.status == 200
        async with op.post(f"{fleet.url}{API}/alerts/{fault['id']}/ack") as r:
            assert r.status == 404
        async with op.get(f"{fleet.url}{API}/fleet?region=west") as r:
            summary = await r.json()
        assert summary["counts"]["degraded"] == 1 and summary["regions"] == ["west"]
    finally:
        await op.close()
    # Recovered: the alerts clear themselves; counters that restart from zero add, not subtract.
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES, counters={"transactions_completed": 2})
    assert await fleet.store.list_alerts() == []
    rows = await fleet.store.daily_counters("K-A", "2000-01-01")
    assert sum(r["value"] for r in rows if r["name"] == "transactions_completed") == 7
    acked = [a for a in await fleet.store.list_alerts(open_only=False) if a["acked_by"]]
    assert [a["acked_by"] for a in acked] == ["olga"]


async def test_resent_heartbeat_and_events_are_counted_once(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    await fleet.heartbeat(kiosk, counters={"transactions_completed": 4})
    kiosk.seq -= 1  # the same heartbeat again, as after a lost reply
    await fleet.heartbeat(kiosk, counters={"transactions_completed": 4})
    rows = await fleet.store.daily_counters("K-A", "2000-01-01")
    assert [r["value"] for r in rows] == [4]
    events = {
        "kiosk_id": "K-A",
        "events": [
            {"event_id": "e1", "kind": "device_fault", "at": time.time(), "device": "printer"},
            {"event_id": "e2", "kind": "supply_low", "at": time.time(), "device": "printer"},
        ],
    }
    for _ in range(2):
        status, reply = await fleet.signed_post(kiosk, "/kiosks/K-A/events", events)
        assert status == 200
    assert reply["new"] == 0
    assert [e["event_id"] for e in await fleet.store.recent_events("K-A")] == ["e2", "e1"]


async def test_online_late_offline_and_goodbye_and_their_history(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    interval = 0.2
    await fleet.heartbeat(kiosk, interval_s=interval)
    th = fleet.config.thresholds

    async def judged(at):
        row = await fleet.store.get_kiosk("K-A", now=at)
        return row["connectivity"], row["state"]

    seen = (await fleet.store.get_kiosk("K-A"))["last_seen"]
    assert await judged(seen + 1.9 * interval) == ("online", "up")  # one miss: still online
    assert await judged(seen + (th.late_multiple + 0.1) * interval) == ("late", "degraded")
    assert await judged(seen + (th.offline_multiple + 0.1) * interval) == ("offline", "offline")
    assert await sweep_once(fleet.services, now=seen + 1.9 * interval) == 0
    assert await sweep_once(fleet.services, now=seen + (th.offline_multiple + 1) * interval) == 1
    assert await sweep_once(fleet.services, now=seen + (th.offline_multiple + 2) * interval) == 0
    assert [a["kind"] for a in await fleet.store.list_alerts()] == ["offline"]
    await fleet.heartbeat(kiosk, interval_s=interval)
    assert await fleet.store.list_alerts() == []
    status, _ = await fleet.signed_post(
        kiosk, "/kiosks/K-A/goodbye", {"kiosk_id": "K-A", "at": time.time()}
    )
    assert status == 200
    assert (await judged(time.time()))[0] == "offline"
    # A clean shutdown is not an outage: no offline alert for it.
    assert await sweep_once(fleet.services, now=time.time() + 100) == 0
    # The kiosk's history has the outage, its end and the goodbye; its alert history keeps the
    # cleared offline alert.
    history = [(e["origin"], e["kind"]) for e in await fleet.store.recent_events("K-A")]
    assert history == [("server", "goodbye"), ("server", "back_online"), ("server", "offline")]
    (old,) = await fleet.store.list_alerts(open_only=False, kiosk_id="K-A")
    assert old["kind"] == "offline" and old["cleared_at"] is not None


async def test_openapi_document_describes_every_api_route(fleet):
    async with fleet.http.get(f"{fleet.url}{API}/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for route in fleet.runner.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(API) and route.method != "HEAD":
            served.add((route.method, path))
    assert served == documented
    refs = {v for ops in doc["paths"].values() for op in ops.values() for v in _refs(op)}
    assert refs <= {f"#/components/schemas/{n}" for n in doc["components"]["schemas"]}


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)
