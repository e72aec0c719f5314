"""`/metrics`: the fleet in Prometheus text format, aggregated, behind a scrape token or sign-in.

No series per kiosk: at 100,000 kiosks that was millions of series per scrape and a list of every
kiosk for anyone who asked. Counts by state, region, software version, device health and supply
level, open alerts, and the server's own counters (summed over every process through the
database, fleet.server_counters); per-kiosk detail stays in the signed-in API.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import Counter
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.auth import token_hash
from fleet.operator_api import SESSION_COOKIE, _error
from fleet.server_counters import read_counters
from fleet.services import SERVICES, FleetServices
from fleet.status import FleetState, SqlArgs, judgement_sql
from wire.fields import JsonObject

routes = web.RouteTableDef()

_LIVE = "k.retired_at IS NULL"


class FleetAggregates(Collector):
    """Prometheus families built from one read of the fleet's aggregates."""

    def __init__(self, figures: JsonObject) -> None:
        self.f = figures

    def collect(self) -> Iterable[Metric]:
        f = self.f
        fleet = GaugeMetricFamily("fleet_kiosks", "kiosks per state at a glance", labels=["state"])
        for state in FleetState:
            fleet.add_metric([state.value], f["states"].get(state.value, 0))
        yield fleet
        by_region = GaugeMetricFamily(
            "fleet_kiosks_by_region", "kiosks per region and state", labels=["region", "state"]
        )
        for (region, state), n in sorted(f["regions"].items()):
            by_region.add_metric([region, state], n)
        yield by_region
        versions = GaugeMetricFamily(
            "fleet_kiosks_by_software_version", "kiosks per software version", labels=["version"]
        )
        for version, n in sorted(f["versions"].items()):
            versions.add_metric([version], n)
        yield versions
        health = GaugeMetricFamily(
            "fleet_devices_unhealthy",
            "devices not ok, by device and health",
            labels=["device", "health"],
        )
        for (device, h), n in sorted(f["health"].items()):
            health.add_metric([device, h], n)
        yield health
        supplies = GaugeMetricFamily(
            "fleet_supplies_short", "supplies low or empty", labels=["device", "supply", "level"]
        )
        for (device, supply, level), n in sorted(f["supplies"].items()):
            supplies.add_metric([device, supply, level], n)
        yield supplies
        alerts = GaugeMetricFamily(
            "fleet_alerts_open", "open alerts by kind and acknowledgement", labels=["kind", "acked"]
        )
        for (kind, acked), n in sorted(f["alerts"].items()):
            alerts.add_metric([kind, acked], n)
        yield alerts
        beats = CounterMetricFamily("fleet_kiosk_heartbeats", "heartbeats taken from all kiosks")
        beats.add_metric([], f["heartbeats"])
        yield beats
        events = CounterMetricFamily("fleet_kiosk_events", "events taken from all kiosks")
        events.add_metric([], f["events"])
        yield events
        counters = f["server"]
        received = CounterMetricFamily(
            "fleet_server_heartbeats_received", "heartbeats accepted by all server processes"
        )
        received.add_metric([], counters.get("heartbeats_received", {}).get("", 0))
        yield received
        for name, help_text in (
            ("kiosk_requests_refused", "kiosk requests refused by all server processes"),
            ("sign_in_refused", "sign-ins throttled by all server processes"),
            ("enroll_refused", "enrollments throttled by all server processes"),
        ):
            family = CounterMetricFamily(f"fleet_server_{name}", help_text, labels=["reason"])
            for reason, n in sorted(counters.get(name, {}).items()):
                family.add_metric([reason], n)
            yield family


async def fleet_figures(services: FleetServices, now: float) -> JsonObject:
    """Everything /metrics shows, counted in SQL; only kiosks with problems are read in full."""
    db, store = services.store.db, services.store
    args = SqlArgs()
    judged = judgement_sql(args, now, store.thresholds)
    rows = await db.fetch(
        f"SELECT j.region, j.state, COUNT(*) AS n FROM (SELECT k.region, {judged} FROM kiosks k"
        f" WHERE {_LIVE}) j GROUP BY j.region, j.state",
        *args.values,
    )
    regions = {(r["region"], r["state"]): int(r["n"]) for r in rows}
    states: Counter[str] = Counter()
    for (_, state), n in regions.items():
        states[state] += n
    versions = {
        r["software_version"] or "unknown": int(r["n"])
        for r in await db.fetch(
            f"SELECT software_version, COUNT(*) AS n FROM kiosks k WHERE {_LIVE}"
            " GROUP BY software_version"
        )
    }
    health: Counter[tuple[str, str]] = Counter()
    supplies: Counter[tuple[str, str, str]] = Counter()
    for r in await db.fetch(
        f"SELECT devices_json FROM kiosks k WHERE {_LIVE} AND k.problem_count > 0"
    ):
        for d in json.loads(r["devices_json"]):
            if d.get("health") != "ok":
                health[(d["device"], d["health"])] += 1
            for s in d.get("supplies", []):
                if s.get("level") in ("low", "empty"):
                    supplies[(d["device"], s["name"], s["level"])] += 1
    alerts = {
        (r["kind"], "true" if r["acked"] else "false"): int(r["n"])
        for r in await db.fetch(
            "SELECT kind, CASE WHEN acked_at IS NULL THEN 0 ELSE 1 END AS acked, COUNT(*) AS n"
            " FROM alerts WHERE cleared_at IS NULL GROUP BY kind, acked"
        )
    }
    totals = await db.fetchrow(
        "SELECT COALESCE(SUM(heartbeats), 0) AS heartbeats, COALESCE(SUM(events), 0) AS events"
        " FROM kiosks"
    )
    assert totals is not None
    return {
        "states": dict(states),
        "regions": regions,
        "versions": versions,
        "health": dict(health),
        "supplies": dict(supplies),
        "alerts": alerts,
        "heartbeats": int(totals["heartbeats"]),
        "events": int(totals["events"]),
        "server": await read_counters(db),
    }


async def _may_scrape(request: web.Request) -> bool:
    """A scrape token (Authorization: Bearer) when one is configured, or a signed-in operator."""
    services = request.app[SERVICES]
    expected = services.config.metrics_token_hash
    auth = request.headers.get("Authorization", "")
    if expected and auth.startswith("Bearer "):
        return hmac.compare_digest(token_hash(auth[len("Bearer ") :].strip()), expected)
    cookie = request.cookies.get(SESSION_COOKIE)
    return bool(cookie and await services.store.session_user(token_hash(cookie)))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    if not await _may_scrape(request):
        response = _error(401, "not_signed_in")
        response.headers["WWW-Authenticate"] = 'Bearer realm="kiosk-fleet metrics"'
        return response
    services = request.app[SERVICES]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetAggregates(await fleet_figures(services, time.time())))
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
