"""What the screens see of the kiosk: an observable session view, and the intents they may send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from kiosk.i18n import translate


class ScreenId(StrEnum):
    ATTRACT = "attract"
    MENU = "menu"
    READ_IDCARD = "read_idcard"
    PLACE_PERMIT = "place_permit"
    FACE = "face"
    CHOOSE = "choose"
    ENTER_ACCOUNT = "enter_account"
    CONFIRM = "confirm"
    SCAN_DOCUMENT = "scan_document"
    PAY = "pay"
    PROCESSING = "processing"
    RESULT = "result"
    OUT_OF_SERVICE = "out_of_service"
    TECHNICIAN_PIN = "technician_pin"
    TECHNICIAN = "technician"


Text = dict[str, str]  # language -> text, as the catalog and backends publish it


class CallPhase(StrEnum):
    """Video help from the hall (kiosk.videocall): where the citizen's call is."""

    IDLE = "idle"
    CONSENT = "consent"        # asked to agree before the camera turns on
    RINGING = "ringing"        # waiting for an agent
    CONNECTING = "connecting"  # an agent answered; media being set up
    IN_CALL = "in_call"
    ENDED = "ended"            # shown for a moment, with why


# The view's fields that hold the citizen's own data. The screen the hall's agent sees during a
# call shows the widgets rendering them masked (screens.screen_share); a screen that renders one
# of these must mark its widget personal (tests/videocall/test_screen_privacy.py checks all).
PERSONAL_FIELDS = frozenset({"entry", "confirm_lines", "preview", "result_lines"})


@dataclass(frozen=True)
class ServiceTile:
    code: str
    title: Text
    summary: Text
    available: bool
    reason_key: str | None = None  # why not, as a kiosk.i18n key
    warning_key: str | None = None  # offered, but something is missing (e.g. no receipt)


@dataclass(frozen=True)
class OptionTile:
    code: str
    title: Text
    fee_fen: int | None = None


@dataclass
class SessionView:
    """Observable state of the citizen's session; screens subscribe and re-render what changed."""

    screen: ScreenId = ScreenId.ATTRACT
    language: str = "zh"
    services: tuple[ServiceTile, ...] = ()
    network_ok: bool = True
    service_title: Text = field(default_factory=dict)
    choose_title: Text = field(default_factory=dict)
    options: tuple[OptionTile, ...] = ()
    entry: str = ""  # what the citizen typed or scanned
    entry_title: Text = field(default_factory=dict)
    entry_error_key: str = ""
    confirm_lines: tuple[tuple[Text, str], ...] = ()
    scan_material: Text = field(default_factory=dict)   # the material to lay on the camera
    scan_index: int = 0
    scan_total: int = 0
    status_key: str = ""  # the current instruction on the screen
    status_params: dict[str, Any] = field(default_factory=dict)
    busy: bool = False
    fee_fen: int = 0
    qr_payload: str = ""
    order_no: str = ""
    preview: Any = None  # latest camera frame (RGB ndarray), never stored
    faces: int = 0
    result_ok: bool = False
    result_title_key: str = ""
    result_lines: tuple[Text, ...] = ()
    out_of_service_key: str = ""          # why the kiosk is out of service
    hotline: str = ""
    # Technician mode (behind the PIN): live device rows and recent device events.
    device_rows: tuple[tuple[str, str, str, str], ...] = ()   # name, health, reason, supplies
    device_events: tuple[str, ...] = ()
    technician_note: str = ""
    attention_count: int = 0
    idle_prompt: bool = False
    idle_seconds_left: int = 0
    # Video help from the hall (kiosk.videocall): the call and what its overlay shows.
    call_available: bool = False          # the site allows calls and the fleet answers
    call_phase: CallPhase = CallPhase.IDLE
    call_agent: str = ""
    call_recording: bool = False          # the site records calls: the overlay marks it
    call_video: Any = None                # the agent's newest frame (RGB ndarray)
    call_note_key: str = ""               # e.g. the link dropped and is being waited for
    call_end_key: str = ""                # why the call ended, while ENDED shows
    call_proposal: Text = field(default_factory=dict)  # an item the agent proposes to start
    call_guide: tuple[str, ...] = ()      # an item's guide the agent sent, in lines
    _observers: list[Callable[[set[str]], None]] = field(default_factory=list, repr=False)

    def subscribe(self, observer: Callable[[set[str]], None]) -> None:
        self._observers.append(observer)

    def update(self, **changes: Any) -> None:
        changed = {name for name, value in changes.items() if getattr(self, name) is not value}
        for name, value in changes.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise AttributeError(name)
            setattr(self, name, value)
        if changed:
            for observer in list(self._observers):
                observer(changed)

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.language, **params)

    def pick(self, text: Text) -> str:
        """The catalog's or backend's own text in the current language (Chinese if missing)."""
        return text.get(self.language) or text.get("zh", "")


class Intents(Protocol):
    """What a screen may ask of the kiosk."""

    def touch_start(self) -> None: ...
    def choose_service(self, code: str) -> None: ...
    def choose_option(self, code: str) -> None: ...
    def key_press(self, key: str) -> None: ...
    def technician_tap(self) -> None: ...
    def technician_action(self, action: str) -> None: ...
    def cancel(self) -> None: ...
    def finish(self) -> None: ...
    def set_language(self, language: str) -> None: ...
    def activity(self) -> None: ...
    def dismiss_idle_prompt(self) -> None: ...
    def call_staff(self) -> None: ...
    def accept_call_consent(self) -> None: ...
    def hang_up(self) -> None: ...
    def start_proposed_item(self) -> None: ...
    def dismiss_call_message(self) -> None: ...
