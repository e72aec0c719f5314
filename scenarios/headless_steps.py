"""What every headless scenario does alike: wait for a screen, pay on the phone, finish and
go back to the attract screen (shared by `headless_citizen` and `headless_hall`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from simulator.control_client import SimulatorClient


class Stuck(Exception):
    pass


async def _until(view: Any, screen: str, timeout: float = 30.0, *later: str) -> str:
    """Waits for `screen` (or one of the `later` screens, if the kiosk got there first)."""
    deadline = time.monotonic() + timeout
    while str(view.screen) not in (screen, *later):
        if time.monotonic() > deadline:
            said = " / ".join(line.get("en", "") for line in view.result_lines)
            raise Stuck(f"waited for {screen}, still on {view.screen} {said}".strip())
        await asyncio.sleep(0.01)
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
    deadline = time.monotonic() + 10
    while not view.consent_pending and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    intents.choose_option("agree")


async def _pay_on_phone(view: Any, sim: SimulatorClient) -> None:
    await _until(view, "pay")
    await sim.pay(code_url=view.qr_payload)
