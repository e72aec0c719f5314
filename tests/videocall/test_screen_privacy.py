"""The screen the hall's agent sees: on every kiosk screen, a marker put in every personal field
of the view shows only inside widgets marked personal, and the agent's copy has a grey block
there (and none of the camera preview). Kivy under Xvfb, in its own process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kiosk.viewmodel import ScreenId
from simulator.xvfb import virtual_display


@pytest.fixture(scope="module")
def audit() -> dict:
    with virtual_display() as env:
        proc = subprocess.run([sys.executable, "-m", "tests.videocall.privacy_audit"], env=env,
                              capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_screen_was_audited(audit):
    assert set(audit) == {s.value for s in ScreenId}


@pytest.mark.parametrize("screen", [s.value for s in ScreenId])
def test_no_personal_value_reaches_the_agent(audit, screen):
    result = audit[screen]
    assert result["leaks"] == []               # no marker in an unmarked widget
    assert result["magenta_pixels"] == 0       # no camera preview in the agent's copy
    assert all(result["masked"])               # each personal box is one flat grey block


def test_the_screens_that_show_personal_data_are_masked(audit):
    # The account number, the confirmation, the result, the face preview and a rating's
    # comment: all on screen, all masked (a screen that stopped marking its widget would fail
    # above or here).
    for screen in ("enter_account", "confirm", "result", "face", "evaluate"):
        assert any(audit[screen]["masked"]), screen
