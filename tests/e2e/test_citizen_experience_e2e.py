"""End to end, the citizen's experience: an elder-mode endorsement with every prompt spoken in
order (audio through Kivy to SDL's null device), nobody asked "still there?" while busy with
cards, and the gallery at three panel sizes with no text overflowing and nothing off screen."""

from __future__ import annotations

import shutil

import pytest

from scenarios.gallery import MODES
from simulator.xvfb import virtual_display
from tests.e2e.test_endorsement_e2e import run_scenario

# What an elder must hear, in this order (cues are by name, prompts by their i18n key).
SPOKEN_IN_ORDER = [
    "menu.title", "idcard.instruction", "card_read", "idcard.reading", "permit.instruction",
    "card_read", "permit.reading", "face.consent", "photo_taken", "face.captured",
    "choose.default_title", "pay.instruction", "payment_received", "result.ok.title", "take_documents", "result.take",
]
PANELS = {"portrait": (1080, 1920), "landscape": (1920, 1080), "village": (768, 1366)}
GALLERY_SCREENS = {"attract", "menu", "help", "idle-prompt", "idcard", "busy", "permit",
                   "face-notice", "face", "choose", "pay", "processing", "result", "keypad",
                   "confirm", "exit-confirm", "exit-while-paying", "left-after-order", "failure",
                   "scan", "data-page", "data-page-refused", "out-of-service"}


@pytest.fixture(scope="module")
def display_env():
    with virtual_display(1920, 1920) as env:
        env = dict(env, SDL_AUDIODRIVER="dummy")
        yield env


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="scripts/setup.sh installs it")
def test_elder_endorsement_speaks_every_prompt_in_order_and_is_never_interrupted(
        display_env, tmp_path):
    # The citizen touches nothing from the service to the choice (the photo notice goes on by
    # itself) and listens to each prompt to its end before acting.
    # Spoken at twice the elder rate: the order, the ends and the silences are what is checked
    # here (tests/kiosk/test_voice.py renders every prompt at both configured rates). At 115
    # words a minute the run took 128-135 s, the suite's longest test; at 230, 67 s.
    summary = run_scenario(display_env, tmp_path, "elder_endorsement",
                           config="[ui]\nfullscreen = false\nwidth = 1080\nheight = 1920\n"
                                  "elder_speech_rate_wpm = 230\n")
    assert summary["ok"], summary.get("error")
    assert [(o["status"], o["amount_fen"]) for o in summary["orders"]] == [("SUCCESS", 1500)]
    events = [(event, key) for _, event, key, _ in summary["voice"]]
    started = [key for event, key in events if event == "started"]
    finished = [key for event, key in events if event == "finished"]
    position = 0
    for key in SPOKEN_IN_ORDER:                 # in this order, each to its end
        assert key in started[position:], f"{key} not spoken after {started[:position]}"
        position = started.index(key, position) + 1
        assert key in finished
    assert not [e for e in events if e[0] in ("unavailable", "failed")]
    assert "idle.title" not in started          # nobody asked if they were still there
    assert {lang for _, _, _, lang in summary["voice"]} == {"zh"}


# The portrait panel in the default run, in English and elder mode: the longest texts and the
# largest (about 40 s a mode). Chinese at the normal size, and the other two panel sizes in all
# three modes (2-3 minutes each), with -m slow; `make run` walks every mode at every size.
@pytest.mark.parametrize(("panel", "modes"), [
    pytest.param("portrait", ("en", "elder"), id="portrait"),
    pytest.param("portrait", ("zh",), marks=pytest.mark.slow, id="portrait-zh"),
    pytest.param("landscape", MODES, marks=pytest.mark.slow, id="landscape"),
    pytest.param("village", MODES, marks=pytest.mark.slow, id="village"),
])
def test_gallery_every_screen_fits_its_panel(display_env, tmp_path, panel, modes):
    width, height = PANELS[panel]
    summary = run_scenario(
        dict(display_env, GALLERY_MODES=",".join(modes)), tmp_path, "gallery",
        config=(f"[ui]\nwidth = {width}\nheight = {height}\nfullscreen = false\n"
                "idle_prompt_s = 2.0\n[backends]\nhealth_interval_s = 1.0\n"))
    assert summary["ok"], summary.get("error")
    shots = summary["gallery_shots"]
    assert set(shots) == GALLERY_SCREENS
    assert all(set(walked) == set(modes) for walked in shots.values())
    assert summary["layout_problems"] == []
    from PIL import Image
    folder = tmp_path / "out" / "gallery"
    assert Image.open(folder / shots["menu"][modes[-1]]).size == (width, height)
    assert (folder / "index.html").read_text().count("<img") == len(modes) * len(GALLERY_SCREENS)
