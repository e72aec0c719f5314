"""The video call in the gallery: the help panel offering the call and every phase of the call's
overlay, in Chinese, English and elder mode, fit the panel (no text over its box, nothing off
the window), and each leaves a screenshot on the gallery's index page. Kivy under Xvfb, in its
own process (tests.videocall.call_gallery)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scenarios.gallery import MODES
from simulator.xvfb import virtual_display
from tests.videocall.call_gallery import states

PANELS = [pytest.param((1080, 1920), id="portrait"),
          pytest.param((768, 1366), id="village"),
          pytest.param((1920, 1080), id="landscape", marks=pytest.mark.slow)]


@pytest.mark.parametrize("panel", PANELS)
def test_the_call_overlay_fits_every_panel_in_every_mode(panel, tmp_path):
    width, height = panel
    out = tmp_path / "call-gallery"
    with virtual_display(max(width, height), max(width, height)) as env:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.videocall.call_gallery", "--width", str(width),
             "--height", str(height), "--out", str(out)],
            env={**env, "SDL_AUDIODRIVER": "dummy"}, capture_output=True, text=True,
            timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["problems"] == []
    labels = [label for label, _ in states()]
    assert list(result["shots"]) == labels
    page = (out / "index.html").read_text()
    for label in labels:
        assert set(result["shots"][label]) == set(MODES)
        for name in result["shots"][label].values():
            assert (out / name).stat().st_size > 10_000, name   # a picture, not an empty file
            assert name in page
