"""aiohttp clients of the backends: the QR payment gateway and the exit-entry service.

One session per client (connection reuse), a deadline on every call, typed errors.
The wire shapes live here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp


class BackendReason(StrEnum):
    UNREACHABLE = "backend_unreachable"
    TIMEOUT = "backend_timeout"
    REJECTED = "backend_rejected"
    BAD_RESPONSE = "backend_bad_response"


class BackendError(Exception):
    def __init__(self, reason: BackendReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class _JsonClient:
    def __init__(self, base_url: str, deadline_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = aiohttp.ClientTimeout(total=deadline_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.deadline)
        try:
            async with self._session.request(
                method, self.base_url + path, json=body, headers=headers
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError as exc:
                    raise BackendError(BackendReason.BAD_RESPONSE, f"{path}: not JSON") from exc
                if resp.status >= 400:
                    error = data.get("error", "") if isinstance(data, dict) else ""
                    raise BackendError(BackendReason.REJECTED, f"{path}: {resp.status} {error}")
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
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class PaymentOrder:
    out_trade_no: str
    amount_fen: int
    code_url: str
    status: OrderStatus

    @classmethod
    def from_json(cls, data: dict) -> PaymentOrder:
        try:
            return cls(
                str(data["out_trade_no"]),
                int(data["amount_fen"]),
                str(data["code_url"]),
                OrderStatus(data["status"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise BackendError(BackendReason.BAD_RESPONSE, "payment order") from exc


class PaymentClient(_JsonClient):
    """A "native" QR order: create (idempotent on out_trade_no), query, close."""

    async def create_order(
        self, out_trade_no: str, amount_fen: int, description: str
    ) -> PaymentOrder:
        if not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValueError("amount_fen must be a positive integer")
        return PaymentOrder.from_json(
            await self._call(
                "POST",
                "/orders",
                {
                    "out_trade_no": out_trade_no,
                    "amount_fen": amount_fen,
                    "description": description,
                },
            )
        )

    async def query_order(self, out_trade_no: str) -> PaymentOrder:
        return PaymentOrder.from_json(await self._call("GET", f"/orders/{out_trade_no}"))

    async def close_order(self, out_trade_no: str) -> PaymentOrder:
        return PaymentOrder.from_json(await self._call("POST", f"/orders/{out_trade_no}/close"))


@dataclass(frozen=True)
class EndorsementType:
    code: str
    name_zh: str
    name_en: str
    fee_fen: int


class ExitEntryClient(_JsonClient):
    async def endorsement_types(self) -> list[EndorsementType]:
        data = await self._call("GET", "/endorsement-types")
        try:
            return [
                EndorsementType(
                    str(t["code"]), str(t["name_zh"]), str(t["name_en"]), int(t["fee_fen"])
                )
                for t in data["types"]
            ]
        except (KeyError, ValueError, TypeError) as exc:
            raise BackendError(BackendReason.BAD_RESPONSE, "endorsement types") from exc

    async def submit_application(
        self,
        *,
        idempotency_key: str,
        subject: str,
        endorsement: str,
        out_trade_no: str,
        face_jpeg_b64: str,
    ) -> dict:
        return await self._call(
            "POST",
            "/applications",
            {
                "idempotency_key": idempotency_key,
                "subject": subject,
                "endorsement": endorsement,
                "out_trade_no": out_trade_no,
                "face_jpeg_b64": face_jpeg_b64,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
