"""Time from process start to the interactive attract screen, beside a bare Kivy app.

Both are started the same way (a fresh interpreter, the same virtual display, Kivy on the asyncio
loop); the kiosk's figure includes starting the embedded simulator, pcscd being up already.
Prints {"start_to_attract_s": ..., "bare_kivy_s": ...} (medians) as its last line.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.xvfb import virtual_display

RUNS = 3

BARE_KIVY = r"""
import asyncio, os, sys, time
os.environ["KIVY_NO_ARGS"] = "1"; os.environ["KIVY_NO_CONFIG"] = "1"; os.environ["KIVY_NO_FILELOG"] = "1"
from kivy.config import Config
Config.set("graphics", "width", "1080"); Config.set("graphics", "height", "1920")
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.button import Button
class Bare(App):
    def build(self):
        return Button(text="touch")
    def on_start(self):
        def ready(dt):
            print("READY", time.time(), flush=True)
            self.stop()
        Clock.schedule_once(ready, 0)
asyncio.run(Bare().async_run(async_lib="asyncio"))
"""


def _time_kiosk(env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kiosk.cli",
                "--simulator",
                "--scenario",
                "startup",
                "--state-dir",
                str(Path(tmp) / "state"),
                "--out",
                str(Path(tmp) / "out"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = proc.stdout
        summary = json.loads(out[out.index("{") :])
        if not summary.get("ok"):
            raise RuntimeError(f"kiosk did not reach the attract screen: {summary}")
        return summary["attract_at_unix"] - t0


def _time_bare(env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare_kivy.py"  # Kivy's App wants a source file for its class
        script.write_text(BARE_KIVY)
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
    lines = [li for li in proc.stdout.splitlines() if li.startswith("READY")]
    if not lines:
        raise RuntimeError(f"bare Kivy app did not start: {proc.stderr[-2000:]}")
    line = lines[0]
    return float(line.split()[1]) - t0


def main() -> None:
    with virtual_display() as env:
        _time_bare(env)  # warm the file cache for both
        kiosk = [_time_kiosk(env) for _ in range(RUNS)]
        bare = [_time_bare(env) for _ in range(RUNS)]
    print(
        f"kiosk runs: {[round(k, 3) for k in kiosk]}; bare Kivy runs: {[round(b, 3) for b in bare]}"
    )
    print(
        json.dumps(
            {
                "start_to_attract_s": round(statistics.median(kiosk), 3),
                "bare_kivy_s": round(statistics.median(bare), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
