"""What the screens see of the kiosk: an observable session view, and the intents they may send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from kiosk.i18n import translate
from kiosk.json_object import JsonObject


class ScreenId(StrEnum):
    ATTRACT = "attract"
    MENU = "menu"
    READ_IDCARD = "read_idcard"
    PLACE_PERMIT = "place_permit"
    PLACE_DATA_PAGE = "place_data_page"  # a travel document's data page on the document camera
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
    SEARCH = "search"
    GUIDE = "guide"
    EVALUATE = "evaluate"
    AGENT_SIGN_IN = "agent_sign_in"  # a village agent shows a QR code, or ID card and PIN


class MenuTab(StrEnum):
    """The menu's ways in: what this kiosk does, or every item by department or life event."""

    KIOSK = "kiosk"
    DEPARTMENTS = "departments"
    LIFE_EVENTS = "life_events"


Text = dict[str, str]  # language -> text, as the catalog and backends publish it


class Volume(StrEnum):
    """The citizen's sound control, cycled by one button."""

    NORMAL = "normal"
    LOW = "low"
    MUTED = "muted"


# The citizen's stages of a flow, for the progress bar: catalog step -> (label key, screen).
# Steps the citizen does not see (lookup, submit, print) are not stages.
STAGES: dict[str, tuple[str, ScreenId]] = {
    "read_idcard": ("stage.idcard", ScreenId.READ_IDCARD),
    "mrz_from_page": ("stage.data_page", ScreenId.PLACE_DATA_PAGE),
    "read_permit": ("stage.permit", ScreenId.PLACE_PERMIT),
    "capture_face": ("stage.face", ScreenId.FACE),
    "scan_materials": ("stage.scan", ScreenId.SCAN_DOCUMENT),
    "enter_account": ("stage.account", ScreenId.ENTER_ACCOUNT),
    "choose_option": ("stage.choose", ScreenId.CHOOSE),
    "confirm_amount": ("stage.confirm", ScreenId.CONFIRM),
    "pay": ("stage.pay", ScreenId.PAY),
}
DONE_STAGE = "stage.done"

# Fields whose change means the citizen is getting on (a card placed, a face in view, a page
# scanned, a key typed, the flow moving on): they count as activity, like a touch.
PROGRESS_FIELDS = frozenset({"screen", "status_key", "faces", "scan_index", "entry",
                             "qr_payload", "search_query", "guide_section", "rating_level",
                             "rating_comment", "rating_composing"})

# A status that means a document of the citizen's is now in the kiosk: remind them at the end.
DOCUMENT_PLACED = {"idcard.reading": "doc.idcard", "permit.reading": "doc.permit",
                   "scan.done": "doc.materials"}


def stages_of(step_names: list[str]) -> tuple[str, ...]:
    """The progress bar's labels for a flow: its citizen stages in order, then "done"."""
    labels: list[str] = []
    for name in step_names:
        stage = STAGES.get(name)
        if stage is not None and stage[0] not in labels:
            labels.append(stage[0])
    return (*labels, DONE_STAGE) if labels else ()


def stage_index(stages: tuple[str, ...], screen: ScreenId, previous: int) -> int:
    """Where the progress bar stands on `screen` (screens that are not stages keep it)."""
    if screen is ScreenId.RESULT:
        return len(stages) - 1
    for index, label in enumerate(stages):
        step = next((s for s, (key, _) in STAGES.items() if key == label), None)
        if step is not None and STAGES[step][1] is screen:
            return index
    return previous


class CallPhase(StrEnum):
    """Video help from the hall (kiosk.videocall): where the citizen's call is."""

    IDLE = "idle"
    CONSENT = "consent"        # asked to agree before the camera turns on
    RINGING = "ringing"        # waiting for an agent
    CONNECTING = "connecting"  # an agent answered; media being set up
    IN_CALL = "in_call"
    ENDED = "ended"            # shown for a moment, with why

    @property
    def with_the_hall(self) -> bool:
        """Ringing or talking: the citizen is busy with the hall, not idle (kiosk.citizen_time)."""
        return self in (CallPhase.RINGING, CallPhase.CONNECTING, CallPhase.IN_CALL)


