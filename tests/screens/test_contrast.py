"""WCAG contrast of every text/background and graphic/background pair the screens use, computed
from the theme's tokens in both palettes, disabled states included; and no colour is drawn
from outside the theme."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from screens.theme import (
    ELDER,
    GRAPHIC_PAIRS,
    PALETTE_FIELDS,
    STANDARD,
    TEXT_PAIRS,
    contrast_ratio,
    panel_density,
)

ROOT = Path(__file__).resolve().parents[2]
PALETTES = {"standard": STANDARD, "elder": ELDER}
TEXT_MIN, GRAPHIC_MIN = 4.5, 3.0


def table() -> list[tuple[str, str, str, str, float, float]]:
    """(palette, kind, pair, 'fg on bg', ratio, minimum) for the closing note and the tests."""
    rows = []
    for name, palette in PALETTES.items():
        for kind, pairs, minimum in (("text", TEXT_PAIRS, TEXT_MIN),
                                     ("graphic", GRAPHIC_PAIRS, GRAPHIC_MIN)):
            for pair, (fg, bg) in pairs.items():
                ratio = contrast_ratio(getattr(palette, fg), getattr(palette, bg))
                rows.append((name, kind, pair, f"{fg} on {bg}", round(ratio, 2), minimum))
    return rows


@pytest.mark.parametrize("row", table(), ids=lambda r: f"{r[0]}-{r[2]}")
def test_pair_meets_its_minimum(row):
    palette, kind, pair, colours, ratio, minimum = row
    assert ratio >= minimum, f"{palette} {kind} {pair} ({colours}) is {ratio}:1"


def test_elder_palette_is_at_least_as_strong_as_the_standard_one_for_text():
    for pair, (fg, bg) in TEXT_PAIRS.items():
        assert contrast_ratio(getattr(ELDER, fg), getattr(ELDER, bg)) >= \
            min(7.0, contrast_ratio(getattr(STANDARD, fg), getattr(STANDARD, bg))), pair


def test_the_ratio_is_wcag_s():
    assert round(contrast_ratio("#000000", "#FFFFFF"), 2) == 21.0
    assert round(contrast_ratio("#777777", "#FFFFFF"), 2) == 4.48     # the classic near miss
    # The figures the issue measured on the old screens fail here, as they should.
    assert contrast_ratio("#8C949E", "#F5F7FC") < TEXT_MIN            # grey hint on light


def test_pairs_name_only_palette_colours():
    for pairs in (TEXT_PAIRS, GRAPHIC_PAIRS):
        for fg, bg in pairs.values():
            assert fg in PALETTE_FIELDS and bg in PALETTE_FIELDS


def _colour_literals(path: Path) -> list[str]:
    """Calls that set a colour from numbers or a hex string instead of a theme token."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Color" and \
                node.args and all(isinstance(a, ast.Constant) for a in node.args):
            found.append(f"{path.name}:{node.lineno} Color{tuple(a.value for a in node.args)}")
        if isinstance(node, ast.keyword) and node.arg in ("color", "background_color") and \
                isinstance(node.value, ast.Tuple):
            found.append(f"{path.name}:{node.lineno} {node.arg}=(...)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.fullmatch(r"#?[0-9a-fA-F]{6}", node.value) and path.name != "theme.py":
            found.append(f"{path.name}:{node.lineno} {node.value}")
    return found


def test_screens_draw_colours_only_from_the_theme():
    found = [hit for path in sorted((ROOT / "screens").glob("*.py"))
             for hit in _colour_literals(path)]
    assert found == []


def test_the_colour_check_catches_a_literal(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("Color(0.55, 0.58, 0.62, 1)\nButton(color=(1, 1, 1, 1))\n")
    assert len(_colour_literals(bad)) == 2


def test_panels_share_one_base():
    assert panel_density(1080, 1920) == panel_density(1920, 1080) == 1.0
    assert 0.7 < panel_density(768, 1366) < 0.72


if __name__ == "__main__":      # the closing note's table
    for row in table():
        print(" | ".join(str(c) for c in row))
