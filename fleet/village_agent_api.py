"""HTTP for village agents: operators keep them and issue sign-in codes (dashboard), kiosks ask
whether the person at them is an agent of their site (signed). See fleet.village_agents."""

from __future__ import annotations

import logging
import time

import qrcode
import qrcode.image.svg
from aiohttp import web

from fleet import village_agents
from fleet.auth import PasswordPoolBusy
from fleet.kiosk_api import _signed_message
from fleet.operator_api import _error, _json, _user
from fleet.services import SERVICES
from fleet.store import Role
from wire.agents import AGENT_SIGN_IN_PATH, AgentRefusal, AgentSignIn
from wire.fleet import API_PREFIX, WireError

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_BASE = f"{API_PREFIX}/village-agents"


@routes.get(_BASE)
async def list_agents(request: web.Request) -> web.Response:
    await _user(request, Role.OPERATOR)
    store = request.app[SERVICES].store
    return web.json_response({"agents": await village_agents.list_agents(store)})


@routes.post(_BASE)
async def create_agent(request: web.Request) -> web.Response:
    """An admin registers an agent: id, site, the agent's ID card number and first PIN."""
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    data = await _json(request)
    agent_id, site = data.get("agent_id"), data.get("site")
    if not isinstance(agent_id, str) or village_agents.AGENT_ID.fullmatch(agent_id) is None:
        return _error(400, "bad_request", reason="agent_id (VA-...)")
    if not isinstance(site, str) or not 0 < len(site) <= 64:
        return _error(400, "bad_request", reason="site")
    try:  # the same checks a kiosk's sign-in gets
        AgentSignIn.from_json({"kiosk_id": "dashboard", "credential": "id_card_pin",
                               "id_number": data.get("id_number"), "pin": data.get("pin")})
    except WireError as exc:
        return _error(400, "bad_request", reason=exc.field)
    try:
        await village_agents.create_agent(services.store, services.passwords, admin["username"],
                                          agent_id, site, data["id_number"], data["pin"])
    except ValueError as exc:
        return _error(409, str(exc))
    except PasswordPoolBusy:
        return _error(503, "busy", retry_after_s=1)
    return web.json_response({"agent_id": agent_id, "site": site}, status=201)


@routes.post(_BASE + "/{agent_id}/disable")
async def disable_agent(request: web.Request) -> web.Response:
    admin = await _user(request, Role.ADMIN)
    store = request.app[SERVICES].store
    changed = await village_agents.disable_agent(store, admin["username"],
                                                 request.match_info["agent_id"])
    return web.json_response({"disabled": changed})


@routes.post(_BASE + "/{agent_id}/sign-in-code")
async def issue_code(request: web.Request) -> web.Response:
    """A one-time code for the agent's QR code (the dashboard draws it)."""
    operator = await _user(request, Role.OPERATOR)
    store = request.app[SERVICES].store
    try:
        code = await village_agents.issue_code(store, operator["username"],
                                               request.match_info["agent_id"])
    except LookupError:
        return _error(404, "no_such_agent")
    return web.json_response({"code": code.code, "agent_id": code.agent_id,
                              "expires_at": code.expires_at, "qr_svg": _qr_svg(code.code)},
                             status=201)


def _qr_svg(text: str) -> str:
    """The QR code the agent shows to the kiosk's scanner, as SVG for the dashboard to draw."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    svg: str = image.to_string(encoding="unicode")  # qrcode ships no type hints
    return svg


@routes.get(_BASE + "/{agent_id}/acts")
async def agent_acts(request: web.Request) -> web.Response:
    await _user(request, Role.OPERATOR)
    store = request.app[SERVICES].store
    acts = await village_agents.agent_acts(store, request.match_info["agent_id"])
    return web.json_response({"acts": acts})


@routes.post(API_PREFIX + AGENT_SIGN_IN_PATH)
async def kiosk_agent_sign_in(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    signed = await _signed_message(request, AgentSignIn.from_json)
    if isinstance(signed, web.Response):
        return signed
    asked = signed[0]
    try:
        answer = await village_agents.sign_in(services.store, services.passwords, asked,
                                              time.time())
    except village_agents.AgentSignInRefused as exc:
        services.counters.add("agent_sign_in_refused", exc.reason.value)
        status = 423 if exc.reason is AgentRefusal.LOCKED else 403
        return _error(status, exc.reason.value)
    except PasswordPoolBusy:
        return _error(503, "busy", retry_after_s=1)
    log.info("village agent signed in", extra={"kiosk": asked.kiosk_id})
    return web.json_response(answer.to_json())


