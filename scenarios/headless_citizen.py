"""A scripted citizen without a screen: acts through the kiosk's intents and watches its view.

The crash and load tests use it to drive many transactions fast; it knows the kiosk only by
the duck-typed view-model and intents it is handed, and the simulator by its control API.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from scenarios.headless_hall import HALL_SCENARIOS  # the service hall's items (issue 13)
from scenarios.headless_passport import PASSPORT_SCENARIOS  # the MRZ from the page (issue 18)
from scenarios.headless_steps import _agree_to_photo, _finish, _pay_on_phone, _until
from simulator.control_client import SimulatorClient
from simulator.reference import (
    BILL_PAYMENT,
    CERTIFICATE_PRINT,
    ENDORSEMENT,
    MATERIALS_PREREVIEW,
    QUEUE_TICKET,
    WATER_ACCOUNT,
)


async def bill_confirmed(view: Any, intents: Any) -> None:
    """From the attract screen to a water bill's amount confirmed (the payment comes next)."""
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(BILL_PAYMENT)
    await _until(view, "enter_account")
    for digit in WATER_ACCOUNT:
        intents.key_press(digit)
    intents.key_press("ok")
    await _until(view, "confirm")
    intents.choose_option("confirm")


async def bill(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    await bill_confirmed(view, intents)
    await _pay_on_phone(view, sim)
    return await _finish(view, intents)


async def endorsement(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(ENDORSEMENT)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    if await _until(view, "place_permit", 30, "face", "choose") == "place_permit":
        await sim.insert_card()
    if await _until(view, "face", 30, "choose") == "face":
        await _agree_to_photo(view, intents)
    await sim.show_face()
    await _until(view, "choose")
    intents.choose_option(view.options[0].code)
    await _pay_on_phone(view, sim)
    try:
        return await _finish(view, intents)
    finally:
        await sim.remove_card()
        await sim.remove_idcard()
        await sim.hide_face()


async def certificate(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(CERTIFICATE_PRINT)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    await _until(view, "face")
    await _agree_to_photo(view, intents)
    await sim.show_face()
    try:
        return await _finish(view, intents)
    finally:
        await sim.remove_idcard()
        await sim.hide_face()


async def queue(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(QUEUE_TICKET)
    await _until(view, "choose")
    intents.choose_option("A")
    return await _finish(view, intents)


async def prereview(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(MATERIALS_PREREVIEW)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    await _until(view, "scan_document")
    await sim.document_scene("text_page")          # the household register, then the form
    while view.scan_index < 2 and str(view.screen) == "scan_document":
        await asyncio.sleep(0.02)
    await sim.document_scene("form")
    try:
        return await _finish(view, intents)
    finally:
        await sim.document_scene("empty")
        await sim.remove_idcard()


SCENARIOS = {"bill": bill, "endorsement": endorsement, "certificate": certificate,
             "queue": queue, "prereview": prereview}


async def run_headless(view: Any, intents: Any, control_url: str, scenario: str,
                       repeat: int = 1) -> dict:

    scenarios = {**SCENARIOS, **HALL_SCENARIOS, **PASSPORT_SCENARIOS}
    async with SimulatorClient(control_url) as sim:
        results = []
        t0 = time.monotonic()
        for _ in range(repeat):
            results.append(await scenarios[scenario](view, intents, sim))
        return {"scenario": scenario, "runs": len(results),
                "ok": all(r["result_ok"] for r in results),
                "seconds": round(time.monotonic() - t0, 3)}
