"""Commands and the wanted service state over HTTP, on SQLite and PostgreSQL: "done" only when
the kiosk's state is seen to change; bulk commands with a result per kiosk."""

from __future__ import annotations

import time

from fleet.app import sweep_once
from fleet.store import Role
from tests.fleet.fleetkit import HEALTHY_DEVICES

API = "/api/v1"


async def _command(op, fleet, kiosk_id, kind, **params):
    async with op.post(
        f"{fleet.url}{API}/kiosks/{kiosk_id}/commands", json={"kind": kind, "params": params}
    ) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["command_id"]


async def _status(fleet, kiosk_id, command_id):
    for c in await fleet.store.list_commands(kiosk_id):
        if c["command_id"] == command_id:
            return c["status"], c["ack_detail"]
    raise AssertionError(command_id)


async def test_service_order_rides_on_every_reply_and_is_done_only_when_applied(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES, started_at=1000.0)
        out = await _command(op, fleet, "K-A", "out_of_service")
        assert await _status(fleet, "K-A", out) == ("queued", None)
        # Every reply carries the wanted state, not once: a kiosk that lost it gets it back.
        for _ in range(2):
            _, reply = await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES, started_at=1000.0)
            assert reply["service"] == {"state": "out_of_service", "revision": 1}
            assert reply["commands"] == []  # a v2 kiosk gets the order, not a command
            assert (await _status(fleet, "K-A", out))[0] == "delivered"
        row = await fleet.store.get_kiosk("K-A")
        assert "out of service wanted, not yet applied" in row["problems"]
        assert row["next_heartbeat_due"] == row["last_seen"] + row["interval_s"]
        # The kiosk applied revision 1: now it is done, and the kiosk is down.
        await fleet.heartbeat(
            kiosk,
            devices=HEALTHY_DEVICES,
            in_service=False,
            service_state="out_of_service",
            service_revision=1,
            started_at=1000.0,
        )
        status, detail = await _status(fleet, "K-A", out)
        assert status == "done" and detail.startswith("out of service")
        row = await fleet.store.get_kiosk("K-A")
        assert row["state"] == "down" and row["problems"] == []
        # A restart that comes back in service (the old bug) does not hide: the server still
        # wants it out and says so, on every reply, until the kiosk holds it again.
        _, reply = await fleet.heartbeat(
            kiosk, devices=HEALTHY_DEVICES, in_service=True, started_at=2000.0
        )
        assert reply["service"] == {"state": "out_of_service", "revision": 1}
        row = await fleet.store.get_kiosk("K-A")
        assert "out of service wanted, not yet applied" in row["problems"]

        # Out, then back in before the kiosk applied it: the first never will be.
        back = await _command(op, fleet, "K-A", "back_in_service")
        again = await _command(op, fleet, "K-A", "out_of_service")
        assert await _status(fleet, "K-A", back) == ("failed", f"superseded by {again}")
        _, reply = await fleet.heartbeat(kiosk, devices=HEALTHY_DEVICES, started_at=2000.0)
        assert reply["service"] == {"state": "out_of_service", "revision": 3}
    finally:
        await op.close()


