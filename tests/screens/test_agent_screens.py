"""The village agent's screens in the real Kivy app (a display of their own): the attract
screen's emblem opens sign-in, the PIN shows as dots with the refusal in words, and the menu
carries the agent's mark and a sign-out button that only an agent's menu has."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from shutil import which

import pytest

from simulator.xvfb import virtual_display

pytestmark = pytest.mark.skipif(which("Xvfb") is None, reason="Xvfb is not installed")


def test_agent_sign_in_mark_and_sign_out_on_screen():
    script = Path(__file__).with_name("agent_screens_app.py")
    with virtual_display() as env:
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    intents = [c for c in shown["calls"] if c != "activity"]  # any touch is activity
    assert intents == ["agent_entry", "agent_sign_out"]
    assert shown["prompt"] == "请输入6位代办员密码" and shown["entry"] == "●●●"
    assert shown["error"] == "密码错误"
    assert shown["header"].startswith("代办员 VA-0001 代办中")
    assert shown["sign_out"] == "退出代办" and shown["sign_out_height"] > 0
    assert "VA-0001" not in shown["header_after"] and shown["sign_out_height_after"] == 0
