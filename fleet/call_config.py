"""The fleet's settings for video help from the hall: ICE servers, TURN credentials, time limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from wire.videocall import IceServer


@dataclass(frozen=True)
class CallConfig:
    """`ice_urls` are handed to both ends of every call (stun:/turn: URLs). With `turn_secret`
    set, TURN URLs get short-lived credentials in coturn's REST form (`use-auth-secret`,
    `static-auth-secret` in turnserver.conf), so no long-lived TURN password leaves the server."""

    ice_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl_s: float = 3600.0
    ring_timeout_s: float = 120.0   # a call nobody answered ends as no_answer
    grace_s: float = 15.0           # an end whose link dropped may come back this long
    keep_signals_s: float = 3600.0  # relayed messages of ended calls are dropped after this

    def ice_servers(self, who: str, now: float) -> tuple[IceServer, ...]:
        stun = tuple(u for u in self.ice_urls if u.startswith("stun:"))
        turn = tuple(u for u in self.ice_urls if u.startswith(("turn:", "turns:")))
        servers: list[IceServer] = []
        if stun:
            servers.append(IceServer(stun))
        if turn:
            username, credential = turn_credentials(self.turn_secret, who, now + self.turn_ttl_s)
            servers.append(IceServer(turn, username, credential))
        return tuple(servers)


def ice_settings(urls: list[str], turn_secret_file: str | None) -> CallConfig:
    """`kiosk-fleet serve --ice-url ... --turn-secret-file F`."""
    from pathlib import Path

    secret = Path(turn_secret_file).read_text().strip() if turn_secret_file else ""
    return CallConfig(ice_urls=tuple(urls), turn_secret=secret)


def turn_credentials(secret: str, who: str, expires: float) -> tuple[str, str]:
    """coturn's time-limited credentials: user "<expiry>:<who>", password HMAC-SHA1 of it."""
    username = f"{int(expires)}:{who}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
