"""The fleet server's settings: one typed object, defaults that run on one machine with SQLite."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleet.call_config import CallConfig
from fleet.status import Thresholds
from fleet.throttle import ThrottleLimits


@dataclass(frozen=True)
class WebhookConfig:
    """Alerts POSTed as JSON to `url`, signed with HMAC-SHA256 under `secret` (fleet.notify)."""

    url: str = ""
    secret: str = ""
    timeout_s: float = 10.0


@dataclass(frozen=True)
class SmtpConfig:
    """Alerts mailed through a relay; `to` is a comma-separated list of addresses."""

    host: str = ""
    port: int = 25
    sender: str = ""
    to: str = ""
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_s: float = 20.0


@dataclass(frozen=True)
class NotifyConfig:
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    poll_s: float = 1.0  # how often the delivery worker looks for due notifications
    first_retry_s: float = 2.0  # then doubling, up to max_retry_s
    max_retry_s: float = 600.0
    max_attempts: int = 12  # about an hour and a half of trying with the defaults
    lease_s: float = 60.0  # a claimed notification another process may take over after this


@dataclass(frozen=True)
class FleetConfig:
    data_dir: Path = Path("var/fleet")
    # None or a file path: SQLite (DATA/fleet.sqlite3 by default); postgresql://...: PostgreSQL.
    database_url: str | None = None
    # PostgreSQL connections per process: workers x this must stay under max_connections.
    database_pool_size: int = 10
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
    # Sign-in throttling, shared by every process (fleet.throttle).
    login_limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    # Addresses of the load balancers whose X-Forwarded-For names the caller (HAProxy's).
    trusted_proxies: tuple[str, ...] = ()
    # sha256 of the bearer token Prometheus scrapes /metrics with; "" = signed-in operators only.
    metrics_token_hash: str = ""
    password_threads: int = 2  # scrypt runs here, never on the event loop
    max_bulk_kiosks: int = 1000  # a bulk command reaches at most this many kiosks
    # A restart or reboot the kiosk accepted but whose effect (a new process, a new boot) the
    # server has not seen in this long is marked failed rather than left "acknowledged".
    command_effect_window_s: float = 900.0
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    calls: CallConfig = field(default_factory=CallConfig)  # video help from the hall
    # Software rollouts (fleet.rollouts): the release keys an uploaded bundle's manifest must be
    # signed by (base64, as kiosk-bundle keygen prints them; none: uploads are refused),
    # the largest bundle taken, and the address kiosks download bundles from ("" = the address
    # the operator's request came in on).
    release_keys: tuple[str, ...] = ()
    max_bundle_bytes: int = 1 << 30
    public_url: str = ""