# The view's fields that hold the citizen's own data (what they typed, scanned or showed the
# camera, what was found about them, their own words in a rating's comment). The screen the
# hall's agent sees during a call shows the widgets rendering them masked (screens.screen_share);
# a screen that renders one of these must mark its widget personal
# (tests/videocall/test_screen_privacy.py checks all); the end of a visit wipes them all
# (KioskSession._clear_visit, through personal_defaults).
PERSONAL_FIELDS = frozenset({"entry", "confirm_lines", "preview", "result_lines",
                             "rating_comment", "rating_composing", "rating_words"})


@dataclass(frozen=True)
class ServiceTile:
    code: str
    title: Text
    summary: Text
    available: bool
    reason_key: str | None = None  # why not, as a kiosk.i18n key
    warning_key: str | None = None  # offered, but something is missing (e.g. no receipt)
    elder_first: bool = False       # the catalog puts it first in elder mode
    guide_only: bool = False        # done at a window or online: the tile opens its guide


@dataclass(frozen=True)
class CategoryTile:
    """A department or a life event on the menu, with how many items it holds."""

    key: str
    title: Text
    count: int


@dataclass(frozen=True)
class GuideText:
    """One section of an item's guide (办事指南) in one language: heading and lines."""

    key: str
    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class GuideView:
    """An item's guide as the screen shows it: its words in each language, the URL of its web
    page (the QR code), and whether the citizen can do it on this kiosk now."""

    code: str
    title: Text
    department: Text
    sections: dict[str, tuple[GuideText, ...]]   # language -> sections
    url: str
    offered: bool


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
    entry_letters: bool = False  # the keypad offers letters too (a document number)
    confirm_lines: tuple[tuple[Text, str], ...] = ()
    scan_material: Text = field(default_factory=dict)   # the material to lay on the camera
    scan_index: int = 0
    scan_total: int = 0
    status_key: str = ""  # the current instruction on the screen
    status_params: JsonObject = field(default_factory=dict)
    busy: bool = False
    fee_fen: int = 0
    qr_payload: str = ""
    order_no: str = ""
    preview: Any = None  # Any: the latest camera frame (a numpy RGB array), never stored
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
    # The citizen's experience: elder mode, sound, guidance and the ways out.
    elder: bool = False                   # 长辈模式: larger type, high contrast, more time
    volume: Volume = Volume.NORMAL
    stages: tuple[str, ...] = ()          # progress bar labels (kiosk.i18n keys)
    stage_index: int = -1
    busy_key: str = ""                    # what the kiosk is doing while the citizen waits
    countdown_s: int = 0                  # seconds left on the pay and result screens
    consent_pending: bool = False         # the face-capture notice is up, camera not started
    agent_id: str = ""                    # a village agent is signed in: every screen marks it
    documents: tuple[str, ...] = ()       # what the citizen placed (doc.* keys): take it back
    can_go_back: bool = False             # "上一步" is safe here
    exit_prompt: bool = False             # "really exit?" is up
    help_shown: bool = False              # "call staff" is up
    # Finding a service among hundreds (kiosk.service_search), and its guide.
    menu_tab: MenuTab = MenuTab.KIOSK
    categories: tuple[CategoryTile, ...] = ()  # the tab's departments or life events
    category_title: Text = field(default_factory=dict)  # a category open: its name
    category_items: tuple[ServiceTile, ...] = ()          # and its items, most used first
    search_query: str = ""
    search_results: tuple[ServiceTile, ...] = ()
    search_words: tuple[str, ...] = ()    # Chinese words to tap (what citizens search most)
    guide: GuideView | None = None
    guide_section: int = 0
    guide_note_key: str = ""              # the checklist printed, or why not
    # The citizen's rating (好差评, kiosk.evaluation) after a service, finished or failed.
    rating_levels: tuple[OptionTile, ...] = ()   # the five levels, best first
    rating_tags: tuple[OptionTile, ...] = ()     # reasons, offered on the two lowest levels
    rating_level: int = 0
    rating_chosen: tuple[str, ...] = ()
    rating_comment: str = ""
    rating_composing: str = ""            # pinyin typed for the comment, not a word yet
    rating_words: tuple[str, ...] = ()    # Chinese words offered for it (kiosk.pinyin_input)
    rating_more_words: bool = False       # more than these: "more" pages through them
    rating_note_key: str = ""
    # Video help from the hall (kiosk.videocall): the call and what its overlay shows.
    call_available: bool = False          # the site allows calls and the fleet answers
    call_phase: CallPhase = CallPhase.IDLE
    call_agent: str = ""
    call_recording: bool = False          # the site records calls: the overlay marks it
    call_video: Any = None                # Any: the agent's newest frame (a numpy RGB array)
    call_note_key: str = ""               # e.g. the link dropped and is being waited for
    call_end_key: str = ""                # why the call ended, while ENDED shows
    call_proposal: Text = field(default_factory=dict)  # an item the agent proposes to start
    call_guide: tuple[str, ...] = ()      # an item's guide the agent sent, in lines
    _observers: list[Callable[[set[str]], None]] = field(default_factory=list, repr=False)

    def subscribe(self, observer: Callable[[set[str]], None]) -> None:
        self._observers.append(observer)

    def update(self, **changes: object) -> None:
        changed = {name for name, value in changes.items() if _differs(getattr(self, name), value)}
        for name, value in changes.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise AttributeError(name)
            setattr(self, name, value)
        if changed:
            for observer in list(self._observers):
                observer(changed)

    def t(self, key: str, **params: object) -> str:
        return translate(key, self.language, **params)

    def typable(self, key: str) -> bool:
        """A key that types into `entry`: a digit, or a letter where the keypad offers them."""
        letter = self.entry_letters and key.isascii() and key.isalpha()
        return len(key) == 1 and (key.isdigit() or letter)

    def menu_tiles(self) -> tuple[ServiceTile, ...]:
        """The menu's order: in elder mode, the catalog's elder-first items lead."""
        if not self.elder:
            return self.services
        return tuple(sorted(self.services, key=lambda tile: not tile.elder_first))

    def pick(self, text: Text) -> str:
        """The catalog's or backend's own text in the current language (Chinese if missing)."""
        return text.get(self.language) or text.get("zh", "")


