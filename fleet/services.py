"""What every request handler of the fleet server shares: settings, store, verifier, counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from fleet.auth import PasswordPool, RequestVerifier
from fleet.config import FleetConfig
from fleet.server_counters import ServerCounters
from fleet.store import FleetStore
from fleet.throttle import LoginThrottle


@dataclass
class FleetServices:
    config: FleetConfig
    store: FleetStore
    verifier: RequestVerifier
    throttle: LoginThrottle
    passwords: PasswordPool = field(default_factory=PasswordPool)
    # Flushed to the database every sweep, so /metrics adds up every process's counts.
    counters: ServerCounters = field(default_factory=ServerCounters)


SERVICES = web.AppKey("services", FleetServices)
