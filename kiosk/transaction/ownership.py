"""Who owns a transaction: exactly one at a time (see the package docstring)."""

from __future__ import annotations

from enum import StrEnum


class Owner(StrEnum):
    FLOW = "flow"  # the citizen's flow that created it, until its ending is settled
    RECONCILER = "reconciler"  # recovery, at start-up or between citizens
