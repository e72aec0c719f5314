"""A QR payment gateway as the Chinese QR payment services behave, keyed by `out_trade_no`.

- native: the kiosk creates an order and shows its `code_url`; the citizen's phone pays it.
- micropay: the kiosk scans the citizen's 18-digit payment code; the payment may need the
  citizen's confirmation on the phone (USERPAYING) before it succeeds.
- query, close (an unpaid order can no longer be paid), reverse (a micropay undone; reversing a
  trade number the gateway never saw bars it, so a micropay request that arrives late can never
  take money after the kiosk gave it up), refund (keyed by `out_refund_no`, idempotent, never
  more than was paid).
- the phone: pays a native order, or confirms a micropay that waits for the citizen.
- notifications: every change of an order (paid, closed, reversed, refunded) is handed to
  `notify`, as the real services call the merchant's notify URL.
Every call is idempotent on its key; amounts are integer fen.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web


class OrderStatus(StrEnum):
    NOTPAY = "NOTPAY"
    USERPAYING = "USERPAYING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"
    REVOKED = "REVOKED"
    REFUND = "REFUND"


PAYMENT_CODE = re.compile(r"^1[0-5]\d{16}$")


@dataclass
class Refund:
    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    created_at: float = field(default_factory=time.time)

    def as_json(self) -> dict:
        return {
            "out_refund_no": self.out_refund_no,
            "out_trade_no": self.out_trade_no,
            "amount_fen": self.amount_fen,
            "status": "SUCCESS",
            "created_at": self.created_at,
        }


@dataclass
class Order:
    out_trade_no: str
    amount_fen: int
    description: str
    kind: str  # "native" or "micropay"
    code_url: str = ""
    status: OrderStatus = OrderStatus.NOTPAY
    created_at: float = field(default_factory=time.time)
    paid_at: float | None = None
    refunded_fen: int = 0
    payments: int = 0  # times money was taken for this order: must never exceed 1

    def as_json(self) -> dict:
        return {
            "out_trade_no": self.out_trade_no,
            "amount_fen": self.amount_fen,
            "description": self.description,
            "kind": self.kind,
            "code_url": self.code_url,
            "status": self.status.value,
            "paid_at": self.paid_at,
            "refunded_fen": self.refunded_fen,
        }


class GatewayError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


class PaymentGateway:
    """The gateway's ledger. `micropay_confirm_s` > 0 makes micropay wait for the phone."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.refunds: dict[str, Refund] = {}
        self._by_code: dict[str, str] = {}
        self.micropay_confirm_s = 0.0
        self.insufficient_funds_codes: set[str] = set()
        self.notify: Callable[[Order], None] | None = None

    def reset(self) -> None:
        """An empty ledger and default settings (between test runs)."""
        self.orders.clear()
        self.refunds.clear()
        self._by_code.clear()
        self.micropay_confirm_s = 0.0
        self.insufficient_funds_codes = set()

    def _changed(self, order: Order) -> None:
        if self.notify is not None:
            self.notify(order)

    def create_native(self, out_trade_no: str, amount_fen: int, description: str) -> Order:
        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing.amount_fen != amount_fen or existing.kind != "native":
                raise GatewayError(409, "OUT_TRADE_NO_USED")
            return existing
        code_url = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(9)}"
        order = Order(out_trade_no, amount_fen, description, "native", code_url)
        self.orders[out_trade_no] = order
        self._by_code[code_url] = out_trade_no
        return order

    def micropay(
        self, out_trade_no: str, amount_fen: int, auth_code: str, description: str
    ) -> Order:
        if not PAYMENT_CODE.match(auth_code):
            raise GatewayError(400, "AUTH_CODE_INVALID")
        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing.amount_fen != amount_fen or existing.kind != "micropay":
                raise GatewayError(409, "OUT_TRADE_NO_USED")
            if existing.status is OrderStatus.REVOKED and existing.payments == 0:
                raise GatewayError(409, "ORDER_REVERSED")  # barred before it arrived
            self._settle_micropay(existing)
            return existing
        if auth_code in self.insufficient_funds_codes:
            raise GatewayError(402, "NOTENOUGH")
        order = Order(out_trade_no, amount_fen, description, "micropay")
        self.orders[out_trade_no] = order
        if self.micropay_confirm_s > 0:
            order.status = OrderStatus.USERPAYING
        else:
            self._take(order)
        return order

    def _settle_micropay(self, order: Order) -> None:
        if (
            order.status is OrderStatus.USERPAYING
            and time.time() - order.created_at >= self.micropay_confirm_s
        ):
            self._take(order)

    def settle_due(self) -> None:
        """Micropays whose citizen confirmed in time are taken (before a ledger is read)."""
        for order in self.orders.values():
            if order.kind == "micropay":
                self._settle_micropay(order)

    def confirm(self, out_trade_no: str) -> Order:
        """The citizen confirms a waiting micropay on the phone."""
        order = self._get(out_trade_no)
        if order.status is OrderStatus.USERPAYING:
            self._take(order)
        elif order.status is not OrderStatus.SUCCESS:
            raise GatewayError(409, "ORDER_CLOSED")
        return order

    def _take(self, order: Order) -> None:
        order.status = OrderStatus.SUCCESS
        order.paid_at = time.time()
        order.payments += 1
        self._changed(order)

    def query(self, out_trade_no: str) -> Order:
        order = self._get(out_trade_no)
        if order.kind == "micropay":
            self._settle_micropay(order)
        return order

    def pay(self, *, out_trade_no: str | None = None, code_url: str | None = None) -> Order:
        """The citizen's phone pays a native order (scanned QR code)."""
        if out_trade_no is None and code_url is not None:
            out_trade_no = self._by_code.get(code_url)
        order = self._get(out_trade_no or "")
        if order.status is OrderStatus.NOTPAY:
            self._take(order)
        elif order.status is OrderStatus.CLOSED:
            raise GatewayError(409, "ORDER_CLOSED")
        return order

    def close(self, out_trade_no: str) -> Order:
        order = self._get(out_trade_no)
        if order.kind == "micropay":
            self._settle_micropay(order)
        if order.status in (OrderStatus.NOTPAY, OrderStatus.USERPAYING):
            order.status = OrderStatus.CLOSED
            self._changed(order)
        return order

    def reverse(self, out_trade_no: str, amount_fen: int | None = None) -> Order:
        """Undo a micropay: a paid one is refunded in full, an unpaid one can no longer pay.

        A trade number the gateway never saw is barred (a reversed order with nothing paid), so
        its micropay request, if it was only delayed, is refused when it arrives."""
        order = self.orders.get(out_trade_no)
        if order is None:
            order = Order(out_trade_no, amount_fen or 0, "", "micropay", status=OrderStatus.REVOKED)
            self.orders[out_trade_no] = order
            return order
        if order.kind == "micropay":
            self._settle_micropay(order)
        if order.status is OrderStatus.SUCCESS:
            order.refunded_fen = order.amount_fen
            order.status = OrderStatus.REVOKED
            self._changed(order)
        elif order.status in (OrderStatus.NOTPAY, OrderStatus.USERPAYING):
            order.status = OrderStatus.REVOKED
            self._changed(order)
        return order

    def refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int) -> Refund:
        existing = self.refunds.get(out_refund_no)
        if existing is not None:
            if existing.out_trade_no != out_trade_no or existing.amount_fen != amount_fen:
                raise GatewayError(409, "OUT_REFUND_NO_USED")
            return existing
        order = self._get(out_trade_no)
        if order.status not in (OrderStatus.SUCCESS, OrderStatus.REFUND):
            raise GatewayError(409, "ORDER_NOT_PAID")
        if amount_fen <= 0 or order.refunded_fen + amount_fen > order.amount_fen:
            raise GatewayError(400, "REFUND_AMOUNT_INVALID")
        refund = Refund(out_refund_no, out_trade_no, amount_fen)
        self.refunds[out_refund_no] = refund
        order.refunded_fen += amount_fen
        order.status = OrderStatus.REFUND
        self._changed(order)
        return refund

    def _get(self, out_trade_no: str) -> Order:
        order = self.orders.get(out_trade_no)
        if order is None:
            raise GatewayError(404, "ORDER_NOT_EXIST")
        return order


