"""Alert notifications from the real fleet server: a signed webhook to a local receiver that
fails at first (retried with backoff, kept across a server restart), and e-mail through a local
SMTP sink (aiosmtpd) standing in for the relay."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import time
from dataclasses import replace

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from fleet.config import NotifyConfig, SmtpConfig, WebhookConfig
from tests.fleet.fleetkit import Fleet, config_for, free_port

SECRET = "shared-webhook-secret"
JAM = [{"device": "printer", "health": "fault", "reason": "paper_jam", "supplies": []}]


class Receiver:
    """A webhook endpoint that answers 503 to the first `fail_first` deliveries."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[float, dict[str, str], bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((time.monotonic(), dict(request.headers), await request.read()))
        if len(self.calls) <= self.fail_first:
            return web.Response(status=503)
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


async def until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def receiver():
    r = Receiver(fail_first=2)
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


async def test_alerts_go_out_by_signed_webhook_with_retries_and_by_email(
    backend, tmp_path, request, receiver, sink
):
    handler, smtp_port = sink
    notify = NotifyConfig(
        webhook=WebhookConfig(url=receiver.url, secret=SECRET),
        smtp=SmtpConfig(
            host="127.0.0.1", port=smtp_port, sender="fleet@example.org", to="ops@example.org"
        ),
        poll_s=0.05,
        first_retry_s=0.2,
    )
    pg = request.getfixturevalue("pg_dsn") if backend == "postgresql" else None
    config = replace(await config_for(backend, tmp_path, pg), notify=notify)
    fleet = Fleet(config)
    await fleet.start()
    try:
        kiosk = await fleet.enroll_kiosk("ZS-HALL-02", site="city-hall", region="zhongshan")
        await fleet.heartbeat(kiosk, devices=JAM)
        (alert,) = await fleet.store.list_alerts()

        async def delivered() -> bool:
            rows = await fleet.store.list_notifications(alert["id"])
            return all(r["delivered_at"] is not None for r in rows)

        await until(delivered)
    finally:
        await fleet.close()
    rows = {r["channel"]: r for r in await fleet_rows(config)}
    assert rows["webhook"]["attempts"] == 3 and rows["email"]["attempts"] == 1
    # The receiver was refused twice, then got it; the waits between grew.
    assert len(receiver.calls) == 3
    (t1, _, _), (t2, _, _), (t3, headers, body) = receiver.calls
    assert t3 - t2 > (t2 - t1) * 1.5
    # Signed: HMAC-SHA256 over "timestamp.body" with the shared secret; the same body each time.
    timestamp = headers["X-Fleet-Timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert headers["X-Fleet-Signature"] == "sha256=" + mac.hexdigest()
    assert abs(int(timestamp) - time.time()) < 60
    assert {c[2] for c in receiver.calls} == {body}
    import json

    payload = json.loads(body)
    assert payload["alert"]["kind"] == "device_fault" and payload["alert"]["detail"] == "paper_jam"
    assert payload["kiosk"] == {
        "kiosk_id": "ZS-HALL-02",
        "site": "city-hall",
        "region": "zhongshan",
    }
    (message,) = handler.messages
    assert message["To"] == "ops@example.org"
    assert "ZS-HALL-02" in message["Subject"] and "device fault" in message["Subject"]
    assert "paper_jam" in message.get_payload()


async def fleet_rows(config):
    from fleet.app import open_store

    store = await open_store(config)
    try:
        return await store.list_notifications()
    finally:
        await store.close()


async def test_a_notification_queued_before_a_server_restart_is_still_delivered(tmp_path):
    receiver = Receiver(fail_first=0)
    await receiver.start()
    notify = NotifyConfig(
        webhook=WebhookConfig(url=receiver.url, secret=SECRET), poll_s=0.05, first_retry_s=0.2
    )
    config = replace(await config_for("sqlite", tmp_path, None), notify=notify)
    fleet = Fleet(config)
    await fleet.start()
    try:
        kiosk = await fleet.enroll_kiosk("K-A")
        await receiver.stop()  # the receiver is down when the alert is raised
        await fleet.heartbeat(kiosk, devices=JAM)
        await asyncio.sleep(0.3)
        await fleet.stop_server()  # and the server restarts before it is back
        (row,) = await fleet_rows(config)
        assert row["delivered_at"] is None and row["attempts"] >= 1 and row["last_error"]
        await receiver.start()
        fleet.config = replace(
            config, notify=replace(notify, webhook=replace(notify.webhook, url=receiver.url))
        )
        await fleet.start()

        async def delivered() -> bool:
            return bool(receiver.calls)

        await until(delivered)
    finally:
        await fleet.close()
        await receiver.stop()
    (_, headers, body) = receiver.calls[0]
    assert b'"kiosk_id":"K-A"' in body and headers["X-Fleet-Delivery"] == str(row["id"])
