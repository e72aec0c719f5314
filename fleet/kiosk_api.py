"""The kiosk-facing API: enrollment, and signed heartbeats, events, goodbyes and log uploads."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from fleet.auth import RequestRefused, SignedBy, token_hash
from fleet.db import Connection
from fleet.kiosk_reports import HeartbeatResult
from fleet.services import SERVICES, FleetServices
from fleet.store import EnrollmentRefused, EnrollRefusal
from fleet.throttle import ThrottleReason, client_address, retry_after
from wire.fields import JsonObject
from wire.fleet import (
    API_PREFIX,
    WIRE_VERSION,
    AuthRefusal,
    EnrollmentRequest,
    EventBatch,
    Goodbye,
    Heartbeat,
    HeartbeatReply,
    Severity,
    WireError,
    key_id,
    load_public_key,
)
from wire.reports import REPORTS_PATH, ReportBatch

log = logging.getLogger(__name__)
M = TypeVar("M")

routes = web.RouteTableDef()


def _error(status: int, error: str, **extra: object) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


def _refused(services: FleetServices, exc: RequestRefused, path: str) -> web.Response:
    services.counters.add("kiosk_requests_refused", exc.reason.value)
    kiosk = path.split("/kiosks/", 1)[1].split("/", 1)[0] if "/kiosks/" in path else ""
    log.warning(
        "kiosk request refused", extra={"reason": exc.reason.value, "path": path, "kiosk": kiosk}
    )
    status = 403 if exc.reason is AuthRefusal.NOT_YOURS else 401
    return _error(status, exc.reason.value)


async def _signer(request: web.Request, body: bytes, admit: bool) -> SignedBy:
    """The kiosk that signed the request, which must be the kiosk in the path."""
    services = request.app[SERVICES]
    signer = await services.verifier.verify(
        request.method, request.raw_path, request.headers, body, admit=admit
    )
    if signer.kiosk_id != request.match_info["kiosk_id"]:
        raise RequestRefused(AuthRefusal.NOT_YOURS)
    return signer


async def _signed_message(
    # Any: the request's JSON body, which `parse` checks.
    request: web.Request, parse: Callable[[Any], M], admit: bool = True
) -> tuple[M, SignedBy] | web.Response:
    """A signed kiosk request's body as a wire message that names the signing kiosk itself;
    a web.Response (the refusal) when the signature, the shape or the sender is wrong. With
    `admit=False` the nonce is left for the caller's own unit of work to spend."""
    services = request.app[SERVICES]
    body = await request.read()
    try:
        signer = await _signer(request, body, admit)
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    try:
        message = parse(json.loads(body))
    except WireError as exc:
        return _wire_error(exc)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_json")
    if getattr(message, "kiosk_id", None) != signer.kiosk_id:
        return _refused(services, RequestRefused(AuthRefusal.NOT_YOURS), request.path)
    return message, signer


def _wire_error(exc: WireError) -> web.Response:
    return _error(400, "bad_request", reason=exc.reason.value, field=exc.field)


