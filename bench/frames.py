"""Kivy frame times under Xvfb while a scripted citizen pays a water bill with a printed
receipt (no card: the shared chip slot is left alone), on the kiosk started with the embedded
simulator. Every frame the kiosk's loop draws is timed (Clock's interval between frames); the
frames that held one of the scripted citizen's screenshots (its camera, not the kiosk) are left
out, screen transitions are not (they are counted in `transitions`).

Prints {"frames", "p99_ms", "max_ms", "over_50ms", "transitions"} as its last line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from simulator.xvfb import virtual_display


def frame_times(summary: dict) -> list[float]:
    """Each frame's milliseconds, without those that ended during or just after a screenshot."""
    spans = summary.get("screenshot_spans", [])
    kept = []
    for ended, ms in summary["frames"]:
        started = ended - ms / 1000
        if any(started < s_end and ended > s_start for s_start, s_end in spans):
            continue
        kept.append(ms)
    return kept


def main() -> None:
    with virtual_display() as env, tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "--simulator", "--scenario", "bill",
             "--state-dir", str(Path(tmp) / "state"), "--out", str(Path(tmp) / "out")],
            env=env, capture_output=True, text=True, timeout=300,
        )
    out = proc.stdout
    summary = json.loads(out[out.index("{"):])
    if not summary.get("ok"):
        raise RuntimeError(f"the bill scenario failed: {summary.get('error')}")
    frames = sorted(frame_times(summary))
    p99 = frames[min(len(frames) - 1, int(len(frames) * 0.99))]
    slow = [ms for ms in frames if ms > 50]
    print(f"slowest frames (ms): {frames[-10:]}; transitions: {summary.get('transitions')}")
    print(json.dumps({"frames": len(frames), "p99_ms": round(p99, 1),
                      "max_ms": round(frames[-1], 1), "over_50ms": len(slow),
                      "transitions": len(summary.get("transitions", []))}))


if __name__ == "__main__":
    main()
