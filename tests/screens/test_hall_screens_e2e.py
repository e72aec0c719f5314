"""The service hall's screens in the real Kivy app under Xvfb, on the real simulator, driven by
the scripted citizen's touches (scenarios.gallery_hall): menu by department and life event,
search on the letter keyboard, a guide with its QR code and printed checklist, the queue, the
rating after a service, the progress list, the phone keypad and the document collection.
No chip in the reader: the ID card reader and scanner are on ptys, the printer on TCP."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from kiosk.catalog import parse_catalog
from kiosk.step_library import STEP_LIBRARY
from scenarios.gallery_hall import HALL_SCREENS
from simulator.backends import reference_catalog
from simulator.xvfb import virtual_display
from tests.e2e.test_endorsement_e2e import run_scenario

# Two modes through every hall screen in the default run (about 70 s on this shared machine),
# Chinese and elder mode; English with -m slow (the citizen's gallery walks English by default).
pytestmark = pytest.mark.timeout(900)
DEFAULT_MODES = ("zh", "elder")

# Only the first mode finds a document to collect (the hall holds one for the test citizen).
FIRST_MODE_ONLY = {"collect-take"}


def walk_the_hall(tmp: Path, modes: tuple[str, ...]) -> tuple[dict, Path]:
    with virtual_display(1920, 1920) as env:
        summary = run_scenario(
            dict(env, SDL_AUDIODRIVER="dummy", GALLERY_MODES=",".join(modes)), tmp,
            "hall_gallery", timeout=600,
            config="[ui]\nwidth = 1080\nheight = 1920\nfullscreen = false\n")
    assert summary["ok"], summary.get("error")
    return summary, tmp / "out" / "gallery"


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return walk_the_hall(tmp_path_factory.mktemp("hall"), DEFAULT_MODES)


def check_every_hall_screen(summary: dict, folder: Path, modes: tuple[str, ...]) -> None:
    shots = summary["gallery_shots"]
    assert set(shots) == set(HALL_SCREENS)
    for label, walked in shots.items():
        expected = {modes[0]} if label in FIRST_MODE_ONLY else set(modes)
        assert set(walked) == expected, label
    assert summary["layout_problems"] == []
    assert Image.open(folder / shots["guide"][modes[-1]]).size == (1080, 1920)
    assert (folder / "index.html").read_text().count("<img") == \
        sum(len(walked) for walked in shots.values())


def test_every_hall_screen_is_shown_in_chinese_and_elder_mode_and_fits_the_panel(hall):
    check_every_hall_screen(*hall, DEFAULT_MODES)


@pytest.mark.slow
def test_every_hall_screen_fits_the_panel_in_english(tmp_path):
    check_every_hall_screen(*walk_the_hall(tmp_path, ("en",)), ("en",))


def test_the_guide_screen_shows_the_catalogs_guide_url_as_a_readable_qr_code(hall):
    summary, folder = hall
    catalog = parse_catalog(reference_catalog(), STEP_LIBRARY)
    for mode, seen in summary["hall"].items():
        codes = [c.data.decode() for c in decode(Image.open(folder / seen["guide_png"]))
                 if c.type == "QRCODE"]
        assert codes == [catalog.item("442000-CRJ-0001").guide_url], mode


def test_print_the_checklist_reaches_the_receipt_printer(hall):
    summary, _ = hall
    for seen in summary["hall"].values():
        text = seen["checklist"]
        assert text.startswith("办事材料清单\n普通护照签发") and "[ ] 身份证" in text


def test_typing_sfz_on_the_keyboard_finds_an_id_card_item_first(hall):
    summary, _ = hall
    catalog = parse_catalog(reference_catalog(), STEP_LIBRARY)
    for seen in summary["hall"].values():
        assert "身份证" in catalog.item(seen["search_first"]).name["zh"]
