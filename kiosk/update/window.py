"""The maintenance window: the local hours when a kiosk may restart into a new version."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

_WINDOW = re.compile(r"\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*")


@dataclass(frozen=True)
class MaintenanceWindow:
    """From `start` to `end` minutes after local midnight; `end` < `start` crosses midnight.
    None for both: any time."""

    start: int | None = None
    end: int | None = None

    @classmethod
    def parse(cls, text: str) -> MaintenanceWindow:
        """"02:00-05:00", "23:30-04:00", or "" (any time). Raises ValueError on anything else."""
        if not text.strip():
            return cls()
        match = _WINDOW.fullmatch(text)
        if match is None:
            raise ValueError(f"maintenance window {text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def contains(self, moment: time.struct_time) -> bool:
        if self.start is None or self.end is None:
            return True
        minute = moment.tm_hour * 60 + moment.tm_min
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end
