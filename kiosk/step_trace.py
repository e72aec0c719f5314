"""Where a transaction's time goes, step by step: each of the flow's steps (and its ending) is a
span, with the wall clock, the kiosk's CPU in it (`time.process_time`: every thread of this
process, so the loop's other work in that span too) and, when the kiosk started its own
simulator, the simulator's CPU (the devices' and backends' far side). The rest of a span's
wall clock is `waiting`: bytes on the wire, pcscd, a timer or a poll, the citizen (or the
scripted citizen's 10 ms look at the screen), and whatever else the machine runs.

A step may time a part of itself as `step/part` (how long `read_permit` waited for the card):
such a span lies inside its step's and is not added to it again.

Nothing personal is kept: a span is a step's name and four numbers. `bench.transaction` prints
the means (`summary`); the kiosk keeps the spans of the flows it ran since it started, a few
dozen floats per step name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Totals:
    count: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    other_cpu: float = 0.0


@dataclass
class StepTrace:
    # The CPU seconds of the kiosk's own simulator (kiosk.embedded_simulator), when it has one.
    other_cpu: Callable[[], float] | None = None
    _spans: dict[str, _Totals] = field(default_factory=dict, repr=False)

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Times the block as one span of `name` (added to earlier spans of that name), however
        the block ends."""
        other = self.other_cpu
        wall, cpu, sim = time.perf_counter(), time.process_time(), other() if other else 0.0
        try:
            yield
        finally:
            totals = self._spans.setdefault(name, _Totals())
            totals.count += 1
            totals.wall += time.perf_counter() - wall
            totals.cpu += time.process_time() - cpu
            totals.other_cpu += (other() - sim) if other else 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        """Each span's means, in seconds, in the order the spans first ran: `wall`,
        `kiosk_cpu`, `simulator_cpu` (0 without a simulator of the kiosk's own) and `waiting`
        (the wall clock neither used)."""
        out: dict[str, dict[str, float]] = {}
        for name, t in self._spans.items():
            n = t.count
            waiting = max(t.wall - t.cpu - t.other_cpu, 0.0)
            out[name] = {"runs": n, "wall": round(t.wall / n, 4), "kiosk_cpu": round(t.cpu / n, 4),
                         "simulator_cpu": round(t.other_cpu / n, 4),
                         "waiting": round(waiting / n, 4)}
        return out

    def reset(self) -> None:
        self._spans.clear()
