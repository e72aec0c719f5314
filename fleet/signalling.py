"""Video help from the hall: the kiosk's and the agent's signalling WebSockets, the sites' call
policy, and the agent's page. Media goes peer to peer (or through TURN), never through here.

A call: the kiosk (its citizen consented) rings; the agents' pages list it; one agent takes it
(compare-and-set in the database); the kiosk offers, the agent answers; either hangs up. A dropped
link leaves the call open for `grace_s` so its end may resume; then it ends as link_lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSMsgType, web

from fleet.auth import RequestRefused, token_hash
from fleet.call_hub import CallEnd, CallHub
from fleet.call_store import CallPolicy, CallState, CallStore, Side
from fleet.operator_api import SESSION_COOKIE
from fleet.services import SERVICES, FleetServices
from fleet.store import Role
from wire.fields import JsonObject
from wire.videocall import (
    AGENT_CALLS_PATH,
    CALL_POLICY_PATH,
    KIOSK_CALL_PATH,
    CallMessage,
    CallWireError,
    EndReason,
    MessageType,
    parse_message,
)

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CALL_HUB = web.AppKey("call_hub", CallHub)
STATIC_DIR = Path(__file__).parent / "static"
# aiohttp pings each WebSocket this often; a link that stops answering is closed within two.
PING_S = 5.0


def install(app: web.Application) -> None:
    """Adds the routes and the relay; call after the app's own lifecycle is appended."""
    app.add_routes(routes)
    app.cleanup_ctx.append(_relay)


async def _relay(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]

    async def audit_end(call_id: str, reason: EndReason) -> None:
        await services.store.audit("fleet", "call_end", call_id, reason.value)

    hub = CallHub(CallStore(services.store.db), services.config.calls, on_ended=audit_end)
    app[CALL_HUB] = hub
    await hub.start()
    yield
    await hub.stop()


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


async def _send(ws: web.WebSocketResponse, message: CallMessage) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(message.dumps())


async def _messages(ws: web.WebSocketResponse) -> AsyncIterator[CallMessage]:
    """The socket's messages as CallMessages; a malformed one is answered, not fatal."""
    async for frame in ws:
        if frame.type is not WSMsgType.TEXT:
            if frame.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                return
            continue
        try:
            yield parse_message(frame.data)
        except CallWireError as exc:
            await _send(ws, CallMessage(MessageType.ERROR, reason=f"bad_{exc.reason}"))


# -- the kiosk's end -------------------------------------------------------------------------------


@routes.get(CALL_POLICY_PATH)
async def kiosk_call_policy(request: web.Request) -> web.Response:
    """The kiosk asks (signed) whether its site lets it call the hall, before it offers to."""
    services = request.app[SERVICES]
    kiosk_id = await _signed_kiosk(request, services)
    if isinstance(kiosk_id, web.Response):
        return kiosk_id
    store = request.app[CALL_HUB].store
    place = await store.kiosk_place(kiosk_id)
    policy = await store.policy(place[0]) if place else CallPolicy()
    return web.json_response({"calls_allowed": policy.calls_allowed,
                              "recording": policy.recording})


async def _signed_kiosk(request: web.Request, services: FleetServices) -> str | web.Response:
    try:
        signer = await services.verifier.verify(request.method, request.raw_path,
                                                request.headers, b"")
    except RequestRefused as exc:
        log.warning("kiosk call request refused", extra={"reason": exc.reason.value})
        return _refuse(401, exc.reason.value)
    if signer.kiosk_id != request.match_info["kiosk_id"]:
        return _refuse(403, "not_yours")
    return signer.kiosk_id


