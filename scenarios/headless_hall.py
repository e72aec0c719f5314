"""Scripted citizens for the service hall's items, without a screen (the same duck-typed view
and intents as scenarios.headless_citizen, whose SCENARIOS these join): progress lookup, queue
check-in, booking, collecting a finished document, a traffic fine, the pre-review with its
phone number. No chip is ever inserted."""

from __future__ import annotations

import asyncio
from typing import Any

from scenarios.headless_steps import _finish, _pay_on_phone, _until
from simulator.control_client import SimulatorClient
from simulator.reference import (
    APPOINTMENT_BOOKING,
    CITIZEN_PHONE,
    DOCUMENT_COLLECTION,
    FINE_DECISION,
    MATERIALS_PREREVIEW,
    PROGRESS_LOOKUP,
    QUEUE_TICKET,
    TRAFFIC_FINE,
)


def _type(intents: Any, digits: str) -> None:
    for digit in digits:
        intents.key_press(digit)
    intents.key_press("ok")


async def _phone(view: Any, intents: Any) -> None:
    await _until(view, "enter_account")
    _type(intents, CITIZEN_PHONE)
    await _until(view, "confirm")
    intents.choose_option("confirm")


async def progress(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(PROGRESS_LOOKUP)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    try:
        await _until(view, "confirm")
        intents.choose_option("print")
        return await _finish(view, intents)
    finally:
        await sim.remove_idcard()


async def checkin(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """The simulated citizen's appointment today starts in five minutes: a priority ticket."""
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(QUEUE_TICKET)
    await _until(view, "choose")
    await sim.insert_idcard()
    try:
        return await _finish(view, intents)
    finally:
        await sim.remove_idcard()


async def booking(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(APPOINTMENT_BOOKING)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    try:
        await _until(view, "choose")
        intents.choose_option("A")
        while not view.options or view.options[0].code == "A":
            await asyncio.sleep(0.02)
        intents.choose_option(view.options[0].code)
        return await _finish(view, intents)
    finally:
        await sim.remove_idcard()


async def collect(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(DOCUMENT_COLLECTION)
    await _until(view, "read_idcard")
    await sim.insert_idcard()
    await _until(view, "face")
    await sim.show_face()
    try:
        await _phone(view, intents)
        for _ in range(600):   # the document comes to the mouth; the citizen takes it
            state = await sim._call("GET", "/dispenser/state")
            if state["card_position"] == "mouth":
                await sim.device("/dispenser/take")
                break
            if str(view.screen) == "result":
                break
            await asyncio.sleep(0.05)
        return await _finish(view, intents)
    finally:
        await sim.remove_idcard()
        await sim.hide_face()


async def fine(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(TRAFFIC_FINE)
    await _until(view, "enter_account")
    _type(intents, FINE_DECISION)
    await _until(view, "confirm")
    intents.choose_option("confirm")
    await _pay_on_phone(view, sim)
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
        await _phone(view, intents)
        return await _finish(view, intents)
    finally:
        await sim.document_scene("empty")
        await sim.remove_idcard()


HALL_SCENARIOS = {"progress": progress, "checkin": checkin, "booking": booking,
                  "collect": collect, "fine": fine, "prereview": prereview}
