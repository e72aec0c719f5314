"""Operators' sign-in and passwords: throttled (fleet.throttle), hashed off the event loop."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from fleet.auth import PasswordPoolBusy, new_secret_token, token_hash
from fleet.operator_api import SESSION_COOKIE, _error, _json, _Refuse, _same_origin, _user
from fleet.services import SERVICES
from fleet.store import Role
from fleet.throttle import Attempt, client_address, retry_after
from wire.fleet import API_PREFIX

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


async def _password_check(request: web.Request, password: str, stored: str | None) -> bool:
    try:
        return await request.app[SERVICES].passwords.check(password, stored)
    except PasswordPoolBusy:
        raise _Refuse(_error(503, "busy", retry_after_s=1)) from None


async def _password_hash(request: web.Request, password: str) -> str:
    try:
        return await request.app[SERVICES].passwords.hash(password)
    except PasswordPoolBusy:
        raise _Refuse(_error(503, "busy", retry_after_s=1)) from None


@routes.post(f"{API_PREFIX}/session")
async def sign_in(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    _same_origin(request)
    data = await _json(request)
    username, password = data.get("username"), data.get("password")
    if (
        not isinstance(username, str)
        or not isinstance(password, str)
        or not 0 < len(username) <= 64
        or not username.isprintable()
        or len(password) > 1024
    ):
        return _error(400, "bad_request")
    cfg = services.config
    address = client_address(request, cfg.trusted_proxies)
    attempt = await services.throttle.begin(username, address, time.time())
    if not isinstance(attempt, Attempt):
        # Not audited one by one (a flood would fill the audit log); counted and logged.
        services.counters.add("sign_in_refused", attempt.reason.value)
        log.warning("sign-in throttled", extra={"reason": attempt.reason.value})
        wait = retry_after(attempt)
        response = _error(429, attempt.reason.value, retry_after_s=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    user = await services.store.get_user(username)
    ok = await _password_check(request, password, user["password_hash"] if user else None)
    if not ok or user is None or user["disabled_at"] is not None:
        # The caller is not signed in: the actor is not the name they typed.
        outcome = "disabled" if ok and user is not None else "refused"
        await services.store.audit("anonymous", "sign_in", username, outcome, {"address": address})
        return _error(401, "bad_credentials")
    await services.throttle.succeeded(attempt)
    token, hashed = new_secret_token()
    await services.store.create_session(hashed, username, cfg.session_ttl_s)
    await services.store.audit(username, "sign_in", username, "ok", {"address": address})
    response = web.json_response({"username": username, "role": user["role"]})
    _set_session_cookie(request, response, token)
    return response


def _set_session_cookie(request: web.Request, response: web.Response, token: str) -> None:
    cfg = request.app[SERVICES].config
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(cfg.session_ttl_s),
        httponly=True,
        samesite="Strict",
        secure=cfg.cookie_secure,
        path="/",
    )


@routes.put(f"{API_PREFIX}/session/password")
async def change_own_password(request: web.Request) -> web.Response:
    """The operator's own new password, given the current one; their other sessions end."""
    services = request.app[SERVICES]
    user = await _user(request, Role.VIEWER)
    data = await _json(request)
    current, new = data.get("current_password"), data.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str) or len(current) > 1024:
        return _error(400, "bad_request")
    if not 10 <= len(new) <= 1024:
        return _error(400, "bad_request", reason="a password of 10+ characters")
    stored = await services.store.get_user(user["username"])
    if not await _password_check(request, current, stored["password_hash"] if stored else None):
        await services.store.audit(user["username"], "change_password", user["username"], "refused")
        return _error(403, "bad_credentials")
    hashed = await _password_hash(request, new)
    this_session = token_hash(request.cookies[SESSION_COOKIE])
    await services.store.set_password(
        user["username"], hashed, user["username"], "change_password", keep_session=this_session
    )
    return web.json_response({"ok": True})
