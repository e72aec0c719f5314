"""Payment notifications: the gateway tells the merchant's server whenever an order changes, as
the real QR payment services call the merchant's notify URL.

A kiosk has no public address, so the merchant's server is the payment platform's notification
relay (a government backend the kiosks already reach): the gateway POSTs each notification,
signed with the merchant key, to the relay; the relay checks the signature and keeps every
notification per order; a kiosk reads them by order number. Delivery is at least once, as with
the real services: a notification may come twice, late, or after a newer one. The gateway's
query stays the source of truth; a notification is a second witness of the same facts.

A kiosk waiting for a payment asks with `after` (how many it holds) and `wait_s`: the relay holds
the request until there are more (or the wait is over), so a notification reaches the kiosk as
it arrives, without a poll interval.

Faults (`NotificationSender`): `duplicate` (each notification delivered twice), `delay_s`
(held before delivery, so a newer one can overtake it), `drop` (never delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Notify-Signature"
MAX_WAIT_S = 30.0   # the longest the relay holds a kiosk's request
HANG_UP_CHECK_S = 0.1   # how soon a held request notices that its kiosk hung up


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass
class NotificationSender:
    """The gateway's side: one delivery task per notification, retried until the relay says 200."""

    key: bytes
    url: str = ""  # the relay's receiving URL; "" = nobody to notify
    duplicate: bool = False
    delay_s: float = 0.0
    drop: bool = False
    in_flight: int = 0
    sent: int = 0
    _seq: dict[str, int] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def settings(self) -> dict:
        return {"duplicate": self.duplicate, "delay_s": self.delay_s, "drop": self.drop}

    def update(self, body: dict) -> None:
        for name in ("duplicate", "drop"):
            if name in body:
                setattr(self, name, bool(body[name]))
        if "delay_s" in body:
            self.delay_s = float(body["delay_s"])

    def reset(self) -> None:
        self.duplicate, self.delay_s, self.drop = False, 0.0, False
        self._seq.clear()

    def __call__(self, order: Any) -> None:
        """Called by the gateway on every change of an order."""
        if not self.url or self.drop:
            return
        number = order.out_trade_no
        self._seq[number] = self._seq.get(number, 0) + 1
        payload = {"notify_id": secrets.token_hex(8), "seq": self._seq[number],
                   **{k: v for k, v in order.as_json().items() if k != "code_url"}}
        for _ in range(2 if self.duplicate else 1):
            self.in_flight += 1  # counted from now: a test waits until every one is delivered
            task = asyncio.get_running_loop().create_task(self._deliver(payload, self.delay_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, payload: dict, delay_s: float) -> None:
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            body = json.dumps(payload, sort_keys=True).encode()
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
            for attempt in range(5):
                try:
                    async with self._session.post(
                        self.url, data=body, headers={SIGNATURE_HEADER: sign(self.key, body),
                                                      "Content-Type": "application/json"}
                    ) as resp:
                        if resp.status == 200:
                            self.sent += 1
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05 * 2**attempt)
            log.warning("notification for %s not delivered", payload["out_trade_no"])
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class NotificationRelay:
    """The platform's side: verified notifications, kept per order in the order they came."""

    key: bytes
    by_order: dict[str, list[dict]] = field(default_factory=dict)
    refused: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)  # replaced at each arrival

    def receive(self, body: bytes, signature: str) -> bool:
        if not hmac.compare_digest(sign(self.key, body), signature):
            self.refused += 1
            return False
        payload = json.loads(body)
        self.by_order.setdefault(str(payload["out_trade_no"]), []).append(payload)
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()
        return True

    async def more_than(self, out_trade_no: str, after: int, wait_s: float,
                        gone: Callable[[], bool] = lambda: False) -> list[dict]:
        """The order's notifications once there are more than `after`, or when `wait_s` is
        over, or as soon as the asker has hung up (`gone`: a kiosk paid otherwise, or cut off)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(self.by_order.get(out_trade_no, [])) <= after and not gone():
            left = deadline - loop.time()
            if left <= 0:
                break
            # In slices: a held request whose kiosk has gone must not count as in flight for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, HANG_UP_CHECK_S))
        return self.by_order.get(out_trade_no, [])

    def reset(self) -> None:
        self.by_order.clear()


def add_notification_routes(routes: web.RouteTableDef, relay: NotificationRelay,
                            prefix: str) -> None:
    @routes.post(f"{prefix}/payments")
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            accepted = relay.receive(body, request.headers.get(SIGNATURE_HEADER, ""))
        except (ValueError, KeyError):
            accepted = False
        if not accepted:
            return web.json_response({"code": "FAIL", "message": "SIGN_ERROR"}, status=401)
        return web.json_response({"code": "SUCCESS"})

    @routes.get(f"{prefix}/orders/{{out_trade_no}}")
    async def for_order(request: web.Request) -> web.Response:
        number = request.match_info["out_trade_no"]
        try:
            after = int(request.query.get("after", "0"))
            wait_s = min(max(float(request.query.get("wait_s", "0")), 0.0), MAX_WAIT_S)
        except ValueError:
            return web.json_response({"code": "PARAM_ERROR", "message": "after, wait_s"},
                                     status=400)
        def gone() -> bool:
            return request.transport is None or request.transport.is_closing()

        found = await relay.more_than(number, after, wait_s, gone)
        return web.json_response({"out_trade_no": number, "notifications": found})
