"""Time from process start to the interactive attract screen, beside a bare Kivy app.

All are started the same way (a fresh interpreter, the same virtual display, Kivy on the asyncio
loop). `start_to_attract_s` includes starting the embedded simulator (pcscd being up already);
`attached_start_to_attract_s` is the kiosk started with the simulator already running, as on a
real kiosk where the devices exist before it starts (restarting: its state folder kept from a
first start that is not measured), and `attached_ratio` that over the bare app.
`phases_s` says where the attached start's time goes (medians, seconds): `imports` (interpreter
and the launcher's modules to its main), `kivy_config`, `window` (Kivy's modules and its window),
`screens` (the attract screen built, up to Kivy's on_start), `first_frame` (to the first frame
drawn after it). The kiosk's core comes after that frame (kiosk.main): `after_attract_s` says
how long after it (medians) `core_imported` (its modules, on a worker thread), `session`
(recovery, the journal, the devices' objects: touches reach the session from then) and `ready`
(the devices' first reading and the catalog fetch) were reached. On a shared machine the
wall-clock times swing with its load; `attached_cpu_ratio` (the CPU seconds the attached kiosk's
process spent up to its first frame over the bare app's) does much less.
Prints {"start_to_attract_s", "bare_kivy_s", "attached_start_to_attract_s", "attached_ratio",
"attached_cpu_ratio", "phases_s", "after_attract_s"} as its last line.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk.app import EmbeddedSimulator
from simulator.xvfb import virtual_display

RUNS = 5

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
            print("READY", time.time(), time.process_time(), flush=True)
            self.stop()
        Clock.schedule_once(ready, 0)
asyncio.run(Bare().async_run(async_lib="asyncio"))
"""


PHASES = ("main", "kivy_configured", "window", "screens_built", "first_frame")
PHASE_NAMES = ("imports", "kivy_config", "window", "screens", "first_frame")
# After the first frame (seconds from it): the core's modules, the session, devices and catalog.
AFTER = {"core_imported": "core_imported", "session": "session", "ready": "core_ready"}


def _run_kiosk(env: dict, simulator: list[str], state: Path) -> tuple[float, dict[str, float]]:
    """One start to the attract screen: seconds, and the phases' lengths (with the core's
    marks after the first frame)."""
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *simulator, "--scenario", "startup",
         "--state-dir", str(state), "--out", str(state / "out")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout
    summary = json.loads(out[out.index("{"):])
    if not summary.get("ok"):
        raise RuntimeError(f"kiosk did not reach the attract screen: {summary}")
    marks = {"start": t0, **summary["startup_marks"]}
    times = [marks["start"], *(marks[m] for m in PHASES)]
    if "simulator" in marks:  # the embedded simulator's wait is not the kiosk's import time
        times[1] -= marks["simulator"] - marks["main"]
    phases = {name: b - a for name, a, b in zip(PHASE_NAMES, times[:-1], times[1:], strict=True)}
    phases["cpu"] = marks["first_frame_cpu"]
    phases |= {f"after:{name}": marks[mark] - marks["first_frame"]
               for name, mark in AFTER.items() if mark in marks}
    # The attract screen is up at its first frame (the scripted citizen sees it a little later).
    return marks["first_frame"] - t0, phases


def _time_kiosk(env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return _run_kiosk(env, ["--simulator"], Path(tmp) / "state")[0]


@contextlib.contextmanager
def running_simulator(env: dict) -> Iterator[Path]:
    """`kiosk-sim run` in its own process, up before the kiosk starts."""
    with tempfile.TemporaryDirectory() as tmp:
        sim = EmbeddedSimulator(Path(tmp) / "sim")
        sim.start(timeout=60)
        try:
            yield Path(tmp) / "sim"
        finally:
            sim.stop()


def _time_attached(env: dict, sim_dir: Path, state: Path) -> tuple[float, dict[str, float]]:
    return _run_kiosk(env, ["--attach", str(sim_dir)], state)


def _time_bare(env: dict) -> tuple[float, float]:
    """Seconds to the bare app's first frame, and the CPU seconds its process spent."""
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
    _, ready_at, cpu = lines[0].split()
    return float(ready_at) - t0, float(cpu)


def main() -> None:
    with virtual_display() as env:
        _time_bare(env)  # warm the file cache for both
        kiosk = [_time_kiosk(env) for _ in range(RUNS)]
        with running_simulator(env) as sim_dir, tempfile.TemporaryDirectory() as tmp:
            # One kiosk restarting, as on a real one: its state folder (journal, cached catalog,
            # caches) stays; its first start ever is not measured.
            state = Path(tmp) / "state"
            _time_attached(env, sim_dir, state)
            # Alternating with the bare app, so both see the same load on a shared machine.
            attached, bare = [], []
            for _ in range(RUNS):
                attached.append(_time_attached(env, sim_dir, state))
                bare.append(_time_bare(env))
    bare_s = statistics.median(b for b, _ in bare)
    bare_cpu = statistics.median(c for _, c in bare)
    attached_cpu = statistics.median(p["cpu"] for _, p in attached)
    attached_s = statistics.median(a for a, _ in attached)
    phases = {name: round(statistics.median(p[name] for _, p in attached), 3)
              for name in PHASE_NAMES}
    after = {name: round(statistics.median(p[f"after:{name}"] for _, p in attached), 3)
             for name in AFTER if all(f"after:{name}" in p for _, p in attached)}
    print(f"kiosk runs: {[round(k, 3) for k in kiosk]}; attached runs: "
          f"{[round(a, 3) for a, _ in attached]}; bare Kivy runs: {[round(b, 3) for b, _ in bare]}; "
          f"CPU seconds to the first frame: attached {attached_cpu:.3f}, bare {bare_cpu:.3f}")
    print(
        json.dumps(
            {
                "start_to_attract_s": round(statistics.median(kiosk), 3),
                "bare_kivy_s": round(bare_s, 3),
                "attached_start_to_attract_s": round(attached_s, 3),
                "attached_ratio": round(attached_s / bare_s, 2),
                "attached_cpu_ratio": round(attached_cpu / bare_cpu, 2),
                "phases_s": phases,
                "after_attract_s": after,
            }
        )
    )


if __name__ == "__main__":
    main()