@routes.post(f"{API_PREFIX}/enroll")
async def enroll(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await request.read()
    try:
        enrollment = EnrollmentRequest.from_json(json.loads(body))
    except WireError as exc:
        return _wire_error(exc)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_json")
    public_key = load_public_key(enrollment.public_key_pem.encode())
    kid = key_id(public_key)
    try:
        # Proof of possession: the request is signed by the private half of the key it registers.
        await services.verifier.verify(
            request.method, request.raw_path, request.headers, body, public_key=public_key
        )
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    try:
        enrolled = await services.store.enroll(
            token_hash(enrollment.token),
            enrollment.kiosk_id,
            enrollment.public_key_pem,
            kid,
            enrollment.site,
            enrollment.region,
            services.config.heartbeat_interval_s or services.config.default_interval_s,
        )
    except EnrollmentRefused as exc:
        # Nobody is signed in: the audit row names the address, not a kiosk the caller chose,
        # and an address past its refusal limit writes no more rows.
        address = client_address(request, services.config.trusted_proxies)
        throttled = await services.throttle.count_refusal(address, time.time())
        if throttled is not None:
            services.counters.add("enroll_refused", ThrottleReason.ADDRESS.value)
            return _error(429, throttled.reason.value, retry_after_s=retry_after(throttled))
        await services.store.audit(
            "anonymous", "enroll", enrollment.kiosk_id, exc.reason.value, {"address": address}
        )
        conflict = exc.reason in (EnrollRefusal.KIOSK_EXISTS, EnrollRefusal.KEY_IN_USE)
        return _error(409 if conflict else 403, exc.reason.value)
    answer: JsonObject = {
        "wire_version": WIRE_VERSION,
        "kiosk_id": enrolled.kiosk_id,
        "key_id": enrolled.key_id,
        "interval_s": services.config.heartbeat_interval_s or services.config.default_interval_s,
        "server_time": time.time(),
    }
    if enrolled.replaced_key_id is not None:
        # This process may have the old key cached; from now on it must be refused.
        services.verifier.forget_key(enrolled.replaced_key_id)
        answer["replaced_key_id"] = enrolled.replaced_key_id
        log.info("kiosk re-keyed", extra={"kiosk": enrolled.kiosk_id})
    else:
        log.info("kiosk enrolled", extra={"kiosk": enrolled.kiosk_id})
    return web.json_response(answer, status=201)


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    signed = await _signed_message(request, Heartbeat.from_json, admit=False)
    if isinstance(signed, web.Response):
        return signed
    hb, signer = signed
    now = time.time()

    async def nonce_and_heartbeat(tx: Connection) -> HeartbeatResult:
        # One group-commit unit: the nonce is spent, and the key found live, in the heartbeat's
        # own transaction.
        await services.verifier.admitted(tx, signer)
        return await services.store.heartbeat_in(tx, hb, now)

    try:
        result = await services.store.db.run_unit(nonce_and_heartbeat, hb.kiosk_id)
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    services.counters.add("heartbeats_received")
    reply = HeartbeatReply(
        server_time=now,
        interval_s=services.config.heartbeat_interval_s or hb.interval_s,
        commands=result.commands,
        acked=result.acked,
        service=result.service,
    )
    if result.commands:
        log.info(
            "commands sent",
            extra={
                "kiosk": hb.kiosk_id,
                "command": ",".join(c.command_id for c in result.commands),
            },
        )
    # In the kiosk's own wire version: a kiosk of the previous release refuses any other.
    return web.json_response(reply.to_json(hb.wire_version))


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/events")
async def events(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    signed = await _signed_message(request, EventBatch.from_json)
    if isinstance(signed, web.Response):
        return signed
    batch = signed[0]
    kiosk_id = batch.kiosk_id
    new = await services.store.record_events(kiosk_id, batch.events, time.time())
    for event in batch.events:
        if event.severity is not Severity.INFO:
            log.info(
                "kiosk event",
                extra={"kiosk": kiosk_id, "event": event.kind.value, "reason": event.reason},
            )
    return web.json_response(
        {"accepted": [e.event_id for e in batch.events], "new": new, "server_time": time.time()}
    )


@routes.post(API_PREFIX + REPORTS_PATH)
async def reports(request: web.Request) -> web.Response:
    """Transaction summaries, evaluations and application decisions (wire.reports),
    each counted once however often it arrives (fleet.tx_facts)."""
    services = request.app[SERVICES]
    signed = await _signed_message(request, ReportBatch.from_json)
    if isinstance(signed, web.Response):
        return signed
    result = await services.store.record_reports(signed[0], time.time())
    return web.json_response({**result.to_json(), "server_time": time.time()})


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/goodbye")
async def goodbye(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    signed = await _signed_message(request, Goodbye.from_json)
    if isinstance(signed, web.Response):
        return signed
    bye = signed[0]
    kiosk_id = bye.kiosk_id
    await services.store.record_goodbye(kiosk_id, bye.reason, time.time())
    log.info("kiosk said goodbye", extra={"kiosk": kiosk_id, "reason": bye.reason})
    return web.json_response({"ok": True, "server_time": time.time()})


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/logs")
async def upload_logs(request: web.Request) -> web.Response:
    """A log bundle (UTF-8 text, already masked by the kiosk) answering an upload_logs command."""
    services = request.app[SERVICES]
    body = await request.read()
    try:
        signer = await _signer(request, body, admit=True)
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    if len(body) > services.config.max_log_upload_bytes:
        log.warning("log upload too large", extra={"kiosk": signer.kiosk_id, "size": len(body)})
        return _error(413, "too_large")
    command_id = request.query.get("command_id", "")[:64]
    upload_id = await services.store.store_log_upload(
        signer.kiosk_id, command_id, body.decode("utf-8", errors="replace")
    )
    if upload_id is None:
        # Only an answer to an operator's upload_logs command, once: a kiosk (or a stolen key)
        # cannot fill the server's disk on its own initiative.
        log.warning("log upload not asked for", extra={"kiosk": signer.kiosk_id})
        return _error(409, "no_upload_asked", command_id=command_id)
    log.info("logs uploaded", extra={"kiosk": signer.kiosk_id, "command": command_id})
    return web.json_response({"upload_id": upload_id}, status=201)
