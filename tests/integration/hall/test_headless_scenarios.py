"""`kiosk --simulator --headless --scenario X` for the service hall's items: the real kiosk
process, its embedded simulator, a scripted citizen through the intents; nothing unfinished."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("scenario", ["progress", "checkin", "booking", "collect", "fine",
                                      "prereview", "certificate"])
def test_the_hall_scenario_runs_end_to_end_headless(tmp_path, scenario):
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--simulator", "--headless", "--scenario", scenario,
         "--state-dir", str(tmp_path / "kiosk")],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and summary["ok"], done.stderr[-2000:]
    assert summary["runs"] == 1 and summary["unfinished"] == {}
