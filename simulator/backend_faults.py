"""Faults a simulated backend can be told to show: down, slow, failing, or losing its answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web


@dataclass
class BackendFaults:
    down: bool = False  # connection-level failure: the request is refused at once
    delay_s: float = 0.0  # every answer comes this much later
    fail_next: int = 0  # the next N requests answer 503 without doing anything
    lose_next: int = 0  # the next N requests are DONE, then answered 503 (lost reply)

    def as_json(self) -> dict:
        return {
            "down": self.down,
            "delay_s": self.delay_s,
            "fail_next": self.fail_next,
            "lose_next": self.lose_next,
        }

    def update(self, body: dict) -> None:
        for key in ("down", "delay_s", "fail_next", "lose_next"):
            if key in body:
                setattr(self, key, type(getattr(self, key))(body[key]))


def faults_middleware(faults_by_prefix: dict[str, BackendFaults]):
    """An aiohttp middleware applying each path prefix's faults to its requests."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        faults = next(
            (f for prefix, f in faults_by_prefix.items() if request.path.startswith(prefix)), None
        )
        if faults is None:
            return await handler(request)
        if faults.down:
            # Closing the transport is what a dead upstream looks like to the client.
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable(reason="DOWN")
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        if faults.fail_next > 0:
            faults.fail_next -= 1
            return web.json_response({"error": "SYSTEM_ERROR"}, status=503)
        response = await handler(request)
        if faults.lose_next > 0:
            faults.lose_next -= 1
            return web.json_response({"error": "SYSTEM_ERROR"}, status=503)
        return response

    return middleware
