"""The fleet server's settings: one typed object, defaults that run on one machine with SQLite."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleet.status import Thresholds


@dataclass(frozen=True)
class FleetConfig:
    data_dir: Path = Path("var/fleet")
    # None or a file path: SQLite (DATA/fleet.sqlite3 by default); postgresql://...: PostgreSQL.
    database_url: str | None = None
    # The interval the server asks kiosks to use; None: each kiosk keeps its own.
    heartbeat_interval_s: float | None = None
    default_interval_s: float = 15.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    signature_window_s: float = 120.0
    session_ttl_s: float = 8 * 3600.0
    cookie_secure: bool = False  # set when served over HTTPS (behind a TLS proxy)
    enrollment_token_ttl_s: float = 7 * 24 * 3600.0
    sweep_interval_s: float = 5.0  # how often offline alerts are raised and old nonces dropped
    max_log_upload_bytes: int = 4 * 1024 * 1024
    max_failed_logins: int = 5  # per user name within `login_lockout_s`
    login_lockout_s: float = 300.0
