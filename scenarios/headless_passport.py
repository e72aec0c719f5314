"""Scripted visitors with a passport the backends do not know (issue 18): the chip's keys come
from the data page laid on the document camera, placed again when a finger covered it, or
typed on the keypad when no placement read. Through the kiosk's intents; the simulator shows
the page and holds the chip."""

from __future__ import annotations

import time
from typing import Any

from kiosk.i18n import TEXTS
from scenarios.headless_steps import Stuck, _finish, _seen, _until
from simulator.control_client import SimulatorClient
from simulator.reference import FOREIGNER_ACCOMMODATION
from simulator.runtime import VISITOR_HOLDER

_PASSPORT = {"holder": "visitor", "layout": "td3"}


async def _to_data_page(view: Any, intents: Any) -> None:
    intents.touch_start()
    await _until(view, "menu")
    intents.choose_service(FOREIGNER_ACCOMMODATION)
    await _until(view, "place_data_page")


async def _chip_and_finish(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    try:
        await _until(view, "place_permit", 60)
        await sim.insert_card()               # the same passport, onto the chip reader
        return await _finish(view, intents)
    finally:
        await sim.remove_card()
        await sim.document_scene("empty")


async def passport(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """The data page reads at the first placement."""
    await _to_data_page(view, intents)
    await sim.show_data_page(**_PASSPORT)
    return await _chip_and_finish(view, intents, sim)


async def passport_retry(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """A finger over the MRZ at first: the kiosk asks again, the second placement reads."""
    await _to_data_page(view, intents)
    await sim.show_data_page(**_PASSPORT, fault="occlusion", seed=3)
    if not await _seen(view, lambda: view.status_key == "mrz.problem.mrz_unclear",
                       time.monotonic() + 30):
        raise Stuck(f"the covered page was not refused: {view.status_key}")
    await sim.show_data_page(**_PASSPORT)
    return await _chip_and_finish(view, intents, sim)


async def passport_keypad(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """Every placement covered: after the last try the three fields are typed."""
    await _to_data_page(view, intents)
    await sim.show_data_page(**_PASSPORT, fault="occlusion", seed=3)
    holder = VISITOR_HOLDER
    for typed in (holder.document_number.lower(), holder.birth_date, holder.expiry_date):
        await _seen(view, lambda: str(view.screen) == "enter_account" and view.entry == "",
                    time.monotonic() + 60)
        await _until(view, "enter_account", 1)
        for key in typed:
            intents.key_press(key)
        intents.key_press("ok")
        await _seen(view, lambda: view.entry == "" or bool(view.entry_error_key),
                    time.monotonic() + 5)
        if view.entry_error_key:
            raise Stuck(f"the keypad refused what was typed: {view.entry_error_key}")
    return await _chip_and_finish(view, intents, sim)


async def passport_other_chip(view: Any, intents: Any, sim: SimulatorClient) -> dict:
    """The visitor's page reads, but the document laid on the chip reader is another one (the
    desk cleared first: the simulator's next card is then the default holder's permit)."""
    await _to_data_page(view, intents)
    await sim.show_data_page(**_PASSPORT)
    await _until(view, "place_permit", 60)
    await sim.document_scene("empty")          # the passport off the desk...
    try:
        await sim.insert_card()                # ...and another document on the chip reader
        await _until(view, "result", 60)
        said = [line.get("zh", "") for line in view.result_lines]
        told = TEXTS["reason.page_keys_refused"]["zh"]
        # This visit ends well when the kiosk refuses, saying why: the summary's "ok".
        refused = not view.result_ok and any(told in line for line in said)
        await _finish(view, intents)
    finally:
        await sim.remove_card()
    return {"result_ok": refused}


PASSPORT_SCENARIOS = {"passport": passport, "passport_retry": passport_retry,
                      "passport_keypad": passport_keypad,
                      "passport_other_chip": passport_other_chip}
