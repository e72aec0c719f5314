"""Delivering alert notifications: a signed JSON webhook and e-mail through an SMTP relay.

The queue is durable (fleet.notify_queue): a notification is claimed with a lease, sent, and
marked delivered; a failure is retried with exponential backoff (first_retry_s doubling up to
max_retry_s) until max_attempts, then marked failed with its last error. A receiver may see a
notification twice (a crash between sending and marking it delivered): X-Fleet-Delivery names
each one, so it can drop repeats.

Webhook signature: X-Fleet-Signature is "sha256=" + hex HMAC-SHA256 under the shared secret of

    {X-Fleet-Timestamp}.{raw body}

so the receiver checks the body it got, and refuses old timestamps to stop replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import time
from email.message import EmailMessage

import aiohttp

from fleet.config import NotifyConfig
from fleet.notify_queue import NotificationQueue, NotifyChannel
from wire.fields import JsonObject

log = logging.getLogger(__name__)

HEADER_SIGNATURE = "X-Fleet-Signature"
HEADER_TIMESTAMP = "X-Fleet-Timestamp"
HEADER_DELIVERY = "X-Fleet-Delivery"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def configured_channels(config: NotifyConfig) -> tuple[NotifyChannel, ...]:
    channels = []
    if config.webhook.url:
        channels.append(NotifyChannel.WEBHOOK)
    if config.smtp.host and config.smtp.to:
        channels.append(NotifyChannel.EMAIL)
    return tuple(channels)


class DeliveryFailed(Exception):
    """One attempt did not get through; `reason` is what the operator sees in the queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def email_of(payload: JsonObject, sender: str, to: str) -> EmailMessage:
    alert, kiosk = payload["alert"], payload["kiosk"]
    kind = alert["kind"].replace("_", " ")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"[kiosk fleet] {kind}: {kiosk['kiosk_id']} ({kiosk['site']})"
    raised = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert["raised_at"]))
    message.set_content(
        f"Kiosk:   {kiosk['kiosk_id']}\n"
        f"Place:   {kiosk['region']} / {kiosk['site']}\n"
        f"Alert:   {kind}: {alert['subject']} ({alert['detail']})\n"
        f"Raised:  {raised}\n"
        f"Alert id {alert['id']}: acknowledge it on the dashboard.\n"
    )
    return message


class Notifier:
    """Sends due notifications from the store's queue, one worker per server process."""

    def __init__(self, store: NotificationQueue, config: NotifyConfig) -> None:
        self.store = store
        self.config = config
        self._http: aiohttp.ClientSession | None = None

    def backoff_s(self, attempts: int) -> float:
        return min(self.config.max_retry_s, self.config.first_retry_s * 2.0 ** (attempts - 1))

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.deliver_due()
                except Exception:  # a bad round must not end delivery; the next one retries
                    log.exception("notification round failed")
                await asyncio.sleep(self.config.poll_s)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def deliver_due(self, now: float | None = None) -> int:
        """Try every due notification once; returns how many got through."""
        now = time.time() if now is None else now
        sent = 0
        for item in await self.store.claim_due_notifications(now, self.config.lease_s):
            channel = NotifyChannel(item["channel"])
            try:
                if channel is NotifyChannel.WEBHOOK:
                    await self._webhook(item["id"], item["payload"].encode())
                else:
                    await self._email(json.loads(item["payload"]))
            except DeliveryFailed as exc:
                attempts = item["attempts"]
                if attempts >= self.config.max_attempts:
                    log.error(
                        "alert notification given up",
                        extra={
                            "channel": channel.value,
                            "reason": exc.reason,
                            "alert": item["alert_id"],
                        },
                    )
                    await self.store.notification_failed(item["id"], time.time(), exc.reason)
                else:
                    retry_at = time.time() + self.backoff_s(attempts)
                    log.warning(
                        "alert notification failed; will retry",
                        extra={
                            "channel": channel.value,
                            "reason": exc.reason,
                            "alert": item["alert_id"],
                        },
                    )
                    await self.store.notification_retry(item["id"], retry_at, exc.reason)
                continue
            await self.store.notification_delivered(item["id"], time.time())
            sent += 1
        return sent

    async def _webhook(self, notification_id: int, body: bytes) -> None:
        hook = self.config.webhook
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=hook.timeout_s))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: webhook_signature(hook.secret, timestamp, body),
            HEADER_DELIVERY: str(notification_id),
        }
        try:
            async with self._http.post(hook.url, data=body, headers=headers) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryFailed(f"unreachable: {type(exc).__name__}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"http {status}")

    async def _email(self, payload: JsonObject) -> None:
        smtp = self.config.smtp
        message = email_of(payload, smtp.sender, smtp.to)

        def send() -> None:  # smtplib blocks: it runs on a worker thread
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
                if smtp.starttls:
                    client.starttls()
                if smtp.username:
                    client.login(smtp.username, smtp.password)
                client.send_message(message)

        try:
            await asyncio.to_thread(send)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"smtp: {type(exc).__name__}: {str(exc)[:200]}") from exc
