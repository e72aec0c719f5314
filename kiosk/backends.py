"""aiohttp clients of the backends: the QR payment gateway and the exit-entry service.

One session per client (connection reuse), a deadline on every call, typed errors.
The wire shapes live here, in one place.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from kiosk.json_object import JsonObject


class BackendReason(StrEnum):
    UNREACHABLE = "backend_unreachable"
    TIMEOUT = "backend_timeout"
    REJECTED = "backend_rejected"
    BAD_RESPONSE = "backend_bad_response"


class BackendError(Exception):
    def __init__(
        self, reason: BackendReason, detail: str = "", status: int = 0, code: str = ""
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status  # HTTP status when the backend answered
        self.code = code  # the backend's own error code, e.g. ORDER_NOT_EXIST

    @property
    def refused(self) -> bool:
        """The backend definitely refused: it answered that it did not (and will not) do it.

        Only a 4xx answer says so. A 5xx, a time-out, a dropped connection or an answer that
        cannot be read leave the outcome unknown: the call may have been carried out. The one
        place this is decided; retries, payments, submissions and settling all ask it."""
        return self.reason is BackendReason.REJECTED and 400 <= self.status < 500 \
            and self.status not in (408, 429)


class _JsonClient:
    """JSON over HTTP with one reused session, a deadline per call, and retries with backoff
    only for calls that are safe to repeat (reads, and writes carrying an idempotency key)."""

    def __init__(
        self, base_url: str, deadline_s: float, retries: int = 2, backoff_s: float = 0.3
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = aiohttp.ClientTimeout(total=deadline_s)
        self.retries = retries
        self.backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, method: str, path: str, body: JsonObject | None = None, idempotency_key: str | None = None,
        deadline_s: float | None = None,
    ) -> JsonObject:
        repeatable = method == "GET" or idempotency_key is not None
        attempts = 1 + (self.retries if repeatable else 0)
        for attempt in range(attempts):
            try:
                return await self._once(method, path, body, idempotency_key, deadline_s)
            except BackendError as exc:
                if exc.refused or attempt == attempts - 1:
                    raise
                await asyncio.sleep(self.backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, path: str, body: JsonObject | None, idempotency_key: str | None,
        deadline_s: float | None = None,
    ) -> JsonObject:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.deadline)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        if body is not None and idempotency_key:
            body = {**body, "idempotency_key": idempotency_key}
        try:
            # Never timeout=None: aiohttp reads it as "no deadline at all".
            timeout = aiohttp.ClientTimeout(total=deadline_s) if deadline_s else self.deadline
            async with self._session.request(
                method, self.base_url + path, json=body, headers=headers, timeout=timeout
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError as exc:
                    raise BackendError(
                        BackendReason.BAD_RESPONSE, f"{path}: not JSON", resp.status
                    ) from exc
                if resp.status >= 400:
                    error = data.get("error", "") if isinstance(data, dict) else ""
                    raise BackendError(
                        BackendReason.REJECTED,
                        f"{path}: {resp.status} {error}",
                        resp.status,
                        str(error),
                    )
                if not isinstance(data, dict):
                    raise BackendError(BackendReason.BAD_RESPONSE, f"{path}: not an object")
                return data
        except TimeoutError as exc:
            raise BackendError(BackendReason.TIMEOUT, path) from exc
        except aiohttp.ClientError as exc:
            raise BackendError(
                BackendReason.UNREACHABLE, f"{path}: {exc.__class__.__name__}"
            ) from exc


class OrderStatus(StrEnum):
    NOTPAY = "NOTPAY"
    USERPAYING = "USERPAYING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"
    REVOKED = "REVOKED"
    REFUND = "REFUND"


@dataclass(frozen=True)
class PaymentOrder:
    out_trade_no: str
    amount_fen: int
    code_url: str
    status: OrderStatus
    refunded_fen: int = 0
    paid_at: float | None = None

    @property
    def money_taken(self) -> bool:
        return self.status in (OrderStatus.SUCCESS, OrderStatus.REFUND) or (
            self.status is OrderStatus.REVOKED and self.refunded_fen > 0
        )

    @classmethod
    def from_json(cls, data: JsonObject) -> PaymentOrder:
        try:
            return cls(
                str(data["out_trade_no"]),
                int(data["amount_fen"]),
                str(data.get("code_url", "")),
                OrderStatus(data["status"]),
                int(data.get("refunded_fen", 0)),
                data.get("paid_at"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise BackendError(BackendReason.BAD_RESPONSE, "payment order") from exc


class PaymentClient(_JsonClient):
    """The QR payment gateway: native orders, micropay, query, close, reverse, refund.

    Every mutating call is keyed by `out_trade_no` / `out_refund_no`, so each is safe to retry.
    """

    async def create_order(
        self, out_trade_no: str, amount_fen: int, description: str
    ) -> PaymentOrder:
        _check_amount(amount_fen)
        return PaymentOrder.from_json(
            await self._call(
                "POST",
                "/orders",
                {
                    "out_trade_no": out_trade_no,
                    "amount_fen": amount_fen,
                    "description": description,
                },
                idempotency_key=out_trade_no,
            )
        )

    async def micropay(
        self, out_trade_no: str, amount_fen: int, auth_code: str, description: str
    ) -> PaymentOrder:
        _check_amount(amount_fen)
        return PaymentOrder.from_json(
            await self._call(
                "POST",
                "/micropay",
                {
                    "out_trade_no": out_trade_no,
                    "amount_fen": amount_fen,
                    "auth_code": auth_code,
                    "description": description,
                },
                idempotency_key=out_trade_no,
            )
        )

    async def query_order(self, out_trade_no: str) -> PaymentOrder:
        return PaymentOrder.from_json(await self._call("GET", f"/orders/{out_trade_no}"))

    async def close_order(self, out_trade_no: str) -> PaymentOrder:
        return PaymentOrder.from_json(
            await self._call(
                "POST", f"/orders/{out_trade_no}/close", {}, idempotency_key=out_trade_no
            )
        )

    async def reverse_order(self, out_trade_no: str, amount_fen: int = 0) -> PaymentOrder:
        return PaymentOrder.from_json(
            await self._call(
                "POST", f"/orders/{out_trade_no}/reverse", {"amount_fen": amount_fen},
                idempotency_key=out_trade_no
            )
        )

    async def refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int) -> JsonObject:
        _check_amount(amount_fen)
        return await self._call(
            "POST",
            "/refunds",
            {
                "out_refund_no": out_refund_no,
                "out_trade_no": out_trade_no,
                "amount_fen": amount_fen,
            },
            idempotency_key=out_refund_no,
        )


def _check_amount(amount_fen: int) -> None:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValueError("amount_fen must be a positive integer")


class ServiceClient(_JsonClient):
    """A government backend: reads, and submissions idempotent on the transaction's key.

    A submission's deadline allows for its size at `link_floor_bps`, the slowest link the kiosk
    must work through: a fixed deadline cuts a big upload off on every attempt.
    """

    def __init__(self, base_url: str, deadline_s: float, retries: int = 2,
                 backoff_s: float = 0.3, link_floor_bps: int = 0) -> None:
        super().__init__(base_url, deadline_s, retries, backoff_s)
        self.link_floor_bps = link_floor_bps

    def deadline_for(self, body: JsonObject) -> float:
        """Seconds a submission of `body` may take: the usual deadline plus its transfer time."""
        base = self.deadline.total or 0.0
        if not self.link_floor_bps:
            return base
        size = len(json.dumps(body, separators=(",", ":")).encode())
        return base + size * 8 / self.link_floor_bps

    async def get(self, path: str) -> JsonObject:
        return await self._call("GET", path)

    async def submit(self, path: str, body: JsonObject, idempotency_key: str) -> JsonObject:
        return await self._call("POST", path, body, idempotency_key=idempotency_key,
                                deadline_s=self.deadline_for(body))

    async def find_submission(self, path: str, idempotency_key: str) -> JsonObject | None:
        """What a submission with this key did, or None if the backend never saw it."""
        try:
            return await self._call("GET", f"{path}/{idempotency_key}")
        except BackendError as exc:
            if exc.status == 404 and exc.code == "NOT_FOUND":
                return None
            raise


class NotificationClient(_JsonClient):
    """The payment platform's relay of the gateway's signed payment notifications (a kiosk has
    no public address for the gateway to call): what was notified about an order, as received,
    duplicates and all."""

    async def notifications(self, out_trade_no: str, after: int = 0,
                            wait_s: float = 0.0) -> list[JsonObject]:
        """The order's notifications; with `wait_s`, the relay holds the request until it has
        more than `after` of them (or the wait is over)."""
        if not wait_s:
            data = await self._call("GET", f"/orders/{out_trade_no}")
        else:
            data = await self._call("GET", f"/orders/{out_trade_no}?after={after}&wait_s={wait_s:g}",
                                    deadline_s=wait_s + (self.deadline.total or 0.0))
        found = data.get("notifications", [])
        if not isinstance(found, list):
            raise BackendError(BackendReason.BAD_RESPONSE, "notifications")
        return [n for n in found if isinstance(n, dict)]
@dataclass(frozen=True)
class CatalogValidators:
    """What the kiosk's cached catalog was published as: sent back so an unchanged catalog costs
    a 304 instead of the whole download (on a village link, ~800 KB at 64 kbit/s is minutes)."""

    etag: str = ""
    last_modified: str = ""  # the publisher's HTTP date, sent back as it came

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class CatalogFetch:
    raw: bytes | None  # None: the copy the validators name is still the published one
    validators: CatalogValidators


class CatalogClient(_JsonClient):
    async def fetch(self, have: CatalogValidators | None = None) -> CatalogFetch:
        """The published catalog as bytes (parsing and validation are the cache's job), or
        "not modified" when `have` names the current one."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.deadline)
        headers = have.headers() if have is not None else {}
        try:
            async with self._session.get(self.base_url + "/items", headers=headers) as resp:
                validators = CatalogValidators(resp.headers.get("ETag", ""),
                                               resp.headers.get("Last-Modified", ""))
                if resp.status == 304 and have is not None:
                    return CatalogFetch(None, validators)
                if resp.status >= 300:
                    raise BackendError(
                        BackendReason.REJECTED, f"catalog {resp.status}", resp.status
                    )
                return CatalogFetch(await resp.read(), validators)
        except TimeoutError as exc:
            raise BackendError(BackendReason.TIMEOUT, "catalog") from exc
        except aiohttp.ClientError as exc:
            raise BackendError(BackendReason.UNREACHABLE, "catalog") from exc

    async def fetch_raw(self) -> bytes:
        """The whole published catalog, unconditionally."""
        fetched = await self.fetch()
        assert fetched.raw is not None
        return fetched.raw
