"""A kiosk's history on the fleet, on SQLite and PostgreSQL: crash and fault alerts from its
events, alert history with who acknowledged what, uploaded logs to read and download, and a
database of the first release brought up to date."""

from __future__ import annotations

import json
import time

from fleet.db import open_database
from fleet.schema import SCHEMA_VERSION, schema_sql
from fleet.store import FleetStore, Role
from tests.fleet.fleetkit import HEALTHY_DEVICES, config_for

API = "/api/v1"


def _event(event_id, kind, **more):
    return {"event_id": event_id, "kind": kind, "at": time.time(), **more}


async def _events(fleet, kiosk, *events):
    status, reply = await fleet.signed_post(
        kiosk, f"/kiosks/{kiosk.kiosk_id}/events", {"kiosk_id": kiosk.kiosk_id, "events": events}
    )
    assert status == 200, reply


async def test_an_unexpected_exit_raises_an_alert_until_an_operator_acknowledges_it(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES)
    crash = _event(
        "e1", "unexpected_exit", severity="critical", reason="exception KeyError at flow.py:88"
    )
    await _events(fleet, kiosk, crash)
    await _events(fleet, kiosk, crash)  # a resend opens nothing more
    (alert,) = await fleet.store.list_alerts()
    assert (alert["kind"], alert["subject"]) == ("crash", "process")
    assert alert["detail"] == "exception KeyError at flow.py:88"
    # A healthy heartbeat does not clear a crash: someone must have seen it.
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES)
    assert [a["kind"] for a in await fleet.store.list_alerts()] == ["crash"]
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        async with op.post(f"{fleet.url}{API}/alerts/{alert['id']}/ack") as r:
            assert r.status == 200
        assert await fleet.store.list_alerts() == []
        async with op.get(f"{fleet.url}{API}/kiosks/K-A") as r:
            detail = await r.json()
        (history,) = detail["alerts"]
        assert history["acked_by"] == "olga" and history["cleared_at"] is not None
        assert [e["kind"] for e in detail["events"]] == ["unexpected_exit"]
    finally:
        await op.close()
    audit = await fleet.store.list_audit()
    (ack,) = [a for a in audit if a["action"] == "ack_alert"]
    assert ack["target"] == "K-A" and ack["detail"]["kind"] == "crash"


async def test_a_device_fault_event_alerts_before_the_next_heartbeat_which_then_rules(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES)
    fault = _event("e1", "device_fault", severity="warning", device="printer", reason="offline")
    await _events(fleet, kiosk, fault)
    (alert,) = await fleet.store.list_alerts()
    assert (alert["kind"], alert["subject"], alert["detail"]) == (
        "device_fault",
        "printer",
        "offline",
    )
    # The heartbeat that follows still shows the printer failed: the same alert, not a second.
    broken = [{"device": "printer", "health": "fault", "reason": "offline"}]
    await fleet.heartbeat(kiosk, devices=broken)
    assert [a["id"] for a in await fleet.store.list_alerts()] == [alert["id"]]
    # It recovers: the heartbeat clears the alert although its state looks as before the event.
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES)
    await _events(fleet, kiosk, _event("e2", "device_fault", device="printer"))
    await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES)
    assert await fleet.store.list_alerts() == []


async def test_uploaded_logs_are_listed_readable_and_downloadable(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    text = "2024-05-01 10:00:00 INFO kiosk.session attract\n打印机缺纸\n"
    asked = await fleet.ask_for_logs(kiosk)
    status, reply = await fleet.signed_post(
        kiosk, f"/kiosks/K-A/logs?command_id={asked}", None, body=text.encode()
    )
    assert status == 201
    upload_id = reply["upload_id"]
    op = await fleet.operator("olga", Role.OPERATOR)
    viewer = await fleet.operator("victor", Role.VIEWER)
    try:
        async with op.get(f"{fleet.url}{API}/kiosks/K-A") as r:
            (listed,) = (await r.json())["log_uploads"]
        assert listed["id"] == upload_id and listed["command_id"] == asked
        url = f"{fleet.url}{API}/kiosks/K-A/logs/{upload_id}"
        async with viewer.get(url) as r:
            assert r.status == 403  # logs are for operators
        async with op.get(url) as r:
            assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert "Content-Disposition" not in r.headers
            assert await r.text() == text
        async with op.get(url, params={"download": "1"}) as r:
            disposition = r.headers["Content-Disposition"]
            assert disposition.startswith('attachment; filename="K-A-logs-')
            assert await r.read() == text.encode()
        async with op.get(f"{fleet.url}{API}/kiosks/K-B/logs/{upload_id}") as r:
            assert r.status == 404  # not another kiosk's
    finally:
        await op.close()
        await viewer.close()


async def test_a_first_release_database_is_migrated_keeping_its_data(backend, tmp_path, request):
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    config = await config_for(backend, tmp_path, pg)
    db = await open_database(config.database_url, config.data_dir)
    await db.executescript(schema_sql(db.dialect))  # as the first release left it
    await db.execute("INSERT INTO schema_info (version) VALUES (1)")
    await db.execute(
        "INSERT INTO kiosks (kiosk_id, key_id, public_key_pem, site, region, enrolled_at,"
        " interval_s, last_seen) VALUES ('K-OLD', 'kid', 'pem', 'hall', 'east', 1, 15, 2)"
    )
    for command_id, delivered, acked, outcome in [
        ("c-1", None, None, None),
        ("c-2", 5.0, None, None),
        ("c-3", 5.0, 6.0, "done"),
        ("c-4", 5.0, 6.0, "failed"),
    ]:
        await db.execute(
            "INSERT INTO commands (command_id, kiosk_id, kind, params_json, issued_by,"
            " issued_at, delivered_at, acked_at, outcome) VALUES"
            " ($1, 'K-OLD', 'reboot', '{}', 'op', 1, $2, $3, $4)",
            command_id,
            delivered,
            acked,
            outcome,
        )
    store = FleetStore(db)
    try:
        await store.migrate()
        await store.migrate()  # a second start changes nothing
        assert await store.schema_version() == SCHEMA_VERSION
        statuses = {c["command_id"]: c["status"] for c in await store.list_commands("K-OLD")}
        assert statuses == {"c-1": "queued", "c-2": "delivered", "c-3": "done", "c-4": "failed"}
        kiosk = await store.get_kiosk("K-OLD")
        assert (kiosk["wanted_service"], kiosk["wire_version"], kiosk["tags"]) == (
            "in_service",
            1,
            [],
        )
        assert json.loads(json.dumps(kiosk))["state"] == "offline"
    finally:
        await store.close()
