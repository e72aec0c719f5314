"""What every headless scenario does alike: wait for a screen, pay on the phone, finish and
go back to the attract screen (shared by `headless_citizen` and `headless_hall`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from simulator.control_client import SimulatorClient


class Stuck(Exception):
    pass


# The view's changes, as an event per view the scripted citizen watches (it looks again at each
# change, as a person sees the screen change, instead of every 10 ms: bench.transaction times
# the kiosk, not the citizen's polling).
_CHANGES: dict[int, tuple[Any, asyncio.Event]] = {}


def _changed(view: Any) -> asyncio.Event:
    found = _CHANGES.get(id(view))
    if found is None or found[0] is not view:
        event = asyncio.Event()
        view.subscribe(lambda _changed: event.set())
        found = _CHANGES[id(view)] = (view, event)
    return found[1]


async def _seen(view: Any, condition: Callable[[], bool], deadline: float) -> bool:
    """Whether `condition` held before `deadline`, looked at each time the view changes."""
    changed = _changed(view)
    while not condition():
        changed.clear()
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)
    return True


async def _until(view: Any, screen: str, timeout: float = 30.0, *later: str) -> str:
    """Waits for `screen` (or one of the `later` screens, if the kiosk got there first)."""
    if not await _seen(view, lambda: str(view.screen) in (screen, *later),
                       time.monotonic() + timeout):
        said = " / ".join(line.get("en", "") for line in view.result_lines)
        raise Stuck(f"waited for {screen}, still on {view.screen} {said}".strip())
    # A person cannot touch a screen in the loop's turn it appears in; the step that showed it
    # starts listening in that turn. Without this a scripted tap could come first and be lost
    # (1 bill in 2,000 of bench.soak waited for ever at the keypad).
    await asyncio.sleep(0)
    return str(view.screen)


async def _finish(view: Any, intents: Any) -> dict:
    await _until(view, "result", 60)
    ok = bool(view.result_ok)
    intents.finish()
    if await _until(view, "attract", 30.0, "evaluate") == "evaluate":
        intents.finish()                # the rating (好差评) is optional: skipped
        await _until(view, "attract")
    return {"result_ok": ok}


async def _agree_to_photo(view: Any, intents: Any) -> None:
    """The photo notice goes on by itself after a few seconds; a citizen in a hurry agrees."""
    await _seen(view, lambda: bool(view.consent_pending), time.monotonic() + 10)
    intents.choose_option("agree")


async def _pay_on_phone(view: Any, sim: SimulatorClient) -> None:
    await _until(view, "pay")
    await sim.pay(code_url=view.qr_payload)
