"""Why the kiosk shows its last-resort out-of-service screen, decided in one place.

systemd starts that screen (kiosk-out-of-service.service) when kiosk.service has failed: either
it kept crashing, or it is not provisioned and said so with `EXIT_NOT_PROVISIONED`. The screen
must come up whatever state the configuration is in, so it never fails on the configuration.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import KioskConfig, load_config
from kiosk.json_object import JsonObject

# sysexits.h EX_CONFIG. kiosk.service names it in RestartPreventExitStatus=: restarting cannot
# provision a kiosk, so systemd fails the unit and OnFailure= shows the out-of-service screen.
EXIT_NOT_PROVISIONED = 78


class OutOfServiceReason(enum.StrEnum):
    """The reason line of the out-of-service screen; the value is its i18n key."""

    START_FAILED = "oos.start_failed"
    NOT_PROVISIONED = "oos.not_provisioned"

    @property
    def code(self) -> str:
        """Stable reason code for logs and systemd's STATUS= line."""
        return self.name.lower()


def is_provisioned(config_path: Path | None) -> bool:
    """A kiosk started with a configuration file is provisioned once that file exists.

    Without --config the kiosk runs on its built-in defaults (the simulator), as developers do.
    """
    return config_path is None or config_path.exists()


@dataclass(frozen=True)
class OutOfService:
    """What the out-of-service screen runs with: a configuration that loaded, and why."""

    config: KioskConfig
    reason: OutOfServiceReason
    detail: str  # for the log: what is wrong, without the file's contents


def out_of_service(config_path: Path | None, overrides: JsonObject) -> OutOfService:
    """The configuration the screen runs with and the reason it shows; never raises on the file."""
    if not is_provisioned(config_path):
        return OutOfService(load_config(None, overrides), OutOfServiceReason.NOT_PROVISIONED,
                            f"{config_path} does not exist: run kiosk-provision")
    try:
        return OutOfService(load_config(config_path, overrides), OutOfServiceReason.START_FAILED,
                            "the kiosk kept failing to start")
    except Exception as exc:  # the last resort must show, whatever the file holds
        # A broken kiosk.toml is also why the kiosk failed to start; the screen falls back to
        # the defaults (the hotline among them) rather than failing in turn.
        return OutOfService(load_config(None, overrides), OutOfServiceReason.START_FAILED,
                            f"{config_path} is unreadable ({exc.__class__.__name__}); defaults used")