def add_payment_routes(routes: web.RouteTableDef, gateway: PaymentGateway, prefix: str) -> None:
    def answer(fn):
        async def handler(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.body_exists else {}
                result = fn(request, body)
            except GatewayError as exc:
                return web.json_response({"error": exc.code}, status=exc.status)
            except (KeyError, TypeError, ValueError):
                return web.json_response({"error": "PARAM_ERROR"}, status=400)
            return web.json_response(result.as_json())

        return handler

    def amount(body: dict) -> int:
        value = body["amount_fen"]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError("amount")
        return value

    routes.post(f"{prefix}/orders")(
        answer(
            lambda r, b: gateway.create_native(
                str(b["out_trade_no"]), amount(b), str(b.get("description", ""))
            )
        )
    )
    routes.post(f"{prefix}/micropay")(
        answer(
            lambda r, b: gateway.micropay(
                str(b["out_trade_no"]),
                amount(b),
                str(b["auth_code"]),
                str(b.get("description", "")),
            )
        )
    )
    routes.get(f"{prefix}/orders/{{out_trade_no}}")(
        answer(lambda r, b: gateway.query(r.match_info["out_trade_no"]))
    )
    routes.post(f"{prefix}/orders/{{out_trade_no}}/close")(
        answer(lambda r, b: gateway.close(r.match_info["out_trade_no"]))
    )
    routes.post(f"{prefix}/orders/{{out_trade_no}}/reverse")(
        answer(lambda r, b: gateway.reverse(r.match_info["out_trade_no"],
                                            int(b.get("amount_fen", 0) or 0)))
    )
    routes.post(f"{prefix}/refunds")(
        answer(
            lambda r, b: gateway.refund(str(b["out_refund_no"]), str(b["out_trade_no"]), amount(b))
        )
    )
