"""Kivy frame times under Xvfb while a scripted citizen does an endorsement (ID card, chip,
face capture with its preview, payment on the phone, the printed receipt) on the kiosk started
with the embedded simulator (`--scenario bill` for a water bill instead: no card). Every frame
the kiosk's loop draws is timed (Clock's interval between frames). Frames that held one of the
scripted citizen's screenshots (its camera, not the kiosk) are left out; frames that overlap a
screen transition (from the view's change until its fade is over) are counted apart, since the
goal is about the frames outside them.

Frames drawn before the citizen's first touch (the kiosk coming up, bench.startup's subject) are
counted apart too.

Prints {"frames", "p99_ms", "max_ms", "over_50ms", "transitions", "transition_frames",
"transition_over_50ms", "startup_frames", "startup_over_50ms", "scenario"} as its last line:
the first four are the citizen's visit outside transitions.
Uses the chip slot (KIOSK_VPCD_SLOT): run it alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from simulator.xvfb import virtual_display


def _overlaps(started: float, ended: float, spans: list) -> bool:
    return any(started < end and ended > start for start, end in spans)


def frame_times(summary: dict) -> tuple[list[float], list[float], list[float]]:
    """Each frame's milliseconds, without those that ended during or just after a screenshot:
    (frames of the citizen's visit outside screen transitions, frames overlapping one, frames
    before the citizen's first touch: the kiosk coming up, which bench.startup measures)."""
    shots = summary.get("screenshot_spans", [])
    moves = [(t[3], t[4]) for t in summary.get("transitions", [])]
    walked_up = min((start for start, _ in moves), default=0.0)
    outside, during, before = [], [], []
    for ended, ms in summary["frames"]:
        started = ended - ms / 1000
        if _overlaps(started, ended, shots):
            continue
        if started < walked_up:
            before.append(ms)
        else:
            (during if _overlaps(started, ended, moves) else outside).append(ms)
    return outside, during, before


def main() -> None:
    scenario = sys.argv[sys.argv.index("--scenario") + 1] if "--scenario" in sys.argv \
        else "endorsement"
    with virtual_display() as env, tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "--simulator", "--scenario", scenario,
             "--state-dir", str(Path(tmp) / "state"), "--out", str(Path(tmp) / "out")],
            env=env, capture_output=True, text=True, timeout=300,
        )
    out = proc.stdout
    summary = json.loads(out[out.index("{"):])
    if not summary.get("ok"):
        raise RuntimeError(f"the {scenario} scenario failed: {summary.get('error')}")
    outside, during, before = (sorted(f) for f in frame_times(summary))
    p99 = outside[min(len(outside) - 1, int(len(outside) * 0.99))]
    print(f"slowest frames outside transitions (ms): {outside[-10:]}; "
          f"in transitions: {during[-10:]}")
    for previous, current, ms, *_ in summary.get("transitions", []):
        print(f"  {previous} -> {current}: {ms} ms")
    print(json.dumps({"frames": len(outside), "p99_ms": round(p99, 1),
                      "max_ms": round(outside[-1], 1),
                      "over_50ms": sum(ms > 50 for ms in outside),
                      "transitions": len(summary.get("transitions", [])),
                      "transition_frames": len(during),
                      "transition_over_50ms": sum(ms > 50 for ms in during),
                      "startup_frames": len(before),
                      "startup_over_50ms": sum(ms > 50 for ms in before),
                      "scenario": scenario}))


if __name__ == "__main__":
    main()
