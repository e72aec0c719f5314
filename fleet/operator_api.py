"""The operators' API behind the dashboard: sign-in, the fleet, one kiosk, commands, alerts, audit."""

from __future__ import annotations

import datetime
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from fleet.alerts import AlertKind
from fleet.auth import PasswordPoolBusy, new_secret_token, token_hash
from fleet.fleet_query import MAX_PAGE, TAG_PATTERN, KioskFilter
from fleet.services import SERVICES
from fleet.status import FleetState
from fleet.store import Role
from wire.fields import JsonObject
from wire.fleet import API_PREFIX, CommandKind, WireError, parse_params

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SESSION_COOKIE = "fleet_session"


def _error(status: int, error: str, **extra: object) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


class _Refuse(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refuse as exc:
        return exc.response


async def _user(request: web.Request, needed: Role) -> JsonObject:
    """The signed-in operator if their role allows `needed`; otherwise a 401/403 answer."""
    services = request.app[SERVICES]
    token = request.cookies.get(SESSION_COOKIE)
    user = await services.store.session_user(token_hash(token)) if token else None
    if user is None:
        raise _Refuse(_error(401, "not_signed_in"))
    if not Role(user["role"]).allows(needed):
        raise _Refuse(_error(403, "role_too_low", needed=needed.value))
    if request.method not in ("GET", "HEAD"):
        _same_origin(request)
    return user


def _same_origin(request: web.Request) -> None:
    """The cookie is SameSite=Strict; a cross-origin form or script is refused here as well
    (and on sign-in, where a forged form would sign the victim in as the attacker)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise _Refuse(_error(403, "cross_origin"))


async def _json(request: web.Request) -> JsonObject:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _Refuse(_error(400, "bad_json")) from None
    if not isinstance(data, dict):
        raise _Refuse(_error(400, "bad_json"))
    return data


# -- sign-in ---------------------------------------------------------------------------------------


@routes.get(f"{API_PREFIX}/session")
async def whoami(request: web.Request) -> web.Response:
    user = await _user(request, Role.VIEWER)
    return web.json_response({"username": user["username"], "role": user["role"]})


@routes.delete(f"{API_PREFIX}/session")
async def sign_out(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.VIEWER)
    await services.store.delete_session(token_hash(request.cookies[SESSION_COOKIE]))
    await services.store.audit(user["username"], "sign_out", user["username"], "ok")
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- the fleet -------------------------------------------------------------------------------------


def _filter(request: web.Request) -> KioskFilter:
    """The operator's filters from the query string; unknown state or alert kinds are refused."""
    f = KioskFilter.from_query(request.query)
    if f.state and f.state not in {s.value for s in FleetState}:
        raise _Refuse(_error(400, "bad_request", reason="state"))
    if f.alert and f.alert != "any" and f.alert not in {k.value for k in AlertKind}:
        raise _Refuse(_error(400, "bad_request", reason="alert"))
    return f


def _int(request: web.Request, name: str, default: int, most: int = 100_000) -> int:
    """A whole-number query parameter from 0 to `most`; anything else is the caller's mistake."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) > most:
        raise _Refuse(_error(400, "bad_request", reason=f"{name}: a whole number 0-{most}"))
    return int(raw)


@routes.get(f"{API_PREFIX}/fleet")
async def fleet_summary(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    f = _filter(request)
    counts = await services.store.state_counts(f, time.time())
    alerts = await services.store.list_alerts(open_only=True)
    return web.json_response(
        {
            "counts": counts,
            "total": sum(counts.values()),
            **await services.store.facets(),
            "open_alerts": len(alerts),
            "unacked_alerts": sum(1 for a in alerts if a["acked_at"] is None),
            "server_time": time.time(),
        }
    )


@routes.get(f"{API_PREFIX}/kiosks")
async def list_kiosks(request: web.Request) -> web.Response:
    """One page of kiosks matching the filters (search, region, site, tag, state, software
    version, open alert), with how many match in all."""
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    limit = _int(request, "limit", 100, most=MAX_PAGE)
    offset = _int(request, "offset", 0, most=10**7)
    kiosks, total = await services.store.find_kiosks(_filter(request), time.time(), limit, offset)
    return web.json_response(
        {"kiosks": kiosks, "total": total, "offset": offset, "server_time": time.time()}
    )


@routes.get(API_PREFIX + "/kiosks/{kiosk_id}")
async def kiosk_detail(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    kiosk_id = request.match_info["kiosk_id"]
    kiosk = await services.store.get_kiosk(kiosk_id)
    if kiosk is None:
        return _error(404, "no_such_kiosk")
    days = _int(request, "days", 14, most=366) or 14
    since = (datetime.date.today() - datetime.timedelta(days=days - 1)).isoformat()
    per_day: dict[str, dict[str, int]] = {}
    for r in await services.store.daily_counters(kiosk_id, since):
        per_day.setdefault(r["day"], {})[r["name"]] = r["value"]
    return web.json_response(
        {
            "kiosk": kiosk,
            "events": await services.store.recent_events(kiosk_id, 100),
            "per_day": [{"day": d, "counters": c} for d, c in sorted(per_day.items())],
            "commands": await services.store.list_commands(kiosk_id, 20),
            "alerts": await services.store.list_alerts(open_only=False, kiosk_id=kiosk_id),
            "log_uploads": await services.store.list_log_uploads(kiosk_id),
            "server_time": time.time(),
        }
    )


@routes.put(API_PREFIX + "/kiosks/{kiosk_id}/tags")
async def set_tags(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    kiosk_id = request.match_info["kiosk_id"]
    tags = (await _json(request)).get("tags")
    if (
        not isinstance(tags, list)
        or len(tags) > 20
        or not all(isinstance(t, str) and TAG_PATTERN.match(t) for t in tags)
    ):
        return _error(400, "bad_request", reason="tags: up to 20 of letters, digits, . : _ -")
    if await services.store.get_kiosk(kiosk_id) is None:
        return _error(404, "no_such_kiosk")
    return web.json_response(
        {"tags": await services.store.set_tags(kiosk_id, tags, user["username"])}
    )


@routes.get(API_PREFIX + "/kiosks/{kiosk_id}/logs/{upload_id}")
async def log_upload(request: web.Request) -> web.Response:
    """One uploaded log bundle as text; with ?download=1 as a file to save."""
    services = request.app[SERVICES]
    await _user(request, Role.OPERATOR)
    kiosk_id, upload_id = request.match_info["kiosk_id"], request.match_info["upload_id"]
    row = (
        await services.store.get_log_upload(kiosk_id, int(upload_id))
        if upload_id.isascii() and upload_id.isdigit() and len(upload_id) <= 18
        else None
    )
    if row is None:
        return _error(404, "no_such_upload")
    response = web.Response(text=row["content"], content_type="text/plain", charset="utf-8")
    if request.query.get("download") in ("1", "true"):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(row["uploaded_at"]))
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{kiosk_id}-logs-{stamp}.txt"'
        )
    return response


# -- commands --------------------------------------------------------------------------------------


async def _command_request(
    request: web.Request, user: JsonObject, target: str
) -> tuple[CommandKind, dict[str, str | int | float | bool], JsonObject]:
    """The kind and parameters of a command request, or a refusal (audited)."""
    services = request.app[SERVICES]
    data = await _json(request)
    try:
        kind = CommandKind(data.get("kind"))
        params = parse_params(data.get("params", {}))
    except ValueError as exc:
        reason = exc.reason.value if isinstance(exc, WireError) else "unknown_kind"
        await services.store.audit(
            user["username"], f"command:{str(data.get('kind'))[:40]}", target, "bad_request"
        )
        raise _Refuse(_error(400, "bad_request", reason=reason)) from None
    return kind, params, data


@routes.post(API_PREFIX + "/kiosks/{kiosk_id}/commands")
async def queue_command(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    kiosk_id = request.match_info["kiosk_id"]
    kind, params, _ = await _command_request(request, user, kiosk_id)
    if await services.store.get_kiosk(kiosk_id) is None:
        return _error(404, "no_such_kiosk")
    command = await services.store.queue_command(kiosk_id, kind, params, user["username"])
    log.info(
        "command queued",
        extra={"kiosk": kiosk_id, "command": command.command_id, "kind": kind.value},
    )
    return web.json_response(command.to_json(), status=201)


@routes.get(API_PREFIX + "/kiosks/{kiosk_id}/commands")
async def list_commands(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    return web.json_response(
        {"commands": await services.store.list_commands(request.match_info["kiosk_id"])}
    )


@routes.post(f"{API_PREFIX}/commands/bulk")
async def bulk_command(request: web.Request) -> web.Response:
    """One command to every kiosk the filters match. `expect` is how many the operator saw;
    if the fleet changed since, nothing is sent and the operator looks again."""
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    kind, params, data = await _command_request(request, user, "bulk")
    raw_filter = data.get("filter", {})
    if not isinstance(raw_filter, dict):
        return _error(400, "bad_request", reason="filter")
    f = KioskFilter.from_query(raw_filter)
    cap = services.config.max_bulk_kiosks
    ids = await services.store.matching_ids(f, time.time(), cap)
    if len(ids) > cap:
        return _error(400, "too_many_kiosks", limit=cap)
    if data.get("expect") != len(ids):
        return _error(409, "fleet_changed", matching=len(ids))
    bulk_id, results = await services.store.queue_bulk(
        ids, kind, params, user["username"], f"{kind.value} to {f.describe()}"
    )
    log.info("bulk command queued", extra={"bulk": bulk_id, "kind": kind.value, "kiosks": len(ids)})
    return web.json_response({"bulk_id": bulk_id, "results": results}, status=201)


@routes.get(API_PREFIX + "/commands/bulk/{bulk_id}")
async def bulk_status(request: web.Request) -> web.Response:
    """Each kiosk's command of one bulk send, with its status now."""
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    commands = await services.store.list_commands(
        bulk_id=request.match_info["bulk_id"], limit=services.config.max_bulk_kiosks
    )
    if not commands:
        return _error(404, "no_such_bulk")
    commands.sort(key=lambda c: c["kiosk_id"])
    counts: dict[str, int] = {}
    for c in commands:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return web.json_response({"commands": commands, "counts": counts, "server_time": time.time()})


# -- alerts ----------------------------------------------------------------------------------------


@routes.get(f"{API_PREFIX}/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.VIEWER)
    open_only = request.query.get("all") not in ("1", "true")
    return web.json_response(
        {
            "alerts": await services.store.list_alerts(
                open_only=open_only, kiosk_id=request.query.get("kiosk")
            )
        }
    )


@routes.post(API_PREFIX + "/alerts/{alert_id}/ack")
async def ack_alert(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    raw = request.match_info["alert_id"]
    if not (
        raw.isascii() and raw.isdigit() and len(raw) <= 18
    ) or not await services.store.ack_alert(int(raw), user["username"]):
        return _error(404, "no_such_open_alert")
    return web.json_response({"ok": True})


# -- administration --------------------------------------------------------------------------------


@routes.post(f"{API_PREFIX}/enrollment-tokens")
async def create_enrollment_token(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.ADMIN)
    # Optionally bound: the token then enrolls only this kiosk id, only at this site.
    data = await _json(request) if request.can_read_body else {}
    bound = {k: data.get(k) for k in ("kiosk_id", "site") if data.get(k) is not None}
    if not all(isinstance(v, str) and 0 < len(v) <= 64 and v.isprintable() for v in bound.values()):
        return _error(400, "bad_request", reason="kiosk_id/site")
    token, hashed = new_secret_token()
    expires_at = await services.store.create_enrollment_token(
        hashed,
        user["username"],
        services.config.enrollment_token_ttl_s,
        for_kiosk_id=bound.get("kiosk_id"),
        for_site=bound.get("site"),
    )
    await services.store.audit(
        user["username"], "create_enrollment_token", hashed[:12], "ok", bound or None
    )
    return web.json_response({"token": token, "expires_at": expires_at, **bound}, status=201)


@routes.get(f"{API_PREFIX}/audit")
async def audit_log(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.ADMIN)
    return web.json_response({"audit": await services.store.list_audit()})


@routes.get(f"{API_PREFIX}/users")
async def list_users(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _user(request, Role.ADMIN)
    return web.json_response({"users": await services.store.list_users()})


@routes.post(f"{API_PREFIX}/users")
async def create_user(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    admin = await _user(request, Role.ADMIN)
    data = await _json(request)
    username, password, role = data.get("username"), data.get("password"), data.get("role")
    if not isinstance(username, str) or not 0 < len(username) <= 64 or not username.isprintable():
        return _error(400, "bad_request", reason="username")
    if not isinstance(password, str) or len(password) < 10:
        return _error(400, "bad_request", reason="a password of 10+ characters")
    try:
        role_value = Role(role)
    except ValueError:
        return _error(400, "bad_request", reason="role")
    if await services.store.get_user(username) is not None:
        return _error(409, "user_exists")
    try:
        hashed = await services.passwords.hash(password)
    except PasswordPoolBusy:
        return _error(503, "busy", retry_after_s=1)
    await services.store.create_user(username, hashed, role_value)
    await services.store.audit(
        admin["username"], "create_user", username, "ok", {"role": role_value.value}
    )
    return web.json_response({"username": username, "role": role_value.value}, status=201)
