"""The kiosk's fleet agent against a real fleet server on port 0 (SQLite store)."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet.store import Role
from kiosk.fleet_agent import CommandFailed, FleetAgent
from kiosk.fleet_enrollment import FleetSession
from kiosk.fleet_outbox import Outbox, OutboxKind
from tests.fleet.fleetkit import Fleet, sqlite_config
from wire.fleet import (
    AckOutcome,
    CommandAck,
    CommandKind,
    DeviceHealth,
    DeviceStatus,
    Event,
    EventKind,
    Goodbye,
    Severity,
    Supply,
    SupplyLevel,
    sign_request,
)

API = "/api/v1"


async def until(predicate, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def fleet(tmp_path):
    f = Fleet(sqlite_config(tmp_path))
    await f.start()
    yield f
    await f.close()


class FakeKiosk:
    """The parts of the kiosk app the agent talks to: status, busy flag, command handler."""

    def __init__(self) -> None:
        self.busy = False
        self.ran: list[tuple[str, bool]] = []
        self.fail_next = False
        self.refuse_reboot = ""
        self.transactions = 0

    def status(self):
        return {
            "software_version": "1.2.3",
            "catalog_version": "cat-7",
            "in_service": True,
            "devices": [
                DeviceStatus(
                    "printer", DeviceHealth.OK, "", (Supply("paper", SupplyLevel.OK, 300),)
                ),
            ],
            "counters": {"transactions_completed": self.transactions},
        }

    async def handle(self, command):
        self.ran.append((command.command_id, self.busy))
        if command.kind is CommandKind.REBOOT and self.refuse_reboot:
            await asyncio.sleep(0.3)  # the "accepted" ack may leave before the refusal
            raise CommandFailed(self.refuse_reboot)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("printer busy")


def make_agent(fleet, kiosk, tmp_path, app: FakeKiosk, interval=0.2, **kw) -> FleetAgent:
    return FleetAgent(
        fleet.url,
        kiosk.kiosk_id,
        kiosk.private_pem,
        tmp_path / f"outbox-{kiosk.kiosk_id}.sqlite3",
        app.status,
        lambda: app.busy,
        app.handle,
        interval_s=interval,
        busy_poll_s=0.05,
        **kw,
    )


async def test_agent_heartbeats_then_says_goodbye(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    app = FakeKiosk()
    app.transactions = 3
    agent = make_agent(fleet, kiosk, tmp_path, app)
    agent.start()
    row = await until(lambda: _row_with(fleet, "K-1", lambda r: r["heartbeats"] >= 3))
    assert row["software_version"] == "1.2.3" and row["catalog_version"] == "cat-7"
    assert row["devices"][0]["supplies"][0] == {"name": "paper", "level": "ok", "remaining": 300}
    assert row["goodbye_at"] is None
    await agent.stop(clean=True)
    row = await fleet.store.get_kiosk("K-1")
    assert row["goodbye_at"] is not None and row["goodbye_reason"] == "shutdown"


async def _row_with(fleet, kiosk_id, cond):
    row = await fleet.store.get_kiosk(kiosk_id)
    return row if row and cond(row) else None


async def test_outbox_holds_events_while_server_is_down_and_delivers_them_in_order(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    app = FakeKiosk()
    agent = make_agent(fleet, kiosk, tmp_path, app, interval=0.1, max_backoff_s=0.3)
    agent.start()
    await until(lambda: _row_with(fleet, "K-1", lambda r: r["heartbeats"] >= 1))
    await fleet.stop_server()
    sent = []
    for i in range(6):
        event = Event.new(EventKind.INFO, time.time(), reason=f"step {i}")
        sent.append(event.event_id)
        agent.post_event(event)
        app.transactions += 1
        await asyncio.sleep(0.05)
    await until(lambda: _false_async(agent.online), timeout=5)
    queued = await agent.outbox_size()
    assert queued >= 6  # the events and the heartbeats of the outage
    await fleet.start()  # the same port and the same database
    await until(lambda: _outbox_empty(agent))
    events = await fleet.store.recent_events("K-1", 100)
    assert [e["event_id"] for e in reversed(events)] == sent
    # Heartbeats of the outage arrived too, and the counters they carried add up.
    rows = await fleet.store.daily_counters("K-1", "2000-01-01")
    assert sum(r["value"] for r in rows if r["name"] == "transactions_completed") == 6
    await agent.stop()


async def _false_async(value):
    return value is False


async def _outbox_empty(agent):
    return await agent.outbox_size() == 0


async def test_command_waits_for_a_safe_moment_and_is_acknowledged_once(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    app = FakeKiosk()
    app.busy = True  # a citizen is in the middle of a transaction
    agent = make_agent(fleet, kiosk, tmp_path, app)
    agent.start()
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        async with op.post(
            f"{fleet.url}{API}/kiosks/K-1/commands", json={"kind": "refetch_catalog"}
        ) as r:
            command = await r.json()
        await until(lambda: _command(fleet, lambda c: c["delivered_at"] is not None))
        await asyncio.sleep(1.0)  # five heartbeats re-deliver it while the kiosk stays busy
        assert app.ran == []
        app.busy = False
        acked = await until(lambda: _command(fleet, lambda c: c["acked_at"] is not None))
        assert acked["outcome"] == "done"
        assert app.ran == [(command["command_id"], False)]
        await asyncio.sleep(0.6)  # later heartbeats do not run it again
        assert len(app.ran) == 1

        app.fail_next = True
        async with op.post(
            f"{fleet.url}{API}/kiosks/K-1/commands", json={"kind": "upload_logs"}
        ) as r:
            failing = await r.json()
        failed = await until(
            lambda: _command(
                fleet,
                lambda c: c["command_id"] == failing["command_id"] and c["acked_at"] is not None,
            )
        )
        assert failed["outcome"] == "failed" and "printer busy" in failed["ack_detail"]
    finally:
        await op.close()
        await agent.stop()


async def _command(fleet, cond):
    for c in await fleet.store.list_commands("K-1"):
        if cond(c):
            return c
    return None


async def test_agent_backs_off_while_the_server_is_unreachable(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    await fleet.stop_server()
    app = FakeKiosk()
    agent = make_agent(fleet, kiosk, tmp_path, app, interval=0.05, max_backoff_s=0.8)
    agent.start()
    await asyncio.sleep(2.0)
    # Without backoff that is 40 attempts; with it: 0.05, 0.1, 0.2, 0.4, 0.8, 0.8 ... at most ~10.
    assert 2 <= agent.failures <= 12
    assert await agent.outbox_size() >= 20  # heartbeats still queue on their own schedule
    await agent.stop(clean=False)


async def test_replayed_and_forged_agent_requests_are_refused(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    other = await fleet.enroll_kiosk("K-2")
    body = b'{"kiosk_id": "K-1", "seq": 1, "sent_at": 1.0, "interval_s": 15.0}'
    path = f"{API}/kiosks/K-1/heartbeat"
    captured = sign_request(kiosk.private_pem, "POST", path, body, time.time())
    status, _ = await fleet.signed_post(
        kiosk, "/kiosks/K-1/heartbeat", None, headers=captured, body=body
    )
    assert status == 200
    status, reply = await fleet.signed_post(
        kiosk, "/kiosks/K-1/heartbeat", None, headers=captured, body=body
    )
    assert (status, reply["error"]) == (401, "replayed")
    forged = sign_request(other.private_pem, "POST", path, body, time.time())
    forged["X-Kiosk-Key-Id"] = captured["X-Kiosk-Key-Id"]
    status, reply = await fleet.signed_post(
        kiosk, "/kiosks/K-1/heartbeat", None, headers=forged, body=body
    )
    assert (status, reply["error"]) == (401, "forged")


def test_outbox_is_bounded_and_drops_old_heartbeats_first(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", max_items=4)
    box.append(OutboxKind.HEARTBEAT, {"n": 1})
    box.append(OutboxKind.EVENT, {"n": 2})
    box.append(OutboxKind.HEARTBEAT, {"n": 3})
    box.append(OutboxKind.EVENT, {"n": 4})
    box.append(OutboxKind.EVENT, {"n": 5})  # full: heartbeat 1 goes
    box.append(OutboxKind.EVENT, {"n": 6})  # heartbeat 3 goes
    box.append(OutboxKind.EVENT, {"n": 7})  # no heartbeat left: the oldest event goes
    assert [i.payload["n"] for i in box.peek()] == [4, 5, 6, 7]
    assert {i.kind for i in box.peek()} == {OutboxKind.EVENT}  # read back as the enum's member
    assert box.dropped == 3
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite3", max_items=4)
    assert [i.payload["n"] for i in reopened.peek()] == [4, 5, 6, 7]
    assert reopened.next_heartbeat_seq() == 1 and reopened.next_heartbeat_seq() == 2
    reopened.close()


def test_a_command_cut_short_by_a_restart_is_reported_failed(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.mark_started("cmd-1")  # then the power went
    box.mark_started("cmd-2")
    box.record_ack(CommandAck("cmd-2", AckOutcome.DONE, "", 1.0))
    box.close()
    box = Outbox(tmp_path / "o.sqlite3")
    acks = {a.command_id: a for a in box.pending_acks()}
    assert acks["cmd-1"].outcome is AckOutcome.FAILED and acks["cmd-2"].outcome is AckOutcome.DONE
    assert box.was_started("cmd-1")
    box.confirm_acks([("cmd-1", "failed"), ("cmd-2", "done")])
    box.close()
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.pending_acks() == []  # not reported again on the next start
    box.close()


async def test_a_reboot_accepted_then_refused_reaches_the_operators_as_failed(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    app = FakeKiosk()
    app.refuse_reboot = "reboot refused: Interactive authentication required."
    agent = make_agent(fleet, kiosk, tmp_path, app, interval=0.1)
    agent.start()
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        await until(lambda: _row_with(fleet, "K-1", lambda r: r["heartbeats"] >= 1))
        async with op.post(f"{fleet.url}{API}/kiosks/K-1/commands", json={"kind": "reboot"}) as r:
            command = await r.json()
        await until(lambda: _command(fleet, lambda c: c["status"] == "acknowledged"))
        failed = await until(lambda: _command(fleet, lambda c: c["status"] == "failed"))
        assert failed["command_id"] == command["command_id"]
        assert failed["ack_detail"] == f"failed: {app.refuse_reboot}"
        assert await agent.outbox_size() <= 1
    finally:
        await op.close()
        await agent.stop()


async def test_a_dying_kiosk_sends_its_crash_report_but_no_goodbye(fleet, tmp_path):
    kiosk = await fleet.enroll_kiosk("K-1")
    app = FakeKiosk()
    agent = make_agent(fleet, kiosk, tmp_path, app, interval=5.0)
    agent.start()
    await until(lambda: _row_with(fleet, "K-1", lambda r: r["heartbeats"] >= 1))
    crash = Event.new(
        EventKind.UNEXPECTED_EXIT, time.time(), severity=Severity.CRITICAL, reason="exception X"
    )
    agent.post_event(crash)
    await agent.stop(clean=False)
    row = await fleet.store.get_kiosk("K-1")
    assert row["goodbye_at"] is None  # still judged by its heartbeats, not shown as a clean stop
    assert [e["event_id"] for e in await fleet.store.recent_events("K-1")] == [crash.event_id]
    assert [a["kind"] for a in await fleet.store.list_alerts()] == ["crash"]


def test_an_outcome_written_after_its_heartbeat_left_is_not_forgotten(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.mark_started("cmd-1")
    box.record_ack(CommandAck("cmd-1", AckOutcome.ACCEPTED, "started", 1.0))
    sent = [(a.command_id, a.outcome.value) for a in box.pending_acks()]  # in a heartbeat
    box.record_ack(CommandAck("cmd-1", AckOutcome.FAILED, "refused", 2.0))  # meanwhile
    box.confirm_acks(sent)  # the server's reply to that heartbeat
    (left,) = box.pending_acks()
    assert (left.outcome, left.detail) == (AckOutcome.FAILED, "refused")
    box.close()


async def test_a_kiosk_clock_refused_as_stale_is_corrected_from_the_server(fleet):
    # A kiosk with no RTC battery wakes an hour behind: the fleet refuses its signature as
    # stale, the session takes the server's Date and signs again, once.
    kiosk = await fleet.enroll_kiosk("K-1")
    session = FleetSession(fleet.url, kiosk.private_pem, 5.0)
    session.clock_offset = -3600.0
    try:
        bye = Goodbye("K-1", time.time(), "shutdown")
        await session.post("/kiosks/K-1/goodbye", bye.to_json())
        assert abs(session.clock_offset) < 5.0
    finally:
        await session.close()
    row = await fleet.store.get_kiosk("K-1")
    assert row["goodbye_reason"] == "shutdown"


async def test_a_revoked_key_stops_sending_and_keeps_the_outbox(fleet, tmp_path, caplog):
    kiosk = await fleet.enroll_kiosk("K-1")
    admin = await fleet.operator("ada", Role.ADMIN)
    try:
        async with admin.post(f"{fleet.url}{API}/kiosks/K-1/revoke-key") as r:
            assert r.status == 200
    finally:
        await admin.close()
    agent = make_agent(fleet, kiosk, tmp_path, FakeKiosk(), interval=0.2)
    agent.start()
    agent.post_event(Event.new(EventKind.INFO, time.time(), severity=Severity.INFO, reason="x"))

    async def refused():
        return agent.failures >= 1 and "key_revoked" in agent.last_error

    await until(refused)
    assert await agent.outbox_size() >= 1   # kept for when a technician re-keys the kiosk
    assert "the fleet refuses this kiosk's key" in caplog.text
    await agent.stop(clean=False)