async def test_restart_and_reboot_are_done_when_seen_and_a_refused_reboot_fails(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    op = await fleet.operator("olga", Role.OPERATOR)
    beat = {"devices": HEALTHY_DEVICES, "boot_id": "boot-1"}
    try:
        await fleet.heartbeat(kiosk, started_at=1000.0, **beat)
        restart = await _command(op, fleet, "K-A", "restart_app")
        _, reply = await fleet.heartbeat(kiosk, started_at=1000.0, **beat)
        assert [c["kind"] for c in reply["commands"]] == ["restart_app"]
        accepted = {"command_id": restart, "outcome": "accepted", "detail": "started"}
        _, reply = await fleet.heartbeat(kiosk, started_at=1000.0, acks=[accepted], **beat)
        assert reply["acked"] == [restart] and reply["commands"] == []
        assert (await _status(fleet, "K-A", restart))[0] == "acknowledged"
        # The kiosk's word is not enough: the same process beating again is not a restart.
        done = {"command_id": restart, "outcome": "done", "detail": "restarting"}
        await fleet.heartbeat(kiosk, started_at=1000.0, acks=[done], **beat)
        assert (await _status(fleet, "K-A", restart))[0] == "acknowledged"
        await fleet.heartbeat(kiosk, started_at=1010.0, **beat)
        assert await _status(fleet, "K-A", restart) == (
            "done",
            "a new kiosk process is running",
        )

        reboot = await _command(op, fleet, "K-A", "reboot")
        await fleet.heartbeat(kiosk, started_at=1010.0, **beat)
        accepted = {"command_id": reboot, "outcome": "accepted", "detail": "started"}
        await fleet.heartbeat(kiosk, started_at=1010.0, acks=[accepted], **beat)
        assert (await _status(fleet, "K-A", reboot))[0] == "acknowledged"
        # Then systemd refuses it: the failure and its reason reach the operators.
        refused = {
            "command_id": reboot,
            "outcome": "failed",
            "detail": "reboot refused: Interactive authentication required.",
        }
        await fleet.heartbeat(kiosk, started_at=1010.0, acks=[refused], **beat)
        assert await _status(fleet, "K-A", reboot) == (
            "failed",
            "failed: reboot refused: Interactive authentication required.",
        )

        reboot2 = await _command(op, fleet, "K-A", "reboot")
        await fleet.heartbeat(kiosk, started_at=1010.0, **beat)
        accepted = {"command_id": reboot2, "outcome": "accepted", "detail": "started"}
        await fleet.heartbeat(kiosk, started_at=1010.0, acks=[accepted], **beat)
        await fleet.heartbeat(kiosk, started_at=1100.0, devices=HEALTHY_DEVICES, boot_id="boot-2")
        assert await _status(fleet, "K-A", reboot2) == (
            "done",
            "the kiosk came back from a reboot",
        )
    finally:
        await op.close()


async def test_an_effect_never_seen_ends_as_failed(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        await fleet.heartbeat(kiosk, started_at=1000.0, boot_id="boot-1")
        reboot = await _command(op, fleet, "K-A", "reboot")
        await fleet.heartbeat(kiosk, started_at=1000.0, boot_id="boot-1")
        accepted = {"command_id": reboot, "outcome": "accepted", "detail": "started"}
        await fleet.heartbeat(kiosk, started_at=1000.0, boot_id="boot-1", acks=[accepted])
        window = fleet.config.command_effect_window_s
        await sweep_once(fleet.services, now=time.time() + window / 2)
        assert (await _status(fleet, "K-A", reboot))[0] == "acknowledged"
        await sweep_once(fleet.services, now=time.time() + window + 1)
        status, detail = await _status(fleet, "K-A", reboot)
        assert status == "failed" and "not seen" in detail
    finally:
        await op.close()


async def test_bulk_command_on_a_filtered_list_reports_each_kiosk(fleet):
    for n in range(3):
        k = await fleet.enroll_kiosk(f"ZS-{n}", site="hall", region="zhongshan")
        await fleet.heartbeat(k, devices=HEALTHY_DEVICES, started_at=1000.0)
    other = await fleet.enroll_kiosk("BT-1", site="county", region="baotou")
    await fleet.heartbeat(other, devices=HEALTHY_DEVICES)
    op = await fleet.operator("olga", Role.OPERATOR)
    viewer = await fleet.operator("victor", Role.VIEWER)
    url = f"{fleet.url}{API}/commands/bulk"
    body = {"kind": "restart_app", "filter": {"region": "zhongshan"}, "expect": 3}
    try:
        async with viewer.post(url, json=body) as r:
            assert r.status == 403
        # The operator saw 2 kiosks; there are 3 now: nothing is sent, they look again.
        async with op.post(url, json={**body, "expect": 2}) as r:
            assert (r.status, (await r.json())["matching"]) == (409, 3)
        assert await fleet.store.list_commands() == []
        async with op.post(url, json=body) as r:
            assert r.status == 201
            sent = await r.json()
        assert [(x["kiosk_id"], x["status"]) for x in sent["results"]] == [
            ("ZS-0", "queued"),
            ("ZS-1", "queued"),
            ("ZS-2", "queued"),
        ]
        # ZS-0 restarts, ZS-1 only receives it, ZS-2 stays silent.
        ids = {x["kiosk_id"]: x["command_id"] for x in sent["results"]}
        k0, k1 = fleet.kiosks["ZS-0"], fleet.kiosks["ZS-1"]
        await fleet.heartbeat(k0, started_at=1000.0)
        accepted = {"command_id": ids["ZS-0"], "outcome": "accepted"}
        await fleet.heartbeat(k0, started_at=1000.0, acks=[accepted])
        await fleet.heartbeat(k0, started_at=1005.0)
        await fleet.heartbeat(k1, started_at=1000.0)
        async with op.get(f"{url}/{sent['bulk_id']}") as r:
            progress = await r.json()
        assert [(c["kiosk_id"], c["status"]) for c in progress["commands"]] == [
            ("ZS-0", "done"),
            ("ZS-1", "delivered"),
            ("ZS-2", "queued"),
        ]
        assert progress["counts"] == {"done": 1, "delivered": 1, "queued": 1}
        audit = await fleet.store.list_audit()
        rows = [(a["action"], a["target"]) for a in audit if a["actor"] == "olga"]
        assert ("bulk_command:restart_app", "restart_app to region=zhongshan") in rows
        for kiosk_id in ids:
            assert ("command:restart_app", kiosk_id) in rows
    finally:
        await op.close()
        await viewer.close()
