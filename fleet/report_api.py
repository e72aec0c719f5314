"""The operators' reports API: statistics (and their CSV), e-supervision, fleet health.

Every answer is figures over kiosks, items and places: nothing personal is stored to show.
Dates are the server's local calendar days (YYYY-MM-DD) or months (YYYY-MM); a parameter the
server cannot read is refused with 400 and its name, never guessed.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from fleet.availability import Window
from fleet.operator_api import _error, _user
from fleet.services import SERVICES, FleetServices
from fleet.statistics import BadQuery, Grain, GroupBy, StatsQuery
from fleet.store import Role
from fleet.supervision import SupervisionQuery
from wire.fleet import API_PREFIX

routes = web.RouteTableDef()
MAX_DAYS = 400


class _Bad(Exception):
    def __init__(self, field: str) -> None:
        self.field = field


def _bad(field: str) -> web.Response:
    return _error(400, "bad_request", reason=field)


def _text(request: web.Request, name: str) -> str:
    return request.query.get(name, "")[:100]


def _day(request: web.Request, name: str, default: datetime.date) -> datetime.date:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise _Bad(name) from None


def _days(request: web.Request, back: int) -> tuple[datetime.date, datetime.date]:
    today = datetime.date.today()
    last = _day(request, "to", today)
    first = _day(request, "from", last - datetime.timedelta(days=back))
    if first > last or (last - first).days > MAX_DAYS:
        raise _Bad("from")
    return first, last


def _midnight(day: datetime.date) -> float:
    return datetime.datetime.combine(day, datetime.time()).timestamp()


def _stats_query(request: web.Request) -> StatsQuery:
    try:
        grain = Grain(request.query.get("grain", "day"))
    except ValueError:
        raise _Bad("grain") from None
    try:
        group = GroupBy(request.query.get("group", "item"))
    except ValueError:
        raise _Bad("group") from None
    today = datetime.date.today()
    if grain is Grain.DAY:
        default_first = (today - datetime.timedelta(days=13)).isoformat()
        default_last = today.isoformat()
    else:
        year, month = divmod(today.year * 12 + today.month - 1 - 11, 12)
        default_first, default_last = f"{year:04d}-{month + 1:02d}", today.isoformat()[:7]
    try:
        return StatsQuery(
            grain,
            request.query.get("from") or default_first,
            request.query.get("to") or default_last,
            group,
            _text(request, "region"),
            _text(request, "site"),
            _text(request, "kiosk"),
            _text(request, "item"),
        )
    except BadQuery as exc:
        raise _Bad({"first": "from", "last": "to"}.get(exc.field, exc.field)) from None


async def _answer(
    request: web.Request, build: Callable[[FleetServices], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    await _user(request, Role.VIEWER)
    try:
        return await build(request.app[SERVICES])
    except _Bad as exc:
        return _bad(exc.field)


@routes.get(f"{API_PREFIX}/statistics")
async def statistics(request: web.Request) -> web.StreamResponse:
    """Transactions, amounts, success, refunds, satisfaction and agent share, grouped."""

    async def build(services: FleetServices) -> web.StreamResponse:
        result = await services.store.statistics(_stats_query(request))
        return web.json_response({**result, "server_time": time.time()})

    return await _answer(request, build)


@routes.get(f"{API_PREFIX}/statistics.csv")
async def statistics_csv(request: web.Request) -> web.StreamResponse:
    async def build(services: FleetServices) -> web.StreamResponse:
        q = _stats_query(request)
        text = await services.store.statistics_csv(q)
        response = web.Response(text=text, content_type="text/csv", charset="utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="statistics-{q.group.value}-{q.first}-{q.last}.csv"'
        )
        return response

    return await _answer(request, build)


@routes.get(f"{API_PREFIX}/supervision")
async def supervision(request: web.Request) -> web.StreamResponse:
    """Lights of the applications submitted from..to, as at `at` (default now): a date shows
    them at this time of day on that date, to look ahead."""

    async def build(services: FleetServices) -> web.StreamResponse:
        first, last = _days(request, 30)
        now = time.time()
        at = now
        if request.query.get("at"):
            day = _day(request, "at", datetime.date.today())
            at = _midnight(day) + (now - _midnight(datetime.date.today()))
        q = SupervisionQuery(
            _midnight(first),
            _midnight(last + datetime.timedelta(days=1)),
            at,
            _text(request, "region"),
            _text(request, "site"),
            _text(request, "item"),
        )
        result = await services.store.supervision(q)
        return web.json_response(
            {**result, "from": first.isoformat(), "to": last.isoformat(), "server_time": now}
        )

    return await _answer(request, build)


@routes.get(f"{API_PREFIX}/health/availability")
async def availability(request: web.Request) -> web.StreamResponse:
    async def build(services: FleetServices) -> web.StreamResponse:
        first, last = _days(request, 6)
        window = Window(first.isoformat(), last.isoformat(), time.time())
        result = await services.store.availability(
            window, _text(request, "region"), _text(request, "site")
        )
        return web.json_response({**result, "server_time": time.time()})

    return await _answer(request, build)


@routes.get(f"{API_PREFIX}/health/repairs")
async def repairs(request: web.Request) -> web.StreamResponse:
    async def build(services: FleetServices) -> web.StreamResponse:
        first, last = _days(request, 29)
        now = time.time()
        result = await services.store.repairs(
            _midnight(first),
            _midnight(last + datetime.timedelta(days=1)),
            now,
            _text(request, "region"),
            _text(request, "site"),
        )
        return web.json_response(
            {**result, "from": first.isoformat(), "to": last.isoformat(), "server_time": now}
        )

    return await _answer(request, build)


@routes.get(f"{API_PREFIX}/health/supplies")
async def supplies(request: web.Request) -> web.StreamResponse:
    async def build(services: FleetServices) -> web.StreamResponse:
        now = time.time()
        region, site = _text(request, "region"), _text(request, "site")
        forecasts = await services.store.supply_forecasts(now, region, site)
        return web.json_response(
            {
                "supplies": forecasts,
                "kiosks_shown": len({f["kiosk_id"] for f in forecasts}),
                "server_time": now,
            }
        )

    return await _answer(request, build)
