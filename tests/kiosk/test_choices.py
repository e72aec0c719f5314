"""A citizen's press is heard from the moment the screen that asks for it appears."""

from __future__ import annotations

import asyncio

from kiosk.viewmodel import ScreenId
from simulator.reference import BILL_PAYMENT, WATER_ACCOUNT
from tests.kiosk.test_flow_engine import kiosk, until  # noqa: F401 - the fixture


async def test_ok_pressed_the_instant_the_account_screen_appears_is_heard(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    loop = asyncio.get_running_loop()

    def type_at_once(changed: set[str]) -> None:
        # Queued before anything the step itself queues once the screen is up: the step
        # listens for the keypad and the scanner at once (a task each).
        if "screen" in changed and ctx.view.screen is ScreenId.ENTER_ACCOUNT:
            def press() -> None:
                for digit in WATER_ACCOUNT:
                    session.key_press(digit)
                session.key_press("ok")
            loop.call_soon(press)

    ctx.view.subscribe(type_at_once)
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.CONFIRM, timeout=5.0)
