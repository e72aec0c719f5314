"""Simulated backend services over HTTP: the QR payment gateway and the exit-entry service.

Both behave like the real services as far as the kiosk can tell: orders are keyed by the
kiosk's `out_trade_no`, every mutating call is idempotent on its key, amounts are fen.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web


class OrderStatus(StrEnum):
    NOTPAY = "NOTPAY"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"


@dataclass
class Order:
    out_trade_no: str
    amount_fen: int
    description: str
    code_url: str
    status: OrderStatus = OrderStatus.NOTPAY
    created_at: float = field(default_factory=time.time)
    paid_at: float | None = None

    def as_json(self) -> dict:
        return {
            "out_trade_no": self.out_trade_no,
            "amount_fen": self.amount_fen,
            "description": self.description,
            "code_url": self.code_url,
            "status": self.status.value,
            "paid_at": self.paid_at,
        }


class PaymentGateway:
    """The ledger of a "native" QR payment service: create, query, close, and pay (by the phone)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self._by_code: dict[str, str] = {}

    def create(self, out_trade_no: str, amount_fen: int, description: str) -> Order:
        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing.amount_fen != amount_fen:
                raise web.HTTPConflict(reason="OUT_TRADE_NO_USED")
            return existing
        code_url = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(9)}"
        order = Order(out_trade_no, amount_fen, description, code_url)
        self.orders[out_trade_no] = order
        self._by_code[code_url] = out_trade_no
        return order

    def pay(self, *, out_trade_no: str | None = None, code_url: str | None = None) -> Order:
        if out_trade_no is None and code_url is not None:
            out_trade_no = self._by_code.get(code_url)
        order = self.orders.get(out_trade_no or "")
        if order is None:
            raise KeyError("ORDER_NOT_EXIST")
        if order.status is OrderStatus.NOTPAY:
            order.status = OrderStatus.SUCCESS
            order.paid_at = time.time()
        return order

    def close(self, out_trade_no: str) -> Order:
        order = self.orders[out_trade_no]
        if order.status is OrderStatus.NOTPAY:
            order.status = OrderStatus.CLOSED
        return order


ENDORSEMENT_TYPES = (
    # Fees as published for Hong Kong/Macau endorsements; the kiosk never computes them itself.
    {
        "code": "HK_TOURIST_1",
        "name_zh": "香港团队/个人旅游一次",
        "name_en": "Hong Kong tourist, once",
        "fee_fen": 1500,
    },
    {
        "code": "HK_TOURIST_2",
        "name_zh": "香港团队/个人旅游二次",
        "name_en": "Hong Kong tourist, twice",
        "fee_fen": 3000,
    },
    {
        "code": "MO_TOURIST_1",
        "name_zh": "澳门团队/个人旅游一次",
        "name_en": "Macau tourist, once",
        "fee_fen": 1500,
    },
)


class ExitEntryService:
    """Endorsement applications, idempotent on the kiosk's key; only paid orders are accepted."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway
        self.applications: dict[str, dict] = {}

    def submit(self, body: dict) -> dict:
        key = body["idempotency_key"]
        if key in self.applications:
            return self.applications[key]
        order = self.gateway.orders.get(body.get("out_trade_no", ""))
        fee = next(
            (t["fee_fen"] for t in ENDORSEMENT_TYPES if t["code"] == body["endorsement"]), None
        )
        if fee is None:
            raise web.HTTPBadRequest(reason="UNKNOWN_ENDORSEMENT")
        if order is None or order.status is not OrderStatus.SUCCESS or order.amount_fen != fee:
            raise web.HTTPPaymentRequired(reason="NOT_PAID")
        application = {
            "application_id": f"EE{len(self.applications) + 1:08d}",
            "status": "approved",
            "endorsement": body["endorsement"],
            "valid_until": time.strftime("%Y-%m-%d", time.localtime(time.time() + 90 * 86400)),
        }
        self.applications[key] = application
        return application


def _json_error(exc: web.HTTPException) -> web.Response:
    return web.json_response({"error": exc.reason}, status=exc.status)


def build_backends_app(gateway: PaymentGateway, exit_entry: ExitEntryService) -> web.Application:
    """One aiohttp app serving `/pay/v1/...` and `/exit-entry/v1/...`."""
    routes = web.RouteTableDef()

    @routes.post("/pay/v1/orders")
    async def create_order(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            amount = body["amount_fen"]
            if not isinstance(amount, int) or amount <= 0:
                raise web.HTTPBadRequest(reason="INVALID_AMOUNT")
            order = gateway.create(
                str(body["out_trade_no"]), amount, str(body.get("description", ""))
            )
        except web.HTTPException as exc:
            return _json_error(exc)
        except KeyError:
            return _json_error(web.HTTPBadRequest(reason="PARAM_ERROR"))
        return web.json_response(order.as_json())

    @routes.get("/pay/v1/orders/{out_trade_no}")
    async def query_order(request: web.Request) -> web.Response:
        order = gateway.orders.get(request.match_info["out_trade_no"])
        if order is None:
            return web.json_response({"error": "ORDER_NOT_EXIST"}, status=404)
        return web.json_response(order.as_json())

    @routes.post("/pay/v1/orders/{out_trade_no}/close")
    async def close_order(request: web.Request) -> web.Response:
        try:
            order = gateway.close(request.match_info["out_trade_no"])
        except KeyError:
            return web.json_response({"error": "ORDER_NOT_EXIST"}, status=404)
        return web.json_response(order.as_json())

    @routes.get("/exit-entry/v1/endorsement-types")
    async def endorsement_types(request: web.Request) -> web.Response:
        return web.json_response({"types": list(ENDORSEMENT_TYPES)})

    @routes.post("/exit-entry/v1/applications")
    async def submit_application(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            return web.json_response(exit_entry.submit(body))
        except web.HTTPException as exc:
            return _json_error(exc)
        except KeyError:
            return _json_error(web.HTTPBadRequest(reason="PARAM_ERROR"))

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(routes)
    return app
