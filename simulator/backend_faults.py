"""Faults a simulated backend can be told to show: down, slow, failing, or losing its answers.

Two ways to switch them on:
- the backend-wide switches (`down`, `delay_s`, `fail_next`, `lose_next`), which hit every
  request to that backend;
- fault rules, which hit one kind of call (`POST /pay/v1/micropay`), optionally after letting
  the first `skip` of them through, for `times` requests in a row. The fault explorer uses
  these to put each fault on each call the kiosk makes, one at a time.

Every request is written to a call log (backend, route, fault applied), so a test can see which
calls a transaction made and aim a fault at any of them; requests still being handled are
counted, so a test can wait until a slow or timed-out call has done its side effect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web


class FaultKind(StrEnum):
    ERROR = "error"  # answers 503 without doing anything
    LOST_BEFORE = "lost_before"  # the connection drops before the request arrives: nothing done
    LOST_AFTER = "lost_after"  # done, then the connection drops before the answer
    TIMEOUT = "timeout"  # held past the caller's deadline, then done all the same
    SLOW = "slow"  # answered late, within the caller's deadline
    DUPLICATE = "duplicate"  # the network delivers the request twice


@dataclass
class FaultRule:
    """`kind` on the requests matching `route` ("METHOD /canonical/{route}", "" = any) of one
    backend: the first `skip` matching requests pass, the next `times` get the fault."""

    kind: FaultKind
    route: str = ""
    skip: int = 0
    times: int = 1
    delay_s: float = 0.0

    @classmethod
    def from_json(cls, data: dict) -> FaultRule:
        return cls(FaultKind(data["kind"]), str(data.get("route", "")), int(data.get("skip", 0)),
                   int(data.get("times", 1)), float(data.get("delay_s", 0.0)))

    def as_json(self) -> dict:
        return {"kind": self.kind.value, "route": self.route, "skip": self.skip,
                "times": self.times, "delay_s": self.delay_s}

    def take(self, route: str) -> bool:
        """True when this request gets the fault (and counts it)."""
        if self.times <= 0 or (self.route and self.route != route):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self.times -= 1
        return True


@dataclass
class BackendFaults:
    down: bool = False  # connection-level failure: the request is refused at once
    delay_s: float = 0.0  # every answer comes this much later
    fail_next: int = 0  # the next N requests answer 503 without doing anything
    lose_next: int = 0  # the next N requests are DONE, then answered 503 (lost reply)
    rules: list[FaultRule] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "down": self.down,
            "delay_s": self.delay_s,
            "fail_next": self.fail_next,
            "lose_next": self.lose_next,
            "rules": [r.as_json() for r in self.rules],
        }

    def update(self, body: dict) -> None:
        for key in ("down", "delay_s", "fail_next", "lose_next"):
            if key in body:
                setattr(self, key, type(getattr(self, key))(body[key]))
        if "rules" in body:
            self.rules = [FaultRule.from_json(r) for r in body["rules"]]

    def clear(self) -> None:
        self.down, self.delay_s, self.fail_next, self.lose_next = False, 0.0, 0, 0
        self.rules = []

    def rule_for(self, route: str) -> FaultRule | None:
        return next((r for r in self.rules if r.take(route)), None)


@dataclass
class CallLog:
    """What reached the backends, in order, and how many requests are still being handled."""

    calls: list[dict] = field(default_factory=list)
    in_flight: int = 0

    def as_json(self) -> dict:
        return {"calls": self.calls, "in_flight": self.in_flight}

    def clear(self) -> None:
        self.calls = []


def route_of(request: web.Request) -> str:
    """"POST /pay/v1/orders/{out_trade_no}/close": the call's kind, without its numbers."""
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else request.path}"


def _drop(request: web.Request) -> web.HTTPException:
    # Closing the transport is what a dead upstream or a lost answer looks like to the client.
    if request.transport is not None:
        request.transport.close()
    return web.HTTPServiceUnavailable(reason="DROPPED")


def faults_middleware(faults_by_prefix: dict[str, tuple[str, BackendFaults]], log: CallLog):
    """An aiohttp middleware applying each path prefix's faults to its requests.

    `faults_by_prefix` maps a path prefix to (backend name, its faults)."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        found = next(
            ((name, f) for prefix, (name, f) in faults_by_prefix.items()
             if request.path.startswith(prefix)), None
        )
        if found is None:
            return await handler(request)
        name, faults = found
        route = route_of(request)
        rule = faults.rule_for(route)
        log.calls.append({"backend": name, "route": route, "fault": rule.kind.value if rule else ""})
        log.in_flight += 1
        try:
            return await _apply(request, handler, faults, rule, log)
        finally:
            log.in_flight -= 1

    return middleware


async def _apply(request: web.Request, handler, faults: BackendFaults, rule: FaultRule | None,
                 log: CallLog):
    if faults.down:
        raise _drop(request)
    if faults.delay_s:
        await asyncio.sleep(faults.delay_s)
    if faults.fail_next > 0:
        faults.fail_next -= 1
        return web.json_response({"error": "SYSTEM_ERROR"}, status=503)
    if rule is not None:
        return await _apply_rule(request, handler, rule, log)
    response = await handler(request)
    if faults.lose_next > 0:
        faults.lose_next -= 1
        return web.json_response({"error": "SYSTEM_ERROR"}, status=503)
    return response


async def _apply_rule(request: web.Request, handler, rule: FaultRule, log: CallLog):
    kind = rule.kind
    await request.read()  # kept by the request: a late or repeated handling reads it again
    if kind is FaultKind.ERROR:
        return web.json_response({"error": "SYSTEM_ERROR"}, status=503)
    if kind is FaultKind.LOST_BEFORE:
        raise _drop(request)
    if kind is FaultKind.SLOW:
        await asyncio.sleep(rule.delay_s)
        return await handler(request)
    if kind is FaultKind.DUPLICATE:
        await handler(request)  # the first copy; its answer goes nowhere
        return await handler(request)
    if kind is FaultKind.TIMEOUT:
        # The caller gives up and disconnects; the backend still does the work afterwards,
        # so the side effect lands after the caller decided what to do without it.
        work = asyncio.ensure_future(_late(handler, request, rule.delay_s, log))
        return await asyncio.shield(work)
    await handler(request)  # LOST_AFTER: done, then the answer is lost
    raise _drop(request)


async def _late(handler, request: web.Request, delay_s: float, log: CallLog):
    log.in_flight += 1  # counted on its own: it outlives the request if the caller hangs up
    try:
        await asyncio.sleep(delay_s)
        return await handler(request)
    finally:
        log.in_flight -= 1