@routes.get(KIOSK_CALL_PATH)
async def kiosk_socket(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    hub = request.app[CALL_HUB]
    kiosk_id = await _signed_kiosk(request, services)
    if isinstance(kiosk_id, web.Response):
        return kiosk_id
    ws = web.WebSocketResponse(heartbeat=PING_S, max_msg_size=256 * 1024)
    await ws.prepare(request)
    end: CallEnd | None = None
    hung_up = False
    try:
        async for message in _messages(ws):
            if end is None:
                end = await _kiosk_opens(hub, services, ws, kiosk_id, message)
                if end is None:
                    break
                continue
            if message.type is MessageType.HANGUP:
                hung_up = True
                await hub.end_call(end.call_id, EndReason.CITIZEN)
                break
            if message.type in (MessageType.OFFER, MessageType.QUALITY):
                row = await hub.store.call(end.call_id)
                if row is not None and row.state is CallState.ANSWERED:
                    await hub.post(end.call_id, Side.AGENT, message)
                else:
                    await _send(ws, CallMessage(MessageType.ERROR, end.call_id,
                                                reason="not_answered"))
    finally:
        if end is not None:
            hub.detach(end)
            if not hung_up:
                await _left(hub, end)
        await ws.close()
    return ws


async def _kiosk_opens(hub: CallHub, services: FleetServices, ws: web.WebSocketResponse,
                       kiosk_id: str, message: CallMessage) -> CallEnd | None:
    """The first message: RING (a new call) or RESUME (the link came back); else refused."""
    store = hub.store
    if message.type is MessageType.RESUME:
        row = await store.call(message.call_id)
        if row is None or row.kiosk_id != kiosk_id or row.state is CallState.ENDED:
            await _send(ws, CallMessage(MessageType.HANGUP, message.call_id,
                                        reason=EndReason.LINK_LOST.value))
            return None
        await store.set_left(row.call_id, Side.KIOSK, None)
        end = CallEnd(row.call_id, Side.KIOSK, ws, after=message.seq)
        await hub.attach(end)
        await hub.post(row.call_id, Side.AGENT, CallMessage(MessageType.PEER_BACK, row.call_id))
        return end
    if message.type is not MessageType.RING or not message.call_id:
        await _send(ws, CallMessage(MessageType.HANGUP, reason=EndReason.REFUSED.value))
        return None
    place = await store.kiosk_place(kiosk_id)
    policy = await store.policy(place[0]) if place else CallPolicy()
    if place is None or not policy.calls_allowed:
        await _send(ws, CallMessage(MessageType.HANGUP, message.call_id,
                                    reason=EndReason.NOT_ALLOWED.value))
        return None
    for stale in await store.open_calls_of(kiosk_id):   # one call per kiosk: a new ring wins
        await hub.end_call(stale, EndReason.LINK_LOST)
    now = time.time()
    if not await store.open_call(message.call_id, kiosk_id, place[0], place[1], message.items,
                                 policy.recording, now):
        await _send(ws, CallMessage(MessageType.HANGUP, message.call_id,
                                    reason=EndReason.REFUSED.value))
        return None
    await services.store.audit(kiosk_id, "call_ring", message.call_id, "ok",
                               {"site": place[0]})
    end = CallEnd(message.call_id, Side.KIOSK, ws)
    await hub.attach(end)
    await _send(ws, CallMessage(MessageType.RINGING, message.call_id,
                                ice_servers=hub.config.ice_servers(kiosk_id, now)))
    await hub.calls_changed()
    return end


async def _left(hub: CallHub, end: CallEnd) -> None:
    """An end's socket closed without a hang-up: the other end hears, the grace starts."""
    row = await hub.store.call(end.call_id)
    if row is None or row.state is CallState.ENDED:
        return
    if row.state is CallState.RINGING and end.side is Side.KIOSK:
        await hub.end_call(end.call_id, EndReason.LINK_LOST)  # nobody to come back to
        return
    await hub.store.set_left(end.call_id, end.side, time.time())
    await hub.post(end.call_id, end.side.other, CallMessage(MessageType.PEER_AWAY, end.call_id))


# -- the agent's end -------------------------------------------------------------------------------


@routes.get(AGENT_CALLS_PATH)
async def agent_socket(request: web.Request) -> web.StreamResponse:
    user = await _operator(request, Role.AGENT)
    if isinstance(user, web.Response):
        return user
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return _refuse(403, "cross_origin")  # a WebSocket is not bound by the same-origin rule
    hub = request.app[CALL_HUB]
    services = request.app[SERVICES]
    agent = user["username"]
    ws = web.WebSocketResponse(heartbeat=PING_S, max_msg_size=256 * 1024)
    await ws.prepare(request)
    hub.agents.add(ws)
    end: CallEnd | None = None
    try:
        await hub.send_calls(only=ws)
        async for message in _messages(ws):
            if message.type in (MessageType.TAKE, MessageType.RESUME):
                if end is not None:
                    current = await hub.store.call(end.call_id)
                    if current is not None and current.state is not CallState.ENDED:
                        await _send(ws, CallMessage(MessageType.ERROR,
                                                    reason="one_call_at_a_time"))
                        continue
                    hub.detach(end)   # ended from the other side (or the sweep) meanwhile
                    end = None
                end = await _agent_takes(hub, services, ws, agent, message)
                continue
            if end is None or message.call_id != end.call_id:
                await _send(ws, CallMessage(MessageType.ERROR, message.call_id,
                                            reason="not_your_call"))
                continue
            if message.type is MessageType.HANGUP:
                await hub.end_call(end.call_id, EndReason.AGENT)
                await services.store.audit(agent, "call_hangup", end.call_id, "ok")
                hub.detach(end)
                end = None
            elif message.type is MessageType.ANSWER:
                await hub.post(end.call_id, Side.KIOSK, message)
            elif message.type in (MessageType.GUIDE, MessageType.START_ITEM):
                await _agent_acts(hub, services, ws, agent, end, message)
            else:
                await _send(ws, CallMessage(MessageType.ERROR, end.call_id, reason="bad_type"))
    finally:
        hub.agents.discard(ws)
        if end is not None:
            hub.detach(end)
            await _left(hub, end)
        await ws.close()
    return ws


async def _agent_takes(hub: CallHub, services: FleetServices, ws: web.WebSocketResponse,
                       agent: str, message: CallMessage) -> CallEnd | None:
    store = hub.store
    row = await store.call(message.call_id)
    resumed = (message.type is MessageType.RESUME and row is not None
               and row.state is CallState.ANSWERED and row.agent == agent)
    if row is None or not (resumed or await store.take(message.call_id, agent, time.time())):
        await _send(ws, CallMessage(MessageType.ERROR, message.call_id, reason="taken"))
        return None
    await services.store.audit(agent, "call_resume" if resumed else "call_answer",
                               row.call_id, "ok", {"kiosk_id": row.kiosk_id})
    end = CallEnd(row.call_id, Side.AGENT, ws, after=message.seq if resumed else 0)
    await _send(ws, CallMessage(
        MessageType.TAKEN, row.call_id, items=row.items, recording=row.recording,
        ice_servers=hub.config.ice_servers(agent, time.time()), calls=(row.listing(),)))
    await hub.attach(end)
    if resumed:
        await store.set_left(row.call_id, Side.AGENT, None)
        await hub.post(row.call_id, Side.KIOSK, CallMessage(MessageType.PEER_BACK, row.call_id))
    else:
        await hub.post(row.call_id, Side.KIOSK, CallMessage(
            MessageType.ANSWERED, row.call_id, agent=agent, recording=row.recording))
        await hub.calls_changed()
    return end


async def _agent_acts(hub: CallHub, services: FleetServices, ws: web.WebSocketResponse,
                      agent: str, end: CallEnd, message: CallMessage) -> None:
    """A guide to show or an item to propose: only an item the kiosk's menu offers now."""
    row = await hub.store.call(end.call_id)
    if row is None or message.item_code not in {i.code for i in row.items}:
        await _send(ws, CallMessage(MessageType.ERROR, end.call_id, reason="unknown_item"))
        return
    await services.store.audit(agent, f"call_{message.type.value}", end.call_id, "ok",
                               {"item_code": message.item_code, "kiosk_id": row.kiosk_id})
    await hub.post(end.call_id, Side.KIOSK,
                   CallMessage(message.type, end.call_id, item_code=message.item_code))


# -- the sites' policy and the agent's page --------------------------------------------------------


@routes.get("/api/v1/call-policy")
async def list_policies(request: web.Request) -> web.Response:
    user = await _operator(request, Role.VIEWER)
    if isinstance(user, web.Response):
        return user
    rows = await request.app[CALL_HUB].store.policies()
    return web.json_response({"policies": rows})


@routes.put("/api/v1/call-policy/{site}")
async def set_policy(request: web.Request) -> web.Response:
    user = await _operator(request, Role.ADMIN)
    if isinstance(user, web.Response):
        return user
    try:
        data = await request.json()
    except ValueError:
        return _refuse(400, "bad_json")
    allowed, recording = data.get("calls_allowed"), data.get("recording", False)
    site = request.match_info["site"]
    if not isinstance(allowed, bool) or not isinstance(recording, bool) or len(site) > 64:
        return _refuse(400, "bad_request")
    policy = CallPolicy(allowed, recording)
    await request.app[CALL_HUB].store.set_policy(site, policy, user["username"], time.time())
    await request.app[SERVICES].store.audit(user["username"], "call_policy", site, "ok",
                                            {"calls_allowed": allowed, "recording": recording})
    return web.json_response({"site": site, "calls_allowed": allowed, "recording": recording})


async def _operator(request: web.Request, needed: Role) -> JsonObject | web.Response:
    services = request.app[SERVICES]
    token = request.cookies.get(SESSION_COOKIE)
    user = await services.store.session_user(token_hash(token)) if token else None
    if user is None:
        return _refuse(401, "not_signed_in")
    if not Role(user["role"]).allows(needed):
        return _refuse(403, "role_too_low")
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return _refuse(403, "cross_origin")
    return user


MAX_RECORDING_BYTES = 512 * 1024 * 1024


@routes.post("/api/v1/calls/{call_id}/recording")
async def upload_recording(request: web.Request) -> web.Response:
    """The agent's page records a call only where the site's policy says so, and hands the
    recording here (DATA/recordings/<call id>.webm), never to the kiosk."""
    user = await _operator(request, Role.AGENT)
    if isinstance(user, web.Response):
        return user
    call_id = request.match_info["call_id"]
    row = await request.app[CALL_HUB].store.call(call_id) if len(call_id) == 32 else None
    if row is None or row.agent != user["username"]:
        return _refuse(404, "not_your_call")
    if not row.recording:
        return _refuse(403, "not_recorded_here")
    if (request.content_length or 0) > MAX_RECORDING_BYTES:
        return _refuse(413, "too_large")
    body = await request.content.read(MAX_RECORDING_BYTES + 1)
    if len(body) > MAX_RECORDING_BYTES:
        return _refuse(413, "too_large")
    folder = request.app[SERVICES].config.data_dir / "recordings"

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / f"{call_id}.webm").write_bytes(body)

    await asyncio.to_thread(write)
    await request.app[SERVICES].store.audit(user["username"], "call_recording", call_id, "ok",
                                            {"bytes": len(body)})
    return web.json_response({"ok": True, "bytes": len(body)})


@routes.get("/dashboard/agent")
async def agent_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "agent.html")
