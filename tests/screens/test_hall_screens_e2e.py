"""The service hall's screens in the real Kivy app under Xvfb, on the real simulator, driven by
the scripted citizen's touches (scenarios.gallery_hall): menu by department and life event,
search on the letter keyboard, a guide with its QR code and printed checklist, the queue, the
rating after a service, the progress list, the phone keypad and the document collection.
No chip in the reader: the ID card reader and scanner are on ptys, the printer on TCP."""

from __future__ import annotations

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from kiosk.catalog import parse_catalog
from kiosk.step_library import STEP_LIBRARY
from scenarios.gallery import MODES
from scenarios.gallery_hall import HALL_SCREENS
from simulator.backends import reference_catalog
from simulator.xvfb import virtual_display
from tests.e2e.test_endorsement_e2e import run_scenario

# Three modes through every hall screen: about 5 minutes on this shared machine.
pytestmark = pytest.mark.timeout(900)

# Only the first mode finds a document to collect (the hall holds one for the test citizen).
FIRST_MODE_ONLY = {"collect-take"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hall")
    with virtual_display(1920, 1920) as env:
        summary = run_scenario(
            dict(env, SDL_AUDIODRIVER="dummy"), tmp, "hall_gallery", timeout=600,
            config="[ui]\nwidth = 1080\nheight = 1920\nfullscreen = false\n")
    assert summary["ok"], summary.get("error")
    return summary, tmp / "out" / "gallery"


def test_every_hall_screen_is_shown_in_every_mode_and_fits_the_panel(hall):
    summary, folder = hall
    shots = summary["gallery_shots"]
    assert set(shots) == set(HALL_SCREENS)
    for label, modes in shots.items():
        expected = {MODES[0]} if label in FIRST_MODE_ONLY else set(MODES)
        assert set(modes) == expected, label
    assert summary["layout_problems"] == []
    assert Image.open(folder / shots["guide"]["elder"]).size == (1080, 1920)
    assert (folder / "index.html").read_text().count("<img") == \
        sum(len(modes) for modes in shots.values())


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