def personal_defaults() -> JsonObject:
    """Every personal field of the view at its empty value: what the end of a visit sets."""
    blank = SessionView()
    return {name: getattr(blank, name) for name in PERSONAL_FIELDS}


def _differs(old: object, new: object) -> bool:
    """A change worth telling observers: a new object, unless it is an equal plain value (a
    camera callback writes the same status key many times a second; that is not progress)."""
    if old is new:
        return False
    if type(old) is type(new) and isinstance(new, (str, int, float, bool, tuple, StrEnum)):
        return bool(old != new)
    return True


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
    def ask_exit(self) -> None: ...
    def dismiss_exit(self) -> None: ...
    def go_back(self) -> None: ...
    def call_staff(self) -> None: ...
    def close_help(self) -> None: ...
    def set_elder(self, on: bool) -> None: ...
    def cycle_volume(self) -> None: ...
    def show_tab(self, tab: str) -> None: ...
    def open_category(self, key: str) -> None: ...
    def open_search(self) -> None: ...
    def search_key(self, key: str) -> None: ...
    def open_guide(self, code: str) -> None: ...
    def show_guide_section(self, index: int) -> None: ...
    def print_guide(self) -> None: ...
    def rate(self, level: int) -> None: ...
    def toggle_rating_tag(self, tag: str) -> None: ...
    def comment_key(self, key: str) -> None: ...
    def send_rating(self) -> None: ...
    def start_video_call(self) -> None: ...
    def accept_call_consent(self) -> None: ...
    def hang_up(self) -> None: ...
    def start_proposed_item(self) -> None: ...
    def dismiss_call_message(self) -> None: ...
    def agent_entry(self) -> None: ...
    def agent_sign_out(self) -> None: ...
