"""Administrators' controls over accounts and kiosk keys: reset a password, disable an operator,
lift a sign-in lock-out, revoke a kiosk's key, retire a kiosk. Each is audited."""

from __future__ import annotations

import logging

from aiohttp import web

from fleet.operator_api import _error, _json, _user
from fleet.services import SERVICES
from fleet.sign_in import _password_hash
from fleet.store import Role
from wire.fleet import API_PREFIX

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post(API_PREFIX + "/users/{username}/password")
async def reset_password(request: web.Request) -> web.Response:
    """An administrator sets another operator's password; that operator's sessions end."""
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    username = request.match_info["username"]
    password = (await _json(request)).get("password")
    if not isinstance(password, str) or not 10 <= len(password) <= 1024:
        return _error(400, "bad_request", reason="a password of 10+ characters")
    if await services.store.get_user(username) is None:
        return _error(404, "no_such_user")
    hashed = await _password_hash(request, password)
    await services.store.set_password(username, hashed, admin["username"], "reset_password")
    return web.json_response({"ok": True})


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    username = request.match_info["username"]
    if disabled and username == admin["username"]:
        return _error(400, "bad_request", reason="an administrator cannot disable themself")
    if not await services.store.set_disabled(username, disabled, admin["username"]):
        return _error(404, "no_such_user")
    return web.json_response({"username": username, "disabled": disabled})


@routes.post(API_PREFIX + "/users/{username}/disable")
async def disable_user(request: web.Request) -> web.Response:
    """Sign-in refused and every session of the operator ended, until enabled again."""
    return await _set_disabled(request, True)


@routes.post(API_PREFIX + "/users/{username}/enable")
async def enable_user(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


@routes.delete(API_PREFIX + "/users/{username}/lockout")
async def unlock_user(request: web.Request) -> web.Response:
    """Lift the sign-in throttling of one operator name, from every address."""
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    username = request.match_info["username"]
    cleared = await services.throttle.unlock(username)
    await services.store.audit(admin["username"], "unlock_user", username, "ok", {"rows": cleared})
    return web.json_response({"username": username, "unlocked": True})


async def _revoke(request: web.Request, retire: bool) -> web.Response:
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    kiosk_id = request.match_info["kiosk_id"]
    if not await services.store.revoke_key(kiosk_id, admin["username"], retire=retire):
        return _error(404, "no_such_kiosk")
    log.info("kiosk key revoked", extra={"kiosk": kiosk_id, "retired": retire})
    return web.json_response({"kiosk_id": kiosk_id, "key_revoked": True, "retired": retire})


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/revoke-key")
async def revoke_key(request: web.Request) -> web.Response:
    """The kiosk's key stops verifying on every server process at once; a re-key token
    (kiosk-fleet create-token --rekey) gives it a new one."""
    return await _revoke(request, retire=False)


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/retire")
async def retire_kiosk(request: web.Request) -> web.Response:
    """The kiosk leaves the fleet: its key is refused, its alerts closed, no offline alert."""
    return await _revoke(request, retire=True)
