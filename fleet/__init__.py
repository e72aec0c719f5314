"""The operators' fleet server: kiosk enrollment and heartbeats, dashboard, alerts, metrics."""

from fleet.app import create_app
from fleet.config import FleetConfig

__all__ = ["FleetConfig", "create_app"]
