"""The kiosk-facing API: enrollment, and signed heartbeats, events, goodbyes and log uploads."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from fleet.auth import AuthRefusal, RequestRefused, token_hash
from fleet.services import SERVICES, FleetServices
from fleet.store import EnrollmentRefused, EnrollRefusal
from kiosk.fleet_wire import (
    API_PREFIX,
    WIRE_VERSION,
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
from kiosk.fleet_wire_reports import REPORTS_PATH, ReportBatch

log = logging.getLogger(__name__)
M = TypeVar("M")

routes = web.RouteTableDef()


def _error(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


def _refused(services: FleetServices, exc: RequestRefused, path: str) -> web.Response:
    services.refused[exc.reason.value] = services.refused.get(exc.reason.value, 0) + 1
    kiosk = path.split("/kiosks/", 1)[1].split("/", 1)[0] if "/kiosks/" in path else ""
    log.warning(
        "kiosk request refused", extra={"reason": exc.reason.value, "path": path, "kiosk": kiosk}
    )
    status = 403 if exc.reason is AuthRefusal.NOT_YOURS else 401
    return _error(status, exc.reason.value)


async def _signed_json(request: web.Request) -> tuple[Any, str] | web.Response:
    """Verify the signature and that the signer is the kiosk in the path; then parse the body."""
    services = request.app[SERVICES]
    body = await request.read()
    try:
        signer = await services.verifier.verify(
            request.method, request.raw_path, request.headers, body
        )
        if signer.kiosk_id != request.match_info["kiosk_id"]:
            raise RequestRefused(AuthRefusal.NOT_YOURS)
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    try:
        return json.loads(body), signer.kiosk_id
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_json")


async def _signed_message(request: web.Request, parse: Callable[[Any], M]) -> M | web.Response:
    """A signed kiosk request's body as a wire message that names the signing kiosk itself;
    a web.Response (the refusal) when the signature, the shape or the sender is wrong."""
    signed = await _signed_json(request)
    if isinstance(signed, web.Response):
        return signed
    data, kiosk_id = signed
    try:
        message = parse(data)
    except WireError as exc:
        return _wire_error(exc)
    if getattr(message, "kiosk_id", None) != kiosk_id:
        services = request.app[SERVICES]
        return _refused(services, RequestRefused(AuthRefusal.NOT_YOURS), request.path)
    return message


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
        await services.store.audit(
            f"kiosk:{enrollment.kiosk_id}", "enroll", enrollment.kiosk_id, exc.reason.value
        )
        conflict = exc.reason in (EnrollRefusal.KIOSK_EXISTS, EnrollRefusal.KEY_IN_USE)
        return _error(409 if conflict else 403, exc.reason.value)
    answer: dict[str, Any] = {
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
    hb = await _signed_message(request, Heartbeat.from_json)
    if isinstance(hb, web.Response):
        return hb
    now = time.time()
    result = await services.store.record_heartbeat(hb, now)
    services.heartbeats_received += 1
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
    batch = await _signed_message(request, EventBatch.from_json)
    if isinstance(batch, web.Response):
        return batch
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
    """Transaction summaries, evaluations and application decisions (kiosk.fleet_wire_reports),
    each counted once however often it arrives (fleet.tx_facts)."""
    services = request.app[SERVICES]
    batch = await _signed_message(request, ReportBatch.from_json)
    if isinstance(batch, web.Response):
        return batch
    result = await services.store.record_reports(batch, time.time())
    return web.json_response({**result.to_json(), "server_time": time.time()})


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/goodbye")
async def goodbye(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    bye = await _signed_message(request, Goodbye.from_json)
    if isinstance(bye, web.Response):
        return bye
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
        signer = await services.verifier.verify(
            request.method, request.raw_path, request.headers, body
        )
        if signer.kiosk_id != request.match_info["kiosk_id"]:
            raise RequestRefused(AuthRefusal.NOT_YOURS)
    except RequestRefused as exc:
        return _refused(services, exc, request.path)
    if len(body) > services.config.max_log_upload_bytes:
        log.warning("log upload too large", extra={"kiosk": signer.kiosk_id, "size": len(body)})
        return _error(413, "too_large")
    command_id = request.query.get("command_id", "")[:64]
    upload_id = await services.store.store_log_upload(
        signer.kiosk_id, command_id, body.decode("utf-8", errors="replace")
    )
    log.info("logs uploaded", extra={"kiosk": signer.kiosk_id, "command": command_id})
    return web.json_response({"upload_id": upload_id}, status=201)
