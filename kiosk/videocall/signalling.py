"""The kiosk's signalling link to the fleet: a WebSocket opened with a signed GET (the device key
that signs its heartbeats), and the signed question whether its site allows calls."""

from __future__ import annotations

import enum
import logging
import time
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.json_object import JsonObject
from wire.fleet import load_private_key, sign_request
from wire.videocall import (
    CALL_POLICY_PATH,
    KIOSK_CALL_PATH,
    CallMessage,
    CallWireError,
    parse_message,
)

log = logging.getLogger(__name__)


class LinkErrorReason(enum.Enum):
    UNREACHABLE = "unreachable"   # no answer: the village's link is down
    REFUSED = "refused"           # the server said no (signature, policy)
    CLOSED = "closed"             # the socket closed or stopped answering pings


class CallLinkError(Exception):
    def __init__(self, reason: LinkErrorReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


class SignallingLink:
    """One WebSocket to the fleet for one call (re-opened by `connect` after a drop)."""

    def __init__(self, server_url: str, kiosk_id: str, key: Ed25519PrivateKey | bytes,
                 ping_s: float = 5.0, timeout_s: float = 10.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._key = load_private_key(key)
        self.ping_s = ping_s
        self.timeout_s = timeout_s
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def _signed(self, template: str) -> tuple[str, dict[str, str]]:
        path = template.format(kiosk_id=self.kiosk_id)
        signed_path = urlsplit(self.server_url).path + path
        return self.server_url + path, sign_request(self._key, "GET", signed_path, b"",
                                                    time.time())

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeout_s,
                                              sock_connect=self.timeout_s))
        return self._http

    async def policy(self) -> JsonObject:
        """{"calls_allowed": bool, "recording": bool} for this kiosk's site."""
        url, headers = self._signed(CALL_POLICY_PATH)
        try:
            async with self._session().get(url, headers=headers,
                                           timeout=aiohttp.ClientTimeout(total=self.timeout_s)
                                           ) as response:
                if response.status != 200:
                    raise CallLinkError(LinkErrorReason.REFUSED, str(response.status))
                data = await response.json()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise CallLinkError(LinkErrorReason.UNREACHABLE, type(exc).__name__) from exc
        if not isinstance(data, dict):
            raise CallLinkError(LinkErrorReason.REFUSED, "bad reply")
        return data

    async def connect(self) -> None:
        await self.close_socket()
        url, headers = self._signed(KIOSK_CALL_PATH)
        try:
            self._ws = await self._session().ws_connect(
                url.replace("http", "ws", 1), headers=headers, heartbeat=self.ping_s,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0), max_msg_size=256 * 1024)
        except aiohttp.WSServerHandshakeError as exc:
            raise CallLinkError(LinkErrorReason.REFUSED, str(exc.status)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise CallLinkError(LinkErrorReason.UNREACHABLE, type(exc).__name__) from exc

    async def send(self, message: CallMessage) -> None:
        if self._ws is None or self._ws.closed:
            raise CallLinkError(LinkErrorReason.CLOSED)
        try:
            await self._ws.send_str(message.dumps())
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise CallLinkError(LinkErrorReason.CLOSED, type(exc).__name__) from exc

    async def receive(self) -> CallMessage:
        """The next message; CallLinkError(CLOSED) when the socket is gone. A malformed message
        is logged and skipped: the server is ours, but the link may mangle."""
        while True:
            if self._ws is None:
                raise CallLinkError(LinkErrorReason.CLOSED)
            frame = await self._ws.receive()
            if frame.type is aiohttp.WSMsgType.TEXT:
                try:
                    return parse_message(frame.data)
                except CallWireError as exc:
                    log.warning("call message refused", extra={"reason": exc.reason})
                    continue
            if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise CallLinkError(LinkErrorReason.CLOSED)

    async def close_socket(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            try:
                await ws.close()
            except (aiohttp.ClientError, ConnectionError, RuntimeError, TimeoutError):
                pass

    async def close(self) -> None:
        await self.close_socket()
        if self._http is not None:
            await self._http.close()
            self._http = None
