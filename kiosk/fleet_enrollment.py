"""This kiosk as the fleet server knows it: its device key, its enrollment with a one-time token,
and the signed requests the fleet agent (kiosk.fleet_agent) sends under that key (FleetSession,
which corrects for a kiosk clock the server refuses as stale). Failures are FleetError with a
reason, and the server's error code when it gave one.
"""

from __future__ import annotations

import email.utils
import enum
import json
import logging
import time
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.json_object import JsonObject, JsonValue
from wire.fleet import (
    API_PREFIX,
    AuthRefusal,
    EnrollmentRequest,
    load_private_key,
    public_key_pem,
    sign_request,
)

log = logging.getLogger(__name__)


class FleetErrorReason(enum.Enum):
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    BAD_REPLY = "bad_reply"


# The server's answers that mean this kiosk's key no longer counts.
KEY_REFUSALS = frozenset({AuthRefusal.REVOKED, AuthRefusal.RETIRED, AuthRefusal.UNKNOWN_KEY})


class FleetError(Exception):
    """A fleet request that did not succeed; `code` is the server's error code when it gave one."""

    def __init__(self, reason: FleetErrorReason, code: str = "", status: int = 0) -> None:
        super().__init__(f"{reason.value}: {code}" if code else reason.value)
        self.reason = reason
        self.code = code
        self.status = status

    @property
    def refusal(self) -> AuthRefusal | None:
        """The fleet's refusal of this kiosk's signature or key, if that is what `code` says."""
        return _refusal(self.code)


def _refusal(code: str) -> AuthRefusal | None:
    """The AuthRefusal a server's error code names; None for any other code (or none)."""
    return next((r for r in AuthRefusal if r.value == code), None)


def generate_device_key() -> tuple[bytes, bytes]:
    """A new Ed25519 device key: (private PEM, PKCS#8 unencrypted; public PEM). Keep the private
    half on the kiosk only (mode 0600)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_key_pem(key)


def _url(server_url: str, path: str) -> tuple[str, str]:
    """The full URL and the path the signature covers (the server's own path, with any prefix)."""
    base = server_url.rstrip("/")
    return base + path, urlsplit(base).path + path


async def enroll(
    server_url: str,
    token: str,
    private_key: Ed25519PrivateKey | bytes,
    kiosk_id: str,
    site: str,
    region: str,
    *,
    timeout_s: float = 15.0,
) -> JsonObject:
    """Register this kiosk's public key with a one-time token.

    Returns the server's answer: {"kiosk_id", "key_id", "interval_s", "server_time",
    "wire_version"}. Raises FleetError: REFUSED with code token_unknown / token_used /
    token_expired / kiosk_exists / key_in_use / bad_request; UNREACHABLE; BAD_REPLY.
    """
    key = load_private_key(private_key)
    request = EnrollmentRequest(token, kiosk_id, public_key_pem(key).decode(), site, region)
    body = json.dumps(request.to_json()).encode()
    url, signed_path = _url(server_url, f"{API_PREFIX}/enroll")
    headers = sign_request(key, "POST", signed_path, body, time.time())
    headers["Content-Type"] = "application/json"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FleetError(FleetErrorReason.UNREACHABLE, type(exc).__name__) from exc
    try:
        data = json.loads(text)
    except ValueError:
        raise FleetError(FleetErrorReason.BAD_REPLY, status=status) from None
    if status != 201:
        code = data.get("error", "") if isinstance(data, dict) else ""
        raise FleetError(FleetErrorReason.REFUSED, str(code), status)
    if not isinstance(data, dict) or data.get("kiosk_id") != kiosk_id:
        raise FleetError(FleetErrorReason.BAD_REPLY, status=status)
    return data


# -- the agent -------------------------------------------------------------------------------------


class FleetSession:
    """Signed POSTs to the fleet server under this kiosk's key, on one aiohttp session opened at
    the first request. Signs with the server's time once the server has told it (`clock_offset`)."""

    def __init__(
        self, server_url: str, private_key: Ed25519PrivateKey | bytes, timeout_s: float
    ) -> None:
        self.server_url = server_url
        self._key = load_private_key(private_key)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.clock_offset = 0.0

    def now(self) -> float:
        """The time as the server counts it, as far as this kiosk knows."""
        return time.time() + self.clock_offset

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, path: str, payload: JsonObject) -> JsonValue:
        return await self.request(path, json.dumps(payload).encode(), "application/json")

    async def request(self, path: str, body: bytes, content_type: str) -> JsonValue:
        """One signed POST; raises FleetError. Retries once if our clock was refused as stale."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url, signed_path = _url(self.server_url, API_PREFIX + path)
        for attempt in (1, 2):
            headers = sign_request(self._key, "POST", signed_path, body, self.now())
            headers["Content-Type"] = content_type
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    text = await response.text()
                    status, date = response.status, response.headers.get("Date")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise FleetError(FleetErrorReason.UNREACHABLE, type(exc).__name__) from exc
            try:
                data = json.loads(text)
            except ValueError:
                raise FleetError(FleetErrorReason.BAD_REPLY, status=status) from None
            if 200 <= status < 300:
                return data
            code = str(data.get("error", "")) if isinstance(data, dict) else ""
            if _refusal(code) is AuthRefusal.STALE and date and attempt == 1:
                # Our clock is off (no RTC battery, no NTP yet): sign with the server's time.
                server = email.utils.parsedate_to_datetime(date).timestamp()
                self.clock_offset = server - time.time()
                log.warning("clock corrected from server", extra={"offset": self.clock_offset})
                continue
            raise FleetError(FleetErrorReason.REFUSED, code, status)
        raise AssertionError("unreachable")
