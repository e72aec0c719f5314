"""The simulated backends as one aiohttp app: payment gateway, catalog, government services.

Each backend has its own fault switches (simulator.backend_faults), set through the control API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from aiohttp import web

from simulator.backend_faults import BackendFaults, faults_middleware
from simulator.gov_services import GovServices, add_service_routes
from simulator.hall_queue import QueueService, add_queue_routes
from simulator.hall_services import HallServices, add_hall_routes
from simulator.payment_gateway import PaymentGateway, add_payment_routes
from simulator.sms_gateway import SimClock, SmsGateway

BACKEND_PREFIXES = {
    "payment": "/pay/",
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


@dataclass
class CatalogService:
    """Publishes the catalog; `published` may be set to anything, broken catalogs included."""

    published: bytes = field(default_factory=reference_catalog)

    def version(self) -> str:
        try:
            return str(json.loads(self.published).get("version", ""))
        except (ValueError, AttributeError):
            return ""


@dataclass
class Backends:
    gateway: PaymentGateway = field(default_factory=PaymentGateway)
    catalog: CatalogService = field(default_factory=CatalogService)
    services: GovServices = field(init=False)
    faults: dict[str, BackendFaults] = field(
        default_factory=lambda: {name: BackendFaults() for name in BACKEND_PREFIXES}
    )
    clock: SimClock = field(default_factory=SimClock)
    sms: SmsGateway = field(init=False)
    hall: HallServices = field(init=False)
    queue: QueueService = field(init=False)

    def __post_init__(self) -> None:
        self.services = GovServices(self.gateway)
        self.sms = SmsGateway(self.clock, self.faults["sms"])
        self.hall = HallServices(self.services, self.clock, self.sms)
        self.queue = QueueService(self.clock)

    def app(self) -> web.Application:
        routes = web.RouteTableDef()
        add_payment_routes(routes, self.gateway, "/pay/v1")
        add_service_routes(routes, self.services)
        add_hall_routes(routes, self.hall)
        add_queue_routes(routes, self.queue)

        @routes.get("/catalog/v1/items")
        async def catalog_items(request: web.Request) -> web.Response:
            return web.Response(body=self.catalog.published, content_type="application/json")

        @routes.get("/health")
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app = web.Application(
            client_max_size=4 * 1024 * 1024,
            middlewares=[
                faults_middleware({BACKEND_PREFIXES[name]: f for name, f in self.faults.items()})
            ],
        )
        app.add_routes(routes)
        return app
