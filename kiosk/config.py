"""The kiosk's configuration: one typed object, loaded from TOML, defaults that run the simulator."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from kiosk.json_object import JsonObject

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# Where provisioning writes a kiosk's configuration (systemd starts the kiosk with it).
DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
# The built-in id: a development machine's, never a provisioned kiosk's.
DEV_KIOSK_ID = "KIOSK-DEV-0001"


@dataclass(frozen=True)
class DeviceConfig:
    card_reader: str = "Virtual PCD"  # first PC/SC reader whose name starts with this
    face_camera_url: str = "http://127.0.0.1:8081/stream.mjpg"
    document_camera_url: str = ""         # the document camera ("" = none fitted)
    # Its full-resolution stream where it has one (an IP camera's main stream): a data page's
    # MRZ is read from it ("" = the stream above).
    document_camera_full_url: str = ""
    printer_host: str = "127.0.0.1"
    printer_port: int = 9100
    idcard_reader_port: str = ""          # serial port of the ID-card SAM module ("" = none)
    dispenser_port: str = ""              # serial port of the certificate dispenser
    barcode_scanner_port: str = ""        # serial port of the barcode/QR scanner
    a4_printer_uri: str = ""              # ipp://host:port/ipp/print of the A4 printer ("" = none)
    csca_store: str = ""                  # PEM file of trusted CSCA certificates (passive auth)


@dataclass(frozen=True)
class BackendConfig:
    payment_url: str = "http://127.0.0.1:8080/pay/v1"
    catalog_url: str = "http://127.0.0.1:8080/catalog/v1"
    exit_entry_url: str = "http://127.0.0.1:8080/exit-entry/v1"
    utility_url: str = "http://127.0.0.1:8080/utility/v1"
    certificates_url: str = "http://127.0.0.1:8080/certificates/v1"
    queue_url: str = "http://127.0.0.1:8080/queue/v1"
    # The payment platform's relay of the gateway's payment notifications ("" = none).
    notify_url: str = "http://127.0.0.1:8080/notify/v1"
    progress_url: str = "http://127.0.0.1:8080/progress/v1"      # application progress
    documents_url: str = "http://127.0.0.1:8080/documents/v1"    # finished documents to collect
    evaluation_url: str = "http://127.0.0.1:8080/evaluation/v1"  # ratings (好差评)
    fines_url: str = "http://127.0.0.1:8080/fines/v1"            # traffic-fine decisions
    deadline_s: float = 10.0
    health_interval_s: float = 5.0  # how often the kiosk checks it can reach the backends
    # The slowest link the kiosk must work through (a village line): a submission's deadline
    # grows with its size at this rate, so a pre-review's scanned pages (~300 KB, 40 s at
    # 64 kbit/s) are not cut off at `deadline_s` and retried forever. 0: no allowance.
    link_floor_bps: int = 64_000
    # Backends on the site's own network, reachable when the link is down (e.g. ["queue"] where
    # the site runs a local queue): items that call only these stay on offline.
    site_backends: tuple[str, ...] = ()

    def services(self) -> dict[str, str]:
        """Backend name (as catalog steps name it) -> base URL."""
        return {
            "exit_entry": self.exit_entry_url,
            "utility": self.utility_url,
            "certificates": self.certificates_url,
            "queue": self.queue_url,
            "progress": self.progress_url,
            "documents": self.documents_url,
            "evaluation": self.evaluation_url,
            "fines": self.fines_url,
        }


ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class UiConfig:
    language: str = "zh"
    fullscreen: bool = True
    width: int = 1080
    height: int = 1920
    font_path: str = CJK_FONT
    idle_prompt_s: float = 60.0  # no touch or progress for this long: "still there?"
    idle_timeout_s: float = 30.0  # then this long more (the warning): back to the attract loop
    result_timeout_s: float = 30.0
    # Elder mode (长辈模式) multiplies every time the citizen is given.
    elder_time_multiplier: float = 2.0
    consent_notice_s: float = 6.0         # the face-capture notice before the camera starts
    # Voice guidance: offline synthesis (espeak-ng) cached under state_dir/voice; a recorded
    # prompt (recorded_prompts_dir/LANG/KEY.wav) wins over synthesis.
    voice: bool = True
    volume: float = 0.8
    quiet_hours: str = "22:00-07:00"      # "" = none; the volume then is quiet_volume
    quiet_volume: float = 0.35
    speech_rate_wpm: int = 150
    elder_speech_rate_wpm: int = 115
    recorded_prompts_dir: str = ""
    # How far the panel is turned clockwise where it is mounted (a portrait panel on its side):
    # the compositor turns its output back (kiosk-session.service, kiosk-provision's
    # session.env), and the kiosk lays out for the size it then gets.
    rotation: int = 0

    def __post_init__(self) -> None:
        if self.rotation not in ROTATIONS:
            raise ValueError(f"ui.rotation must be one of {ROTATIONS}, not {self.rotation!r}")

    def citizen_seconds(self, seconds: float, elder: bool) -> float:
        """A time the citizen is given, doubled (by default) in elder mode."""
        return seconds * (self.elder_time_multiplier if elder else 1.0)


@dataclass(frozen=True)
class FlowConfig:
    place_card_timeout_s: float = 90.0
    face_timeout_s: float = 60.0
    face_stable_frames: int = 5  # consecutive frames with one face before capture
    payment_timeout_s: float = 120.0
    payment_poll_s: float = 1.0
    step_timeout_s: float = 300.0  # no single step may hang longer than this
    # A transaction whose ending is not known yet is settled again after this, then backs off
    # exponentially (up to an hour) while the gateway or a backend stays unreachable.
    settle_retry_s: float = 30.0
    office_hotline: str = "12367"
    # Passive authentication policy: a document whose signer chain is not trusted is refused.
    require_trusted_document: bool = True
    # A chip that offers Active Authentication (DG15) must pass it: a copy of the data on
    # another chip fails (drivers.active_auth). A chip that offers none is read as before.
    require_active_auth: bool = True
    # The same for Chip Authentication (DG14's static key): a chip that offers it must pass.
    require_chip_auth: bool = True


@dataclass(frozen=True)
class FleetConfig:
    server_url: str = ""                  # "" = not enrolled: no agent runs
    device_key_path: str = ""
    site: str = ""
    region: str = ""
    enrolled_at: str = ""
    key_id: str = ""
    heartbeat_interval_s: float = 15.0

    @property
    def enrolled(self) -> bool:
        """Provisioning enrolled this kiosk with a fleet: every part that talks to the fleet
        (the fleet link, video calls, the update agent's health) asks this, and only this."""
        return bool(self.server_url and self.device_key_path)


@dataclass(frozen=True)
class CallConfig:
    """Video help from the hall (kiosk.videocall). Whether the site allows calls, and records
    them, is the fleet's policy; the ICE servers (STUN, coturn's TURN) come from the fleet too."""

    microphone: str = "tone"      # "tone" (the simulator has no microphone), "silence", "alsa:DEV"
    speaker: str = ""             # "" = the agent's voice is counted, not played; "alsa:DEV"
    relay_only: bool = False      # media only through the fleet's TURN relay (behind a strict NAT)
    video_width: int = 640
    video_height: int = 480
    video_fps: float = 15.0
    screen_width: int = 540       # the screen track: the window scaled to fit, privacy-masked
    screen_height: int = 960
    screen_fps: float = 4.0       # at most; a screen that does not change is sent once a second
    display_fps: float = 10.0     # the agent's picture on the kiosk's screen (each one a redraw)
    connect_timeout_s: float = 20.0   # an agent answered but no media flowed in this long
    grace_s: float = 15.0         # a dropped link may come back this long during a call
    policy_interval_s: float = 300.0  # how often the site's call policy is asked again


@dataclass(frozen=True)
class TechnicianConfig:
    pin_hash: str = ""                    # scrypt$N$r$p$salt$hash, set by kiosk-provision


@dataclass(frozen=True)
class UpdateConfig:
    """Software updates (kiosk.update): who may sign a release, where slots live, when to switch."""

    # Release public keys (base64 of the raw Ed25519 key, `kiosk-bundle keygen` prints one);
    # a bundle signed by any other key is refused.
    trusted_keys: tuple[str, ...] = ()
    slots_root: str = "/opt/kiosk"  # slots/a, slots/b, current -> one of them, runtimes/
    state_dir: str = "/var/lib/kiosk-update"  # the updater's and the slot guard's state
    # Local time "HH:MM-HH:MM" (may cross midnight) when the kiosk may restart into a new
    # version; "" = any time. Downloading and installing into the spare slot go on at any hour.
    maintenance_window: str = "02:00-05:00"
    # A new version must be healthy (attract screen, devices probed, fleet heartbeat answered)
    # this long after its first start, and within this many starts, or it is rolled back.
    health_deadline_s: float = 300.0
    start_tries: int = 2
    check_interval_s: float = 10.0  # how often the kiosk looks for a staged release


@dataclass(frozen=True)
class RetentionConfig:
    """How long what the kiosk writes is kept, so nothing grows over years (kiosk.retention).
    Enforced between citizens, never while a transaction runs."""

    # Ended transactions (closed, cancelled, refunded) are kept in full this long, then folded
    # into per-day totals (item, outcome, count, fen). Never below the fleet reporter's look-back
    # (kiosk.retention.MIN_JOURNAL_DAYS): a transaction leaves only once it could be reported.
    journal_days: float = 180.0
    log_file_mb: float = 5.0              # kiosk.log rotates at this size...
    log_files: int = 5                    # ...keeping this many old files
    fleet_outbox_messages: int = 10_000   # heartbeats and events kept while the fleet is away
    refused_ratings_days: float = 90.0    # ratings the backend refused, kept for the operators
    voice_cache_mb: float = 64.0          # synthesised prompts; the least recently made go first
    # Free space on the state folder's disk: below the first the fleet is warned (a device
    # "storage" with its "disk_space" low); below the second the kiosk stops taking citizens,
    # so the journal can always write what a transaction in progress needs.
    disk_warn_free_mb: float = 2048.0
    disk_stop_free_mb: float = 200.0
    disk_check_s: float = 60.0            # how often the free space is read
    interval_s: float = 3600.0            # how often the retention pass runs (between citizens)
    journal_batch: int = 500              # ended transactions folded per step (the loop's share)


@dataclass(frozen=True)
class DebugConfig:
    # Test instrumentation only: "STATE[:N]" kills the process after the Nth journal commit
    # into STATE, as a power cut would (the crash test uses it).
    crash_after: str = ""
    # The same for the steps of an update ("STEP[:N]", kiosk.update.guard.CrashPoints).
    update_crash_after: str = ""


@dataclass(frozen=True)
class KioskConfig:
    kiosk_id: str = DEV_KIOSK_ID
    state_dir: Path = Path("var/kiosk")
    # Where the log files go ("" = <state_dir>/logs). kiosk.service passes its LogsDirectory=
    # (/var/log/kiosk) with --log-dir.
    log_directory: str = ""
    devices: DeviceConfig = field(default_factory=DeviceConfig)
    backends: BackendConfig = field(default_factory=BackendConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    technician: TechnicianConfig = field(default_factory=TechnicianConfig)
    call: CallConfig = field(default_factory=CallConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"

    @property
    def catalog_path(self) -> Path:
        return self.state_dir / "catalog.json"

    @property
    def log_dir(self) -> Path:
        return Path(self.log_directory) if self.log_directory else self.state_dir / "logs"


# Any: a configuration section, any of the dataclasses above.
def _merge(obj: Any, data: JsonObject) -> Any:
    changes: JsonObject = {}
    by_name = {f.name: f for f in fields(obj)}
    for key, value in data.items():
        if key not in by_name:
            raise ValueError(f"unknown configuration key: {key}")
        current = getattr(obj, key)
        if is_dataclass(current):
            changes[key] = _merge(current, value)
        elif isinstance(current, Path):
            changes[key] = Path(value)
        else:
            changes[key] = type(current)(value)
    return replace(obj, **changes)


def load_config(path: Path | None = None, overrides: JsonObject | None = None) -> KioskConfig:
    """Defaults, then the TOML file if given, then overrides (same nested shape)."""
    config = KioskConfig()
    if path is not None:
        config = _merge(config, tomllib.loads(path.read_text(encoding="utf-8")))
    if overrides:
        config = _merge(config, overrides)
    return config


def simulator_overrides(endpoints: JsonObject) -> JsonObject:
    """Configuration pointing the kiosk at a running simulator's endpoints."""
    return {
        "devices": {
            "card_reader": endpoints["card_reader"],
            "face_camera_url": endpoints["face_camera_url"],
            "printer_host": endpoints["printer"]["host"],
            "printer_port": endpoints["printer"]["port"],
            **{key: endpoints[name] for name, key in (
                ("idcard_reader", "idcard_reader_port"), ("dispenser", "dispenser_port"),
                ("barcode_scanner", "barcode_scanner_port"), ("csca_store", "csca_store"),
                ("document_camera_url", "document_camera_url"),
                ("document_camera_full_url", "document_camera_full_url"),
                ("a4_printer_uri", "a4_printer_uri"))
               if name in endpoints},
        },
        "backends": {
            "payment_url": endpoints["payment_url"],
            "catalog_url": endpoints["catalog_url"],
            "exit_entry_url": endpoints["exit_entry_url"],
            "utility_url": endpoints["utility_url"],
            "certificates_url": endpoints["certificates_url"],
            "queue_url": endpoints["queue_url"],
            "notify_url": endpoints.get("notify_url", ""),
            **{f"{name}_url": endpoints[f"{name}_url"]
               for name in ("progress", "documents", "evaluation", "fines")
               if f"{name}_url" in endpoints},
        },
    }
