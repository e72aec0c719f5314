"""Where this kiosk's update files are, from its configuration, and which slot it runs from."""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.update.guard import SLOTS, Layout


def layout_for(config: KioskConfig) -> Layout:
    """The slots under [update] slots_root, the updater's state under [update] state_dir, and
    the kiosk's own update folder inside its state folder."""
    return Layout(Path(config.update.slots_root), Path(config.update.state_dir),
                  config.state_dir / "update")


def running_slot(layout: Layout, prefix: str | None = None) -> str | None:
    """The slot this interpreter's venv belongs to (None when run from elsewhere, e.g. a
    developer's checkout)."""
    venv = Path(prefix if prefix is not None else sys.prefix)
    for slot in SLOTS:
        if venv.parent == layout.slot(slot):
            return slot
    return None


def inactive_slot(good: str | None, current: str | None) -> str | None:
    """The slot an update may be written to: neither the good one nor the one `current` points
    at (None while they differ: a switch is under way)."""
    taken = {good, current} - {None}
    free = [s for s in SLOTS if s not in taken]
    return free[0] if free else None
