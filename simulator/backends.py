"""The simulated backends as one aiohttp app: payment gateway, its notification relay, catalog,
government services.

Each backend has its own fault switches and rules (simulator.backend_faults), set through the
control API, and every request is in one call log.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from importlib import resources

from aiohttp import web

from simulator.backend_faults import BackendFaults, CallLog, faults_middleware
from simulator.gov_services import GovServices, add_service_routes
from simulator.hall_queue import QueueService, add_queue_routes
from simulator.hall_services import HallServices, add_hall_routes
from simulator.payment_gateway import GatewayError, PaymentGateway, add_payment_routes
from simulator.payment_notifications import (
    NotificationRelay,
    NotificationSender,
    add_notification_routes,
)
from simulator.sms_gateway import SimClock, SmsGateway

BACKEND_PREFIXES = {
    "payment": "/pay/",
    "notify": "/notify/",
    "catalog": "/catalog/",
    "exit_entry": "/exit-entry/",
    "utility": "/utility/",
    "certificates": "/certificates/",
    "queue": "/queue/",
    "progress": "/progress/",
    "documents": "/documents/",
    "evaluation": "/evaluation/",
    "fines": "/fines/",
    "sms": "/sms/",  # the gateway the backends send through: its faults delay their messages
}


def reference_catalog() -> bytes:
    return resources.files("simulator").joinpath("assets/reference_catalog.json").read_bytes()


class CatalogService:
    """Publishes the catalog; `published` may be set to anything, broken catalogs included.

    It answers conditional requests as a real publisher does: an ETag of the content and the
    time it was last published (Last-Modified), 304 Not Modified when the kiosk's copy is the
    current one, gzip when the kiosk accepts it.
    """

    def __init__(self, published: bytes | None = None) -> None:
        self.published = reference_catalog() if published is None else published
        self.not_modified = 0  # 304s answered, for tests that ask whether the kiosk asked well

    @property
    def published(self) -> bytes:
        return self._published

    @published.setter
    def published(self, raw: bytes) -> None:
        self._published = raw
        self.etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        # HTTP dates have whole seconds: a change within the same second must still be seen,
        # so the date is never earlier than the previous one plus a second.
        previous = getattr(self, "modified_at", 0.0)
        self.modified_at = max(float(int(time.time())), previous + 1.0)

    def version(self) -> str:
        try:
            return str(json.loads(self.published).get("version", ""))
        except (ValueError, AttributeError):
            return ""

    def answer(self, request: web.Request) -> web.Response:
        """RFC 9110 §13.1: If-None-Match decides when present; else If-Modified-Since."""
        headers = {"ETag": self.etag, "Last-Modified": formatdate(self.modified_at, usegmt=True),
                   "Cache-Control": "no-cache"}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            fresh = self.etag in (tag.strip() for tag in if_none_match.split(","))
        else:
            since = request.if_modified_since
            fresh = since is not None and self.modified_at <= since.timestamp()
        if fresh:
            self.not_modified += 1
            return web.Response(status=304, headers=headers)
        response = web.Response(body=self.published, content_type="application/json",
                                headers=headers)
        response.enable_compression()  # gzip only if the request accepts it
        return response


@dataclass
class Backends:
    gateway: PaymentGateway = field(default_factory=PaymentGateway)
    catalog: CatalogService = field(default_factory=CatalogService)
    services: GovServices = field(init=False)
    faults: dict[str, BackendFaults] = field(
        default_factory=lambda: {name: BackendFaults() for name in BACKEND_PREFIXES}
    )
    calls: CallLog = field(default_factory=CallLog)
    merchant_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    notifier: NotificationSender = field(init=False)
    relay: NotificationRelay = field(init=False)
    clock: SimClock = field(default_factory=SimClock)
    sms: SmsGateway = field(init=False)
    hall: HallServices = field(init=False)
    queue: QueueService = field(init=False)

    def __post_init__(self) -> None:
        self.services = GovServices(self.gateway)
        self.sms = SmsGateway(self.clock, self.faults["sms"])
        self.hall = HallServices(self.services, self.clock, self.sms)
        self.queue = QueueService(self.clock)
        self.notifier = NotificationSender(self.merchant_key)
        self.relay = NotificationRelay(self.merchant_key)
        self.gateway.notify = self.notifier

    def serving_at(self, base_url: str) -> None:
        """Where the app listens: the gateway's notifications go to the relay there."""
        self.notifier.url = f"{base_url.rstrip('/')}/notify/v1/payments"

    def reset(self) -> None:
        """Empty ledgers, no faults, an empty call log (between test runs)."""
        self.gateway.reset()
        self.services.reset()
        self.relay.reset()
        self.notifier.reset()
        for faults in self.faults.values():
            faults.clear()
        self.calls.clear()

    @property
    def in_flight(self) -> int:
        """Requests still being handled and notifications still being delivered."""
        return self.calls.in_flight + self.notifier.in_flight

    def ledgers(self) -> dict:
        """Everything the backends recorded, for reconciliation checks."""
        self.gateway.settle_due()
        services = self.services
        return {
            "orders": [dict(o.as_json(), payments=o.payments)
                       for o in self.gateway.orders.values()],
            "refunds": [r.as_json() for r in self.gateway.refunds.values()],
            "applications": services.applications,
            "bill_payments": services.bill_payments,
            "certificates": services.certificates,
            "credit_reports": services.credit_reports,
            "tickets": services.tickets,
            "notifications": self.relay.by_order,
        }

    def app(self) -> web.Application:
        routes = web.RouteTableDef()
        add_payment_routes(routes, self.gateway, "/pay/v1")
        add_notification_routes(routes, self.relay, "/notify/v1")
        add_service_routes(routes, self.services)
        add_hall_routes(routes, self.hall)
        add_queue_routes(routes, self.queue)

        @routes.get("/catalog/v1/items")
        async def catalog_items(request: web.Request) -> web.Response:
            return self.catalog.answer(request)

        @routes.get("/health")
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        async def close_notifier(app: web.Application) -> None:
            await self.notifier.close()

        app = web.Application(
            client_max_size=4 * 1024 * 1024,
            middlewares=[faults_middleware(
                {BACKEND_PREFIXES[name]: (name, f) for name, f in self.faults.items()},
                self.calls)],
        )
        app.add_routes(routes)
        app.on_cleanup.append(close_notifier)
        return app


def add_backend_control_routes(routes: web.RouteTableDef, backends: Backends) -> None:
    """Control API of the backends: their ledgers and call log, a reset, the citizen's phone
    confirming a micropay, and the notification faults."""

    @routes.get("/backends/ledgers")
    async def ledgers(request: web.Request) -> web.Response:
        return web.json_response(backends.ledgers())

    @routes.get("/backends/calls")
    async def calls(request: web.Request) -> web.Response:
        return web.json_response({**backends.calls.as_json(), "in_flight": backends.in_flight})

    @routes.post("/backends/reset")
    async def reset(request: web.Request) -> web.Response:
        backends.reset()
        return web.json_response({"reset": True})

    @routes.post("/payment/confirm")
    async def confirm(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            order = backends.gateway.confirm(str(body["out_trade_no"]))
        except GatewayError as exc:
            return web.json_response({"error": exc.code}, status=exc.status)
        return web.json_response(order.as_json())

    @routes.post("/notify/settings")
    async def notify_settings(request: web.Request) -> web.Response:
        backends.notifier.update(await request.json())
        return web.json_response(backends.notifier.settings())
