"""What every request handler of the fleet server shares: settings, store, verifier, counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from fleet.auth import RequestVerifier
from fleet.config import FleetConfig
from fleet.store import FleetStore


@dataclass
class FleetServices:
    config: FleetConfig
    store: FleetStore
    verifier: RequestVerifier
    heartbeats_received: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # kiosk requests refused, by reason
    failed_logins: dict[str, list[float]] = field(default_factory=dict)


SERVICES = web.AppKey("services", FleetServices)
