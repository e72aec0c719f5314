"""`/metrics`: the fleet in Prometheus text format, per-kiosk gauges and counters.

The figures are read from the store at scrape time into a fresh registry, so the server holds no
second copy of the fleet's state and a scrape always agrees with the dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.services import SERVICES, FleetServices
from fleet.status import Connectivity, FleetState

routes = web.RouteTableDef()

_HEALTH = ("ok", "degraded", "fault", "absent")
_LEVEL_VALUE = {"ok": 2, "low": 1, "empty": 0}


class FleetSnapshot(Collector):
    """Prometheus families built from one read of the fleet."""

    def __init__(
        self, kiosks: list[dict[str, Any]], alerts: list[dict[str, Any]], services: FleetServices
    ) -> None:
        self.kiosks, self.alerts, self.services = kiosks, alerts, services

    def collect(self) -> Iterable[Metric]:
        k_labels = ["kiosk", "site", "region"]
        up = GaugeMetricFamily(
            "fleet_kiosk_up", "1 if the kiosk's heartbeats are on time (online)", labels=k_labels
        )
        state = GaugeMetricFamily(
            "fleet_kiosk_state", "1 for the kiosk's state at a glance", labels=["kiosk", "state"]
        )
        in_service = GaugeMetricFamily(
            "fleet_kiosk_in_service", "1 if the kiosk offers service", labels=["kiosk"]
        )
        last = GaugeMetricFamily(
            "fleet_kiosk_last_heartbeat_timestamp_seconds",
            "when the server last heard from the kiosk",
            labels=["kiosk"],
        )
        interval = GaugeMetricFamily(
            "fleet_kiosk_heartbeat_interval_seconds",
            "the kiosk's heartbeat interval",
            labels=["kiosk"],
        )
        health = GaugeMetricFamily(
            "fleet_kiosk_device_health",
            "1 for each device's current health",
            labels=["kiosk", "device", "health"],
        )
        supply_level = GaugeMetricFamily(
            "fleet_kiosk_supply_level",
            "supply level: 2 ok, 1 low, 0 empty",
            labels=["kiosk", "device", "supply"],
        )
        supply_remaining = GaugeMetricFamily(
            "fleet_kiosk_supply_remaining",
            "units left where the device can count them",
            labels=["kiosk", "device", "supply"],
        )
        attention = GaugeMetricFamily(
            "fleet_kiosk_attention_transactions",
            "journal transactions that need an operator",
            labels=["kiosk"],
        )
        info = GaugeMetricFamily(
            "fleet_kiosk_info",
            "software and catalog versions",
            labels=["kiosk", "software_version", "catalog_version"],
        )
        restarts = GaugeMetricFamily(
            "fleet_kiosk_systemd_restarts",
            "systemd's restart count (NRestarts) of the kiosk's unit, as last reported",
            labels=["kiosk"],
        )
        heartbeats = CounterMetricFamily(
            "fleet_kiosk_heartbeats", "heartbeats received from the kiosk", labels=["kiosk"]
        )
        events = CounterMetricFamily(
            "fleet_kiosk_events", "events received from the kiosk", labels=["kiosk"]
        )
        reported = CounterMetricFamily(
            "fleet_kiosk_reported",
            "the kiosk's own counters (transactions, receipts...) since installation",
            labels=["kiosk", "counter"],
        )
        fleet = GaugeMetricFamily("fleet_kiosks", "kiosks per state at a glance", labels=["state"])
        counts = {s.value: 0 for s in FleetState}
        for k in self.kiosks:
            kid = k["kiosk_id"]
            counts[k["state"]] += 1
            up.add_metric(
                [kid, k["site"], k["region"]],
                1.0 if k["connectivity"] == Connectivity.ONLINE.value else 0.0,
            )
            for s in FleetState:
                state.add_metric([kid, s.value], 1.0 if k["state"] == s.value else 0.0)
            in_service.add_metric([kid], 1.0 if k["in_service"] else 0.0)
            if k["last_seen"] is not None:
                last.add_metric([kid], k["last_seen"])
            interval.add_metric([kid], k["interval_s"])
            for d in k["devices"]:
                for h in _HEALTH:
                    health.add_metric([kid, d["device"], h], 1.0 if d["health"] == h else 0.0)
                for s_ in d.get("supplies", []):
                    if s_["level"] in _LEVEL_VALUE:
                        supply_level.add_metric(
                            [kid, d["device"], s_["name"]], _LEVEL_VALUE[s_["level"]]
                        )
                    if s_.get("remaining") is not None:
                        supply_remaining.add_metric([kid, d["device"], s_["name"]], s_["remaining"])
            attention.add_metric([kid], len(k["attention"]))
            info.add_metric([kid, k["software_version"], k["catalog_version"]], 1.0)
            if k.get("restarts") is not None:
                restarts.add_metric([kid], k["restarts"])
            heartbeats.add_metric([kid], k["heartbeats"])
            events.add_metric([kid], k["events"])
            for name, value in sorted(k["counters"].items()):
                reported.add_metric([kid, name], value)
        for state_name, n in counts.items():
            fleet.add_metric([state_name], n)
        alerts = GaugeMetricFamily(
            "fleet_alerts_open", "open alerts by kind and acknowledgement", labels=["kind", "acked"]
        )
        by_kind: dict[tuple[str, str], int] = {}
        for a in self.alerts:
            key = (a["kind"], "true" if a["acked_at"] is not None else "false")
            by_kind[key] = by_kind.get(key, 0) + 1
        for (kind, acked), n in sorted(by_kind.items()):
            alerts.add_metric([kind, acked], n)
        received = CounterMetricFamily(
            "fleet_server_heartbeats_received", "heartbeats accepted by this server process"
        )
        received.add_metric([], self.services.heartbeats_received)
        refused = CounterMetricFamily(
            "fleet_server_kiosk_requests_refused",
            "kiosk requests refused by this server process",
            labels=["reason"],
        )
        for reason, n in sorted(self.services.refused.items()):
            refused.add_metric([reason], n)
        yield from (fleet, up, state, in_service, last, interval, health, supply_level)
        yield from (supply_remaining, attention, info, restarts, heartbeats, events, reported)
        yield alerts
        yield from (received, refused)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    kiosks = await services.store.list_kiosks(time.time())
    alerts = await services.store.list_alerts(open_only=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetSnapshot(kiosks, alerts, services))
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
