"""What the technician sees while kiosk-provision works: one line per step, one per device.

Progress goes to stderr, so stdout keeps only the final report (or its JSON). Plain lines, no
cursor tricks: they read the same on a terminal, over a serial console and in a saved log.
"""

from __future__ import annotations

import time
from typing import TextIO

from provisioning.selftest import Outcome, SelfTestResult

STEPS = ("Probing the hardware", "Self-testing", "Test receipt", "Fleet enrollment",
         "Writing the configuration")  # fmt: skip
_MARK = {Outcome.PASS: "ok  ", Outcome.WARN: "WARN", Outcome.FAIL: "FAIL", Outcome.SKIPPED: "--  "}


class Progress:
    """Prints step and device lines as they happen; silent without a stream."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._started = time.monotonic()
        self._step_started = self._started

    def _say(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)

    def step(self, number: int, what: str = "") -> None:
        """`[n/5] Step name: what`, numbered from 1."""
        self._step_started = time.monotonic()
        self._say(f"[{number}/{len(STEPS)}] {STEPS[number - 1]}" + (f": {what}" if what else ""))

    def item(self, text: str) -> None:
        self._say(f"      {text}")

    def result(self, result: SelfTestResult) -> None:
        reason = f" [{result.reason}]" if result.reason else ""
        self.item(
            f"{_MARK[result.outcome]} {result.device.value:<16} {result.seconds:5.2f} s"
            f"  {result.detail}{reason}".rstrip()
        )

    def step_done(self, text: str = "done") -> None:
        self.item(f"{text} ({time.monotonic() - self._step_started:.1f} s)")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
