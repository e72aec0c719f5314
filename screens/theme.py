"""The citizen's screen theme: named colour, type and spacing tokens, in one place.

Every colour a screen draws comes from a `Palette` through a named pair (`TEXT_PAIRS`,
`GRAPHIC_PAIRS`), so the contrast test can check each pair the screens use, in both palettes.
Sizes are Kivy metrics (dp/sp) from one base, so the same screens fit every panel: the density
is chosen from the real window's size (`panel_density`, applied by `screens.app.fit_to_window`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

# The design base: a 1080 x 1920 portrait panel is 1080 dp across its short side.
BASE_SHORT_SIDE_PX = 1080


def panel_density(width: int, height: int) -> float:
    """Kivy's metrics density for a panel: its short side is always 1080 dp.

    A 1080x1920 portrait and a 1920x1080 landscape panel get 1.0 (landscape screens lay their
    body out side by side instead of shrinking); a 768x1366 village terminal gets 0.71.
    """
    return round(min(width, height) / BASE_SHORT_SIDE_PX, 4)


def _rgba(hex_colour: str) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, 1.0)


@dataclass(frozen=True)
class Palette:
    """Colours as hex strings; `rgba(name)` gives Kivy's tuple."""

    background: str
    surface: str            # panels, dialogs, the QR code's card
    text: str
    text_muted: str         # hints, order numbers, the hotline: still 4.5:1 at least
    primary: str            # buttons, the header, headlines
    on_primary: str
    primary_note: str       # a warning on a primary tile ("no receipt right now")
    secondary: str          # language, elder mode, back: calmer buttons
    on_secondary: str
    danger: str             # exit, amounts due, failures
    on_danger: str
    success: str            # done, OK, a face in the oval
    on_success: str
    disabled: str           # a service that cannot be offered now
    on_disabled: str
    disabled_reason: str    # why, on the disabled tile
    outline: str            # borders that must stand out from the background (3:1)
    guide_device: str       # the kiosk and its readers in the placement guides
    guide_card: str         # the card or page being placed
    on_guide_card: str
    scrim: str              # behind dialogs (drawn at 70 % over the screen)

    def rgba(self, name: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
        r, g, b, _ = _rgba(getattr(self, name))
        return (r, g, b, alpha)


STANDARD = Palette(
    background="#F4F6F9", surface="#FFFFFF", text="#1F2430", text_muted="#4A5260",
    primary="#0B4F9C", on_primary="#FFFFFF", primary_note="#FFE08A",
    secondary="#3D4756", on_secondary="#FFFFFF",
    danger="#B3261E", on_danger="#FFFFFF", success="#1B6E36", on_success="#FFFFFF",
    disabled="#D5D9E0", on_disabled="#2E3440", disabled_reason="#7A1A12",
    outline="#6B7482", guide_device="#3D4756", guide_card="#FFFFFF", on_guide_card="#1F2430",
    scrim="#10141C",
)

# Elder mode (长辈模式): white and near-black, deeper hues, everything well above 7:1.
ELDER = Palette(
    background="#FFFFFF", surface="#FFFFFF", text="#000000", text_muted="#262B33",
    primary="#003A80", on_primary="#FFFFFF", primary_note="#FFF3B0",
    secondary="#1F2430", on_secondary="#FFFFFF",
    danger="#8E1B14", on_danger="#FFFFFF", success="#0A5A26", on_success="#FFFFFF",
    disabled="#C9CED6", on_disabled="#1A1A1A", disabled_reason="#5C0F0A",
    outline="#262B33", guide_device="#1F2430", guide_card="#FFFFFF", on_guide_card="#000000",
    scrim="#000000",
)

PALETTE_FIELDS = frozenset(f.name for f in fields(Palette))

# Every text colour the screens put on a background: (foreground, background).
TEXT_PAIRS: dict[str, tuple[str, str]] = {
    "body": ("text", "background"),
    "muted": ("text_muted", "background"),
    "headline": ("primary", "background"),
    "alert": ("danger", "background"),
    "done": ("success", "background"),
    "on_surface": ("text", "surface"),
    "muted_on_surface": ("text_muted", "surface"),
    "primary_on_surface": ("primary", "surface"),
    "danger_on_surface": ("danger", "surface"),
    "button": ("on_primary", "primary"),
    "button_note": ("primary_note", "primary"),
    "secondary_note": ("primary_note", "secondary"),   # "see the guide" on a guide-only tile
    "secondary_button": ("on_secondary", "secondary"),
    "danger_button": ("on_danger", "danger"),
    "success_button": ("on_success", "success"),
    "disabled_button": ("on_disabled", "disabled"),
    "disabled_reason": ("disabled_reason", "disabled"),
    "header": ("on_primary", "primary"),
    "card_label": ("on_guide_card", "guide_card"),
    "call_strip": ("on_secondary", "secondary"),      # the video call's strip: agent, notes
    "call_recording": ("on_danger", "danger"),        # the call's "recording" mark
}

# Every graphic that carries meaning against what is behind it (WCAG 1.4.11: 3:1).
GRAPHIC_PAIRS: dict[str, tuple[str, str]] = {
    "button_edge": ("primary", "background"),
    "secondary_edge": ("secondary", "background"),
    "danger_edge": ("danger", "background"),
    "success_edge": ("success", "background"),
    "disabled_edge": ("outline", "background"),
    "panel_edge": ("outline", "background"),
    "dialog_edge": ("primary", "surface"),
    "progress_done": ("primary", "background"),
    "progress_todo": ("outline", "background"),
    "guide_device": ("guide_device", "background"),
    "guide_reader": ("primary_note", "guide_device"),
    "guide_card": ("guide_card", "guide_device"),
    "guide_arrow": ("danger", "background"),
    "guide_mrz_frame": ("primary", "guide_card"),     # the data page's MRZ lines, framed
    "guide_mrz_glyphs": ("text", "guide_card"),
    "face_oval_ok": ("success", "surface"),
    "face_oval": ("primary", "surface"),
    "spinner": ("primary", "surface"),
    "header_button_edge": ("on_primary", "primary"),
    "call_strip_edge": ("secondary", "background"),   # the call's strip over the screen
}


class TypeSize(StrEnum):
    """Type scale in sp at the base; elder mode multiplies every size (at least 1.4x)."""

    DISPLAY = "display"
    TITLE = "title"
    HEADING = "heading"
    BODY = "body"
    SMALL = "small"
    BUTTON = "button"
    KEY = "key"
    AMOUNT = "amount"


TYPE_SP: dict[TypeSize, float] = {
    TypeSize.DISPLAY: 88, TypeSize.TITLE: 52, TypeSize.HEADING: 48, TypeSize.BODY: 42,
    TypeSize.SMALL: 34, TypeSize.BUTTON: 46, TypeSize.KEY: 60, TypeSize.AMOUNT: 76,
}


class Space(StrEnum):
    """Spacing and touch-target sizes in dp at the base."""

    GAP = "gap"
    PAD = "pad"
    BUTTON = "button"          # the height of a full-width button
    TILE = "tile"              # a service or option tile
    BAR = "bar"                # the header and the footer
    PROGRESS = "progress"
    RADIUS = "radius"
    LINE = "line"              # a drawn outline


SPACE_DP: dict[Space, float] = {
    Space.GAP: 22, Space.PAD: 40, Space.BUTTON: 150, Space.TILE: 200, Space.BAR: 120,
    Space.PROGRESS: 84, Space.RADIUS: 20, Space.LINE: 3,
}


@dataclass(frozen=True)
class Mode:
    """What changes between the standard and elder modes."""

    palette: Palette
    type_scale: float          # multiplies TYPE_SP
    space_scale: float         # multiplies the touch targets (tiles, buttons, bars)
    line_height: float
    tiles_per_page: int        # fewer items per screen in elder mode
    options_per_page: int


STANDARD_MODE = Mode(STANDARD, type_scale=1.0, space_scale=1.0, line_height=1.25,
                     tiles_per_page=6, options_per_page=5)
ELDER_MODE = Mode(ELDER, type_scale=1.4, space_scale=1.25, line_height=1.35,
                  tiles_per_page=4, options_per_page=4)


class Theme:
    """The tokens of one mode, resolved to pixels through Kivy's metrics (dp/sp)."""

    def __init__(self, mode: Mode, landscape: bool = False) -> None:
        self.mode = mode
        self.palette = mode.palette
        self.landscape = landscape

    @property
    def elder(self) -> bool:
        return self.mode is ELDER_MODE

    def font(self, size: TypeSize) -> float:
        from kivy.metrics import sp

        return float(sp(TYPE_SP[size] * self.mode.type_scale))

    def space(self, token: Space) -> float:
        from kivy.metrics import dp

        scale = self.mode.space_scale if token in (Space.BUTTON, Space.TILE, Space.BAR) else 1
        return float(dp(SPACE_DP[token] * scale))

    def text(self, pair: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(foreground, background) rgba of a named text pair."""
        fg, bg = TEXT_PAIRS[pair]
        return self.palette.rgba(fg), self.palette.rgba(bg)

    def colour(self, name: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
        return self.palette.rgba(name, alpha)


_current = Theme(STANDARD_MODE)


def current() -> Theme:
    return _current


def use(elder: bool, landscape: bool) -> Theme:
    """Selects the mode; the app rebuilds its screens after a change."""
    global _current
    _current = Theme(ELDER_MODE if elder else STANDARD_MODE, landscape)
    return _current


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    r, g, b, _ = _rgba(hex_colour)
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1.0 to 21.0."""
    light, dark = sorted((relative_luminance(foreground), relative_luminance(background)),
                         reverse=True)
    return (light + 0.05) / (dark + 0.05)
