"""The chip's keys from the document itself (issue 18): the MRZ read from its data page on the
document camera, or, after a few tries, its three fields typed on the keypad. For a document
the backends do not know (a visitor's passport), where no lookup can give the keys.

The keys go into the run's state only, as a lookup's would, for read_permit; nothing of them
is logged or journaled (the refusal reasons and try numbers are).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from enum import StrEnum

from kiosk.flow import FlowFailure, Reason
from kiosk.json_object import JsonObject
from kiosk.step_declarations import MrzFromPageParams
from kiosk.step_registry import FlowRun, _both
from kiosk.viewmodel import ScreenId
from peripherals.document_camera import (
    DataPageNotRead,
    DataPageProblem,
    DocumentCameraService,
)
from peripherals.errors import DeviceError

log = logging.getLogger("kiosk.steps")


class KeySource(StrEnum):
    """Where the chip's keys in the state came from: what a refusal by the chip means."""

    PAGE = "page"  # read from the data page: the chip on the reader is another document
    KEYPAD = "keypad"  # typed: a typing mistake


_PROBLEM_KEYS = {
    DataPageProblem.NO_PAGE: "mrz.problem.no_page",
    DataPageProblem.PAGE_TOO_SMALL: "mrz.problem.page_too_small",
    DataPageProblem.PAGE_CUT_OFF: "mrz.problem.page_cut_off",
    DataPageProblem.TOO_DARK: "mrz.problem.too_dark",
    DataPageProblem.NO_MRZ: "mrz.problem.no_mrz",
    DataPageProblem.MRZ_UNCLEAR: "mrz.problem.mrz_unclear",
}
_REFUSED = {KeySource.PAGE: Reason.PAGE_KEYS_REFUSED, KeySource.KEYPAD: Reason.TYPED_KEYS_REFUSED}
_DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]{1,9}$")


def refused_reason(keys: JsonObject) -> Reason:
    """Why the chip refused keys from `keys`' source (a lookup's: the identity record's)."""
    try:
        return _REFUSED[KeySource(str(keys.get("source", "")))]
    except ValueError:
        return Reason.AUTHENTICATION_REFUSED


def typed_document_number(text: str) -> str | None:
    """A document number as typed (letters and digits, as printed), or None."""
    number = text.strip().upper()
    return number if _DOCUMENT_NUMBER.match(number) else None


def typed_date(text: str) -> str | None:
    """A YYMMDD date as typed (a real day of a month), or None."""
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        return None
    try:   # the century is unknown here: a day that exists in the 2000s' year stands
        datetime.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None
    return text


async def mrz_from_page(run: FlowRun, params: MrzFromPageParams) -> None:
    """The chip's keys into `params.into`: from the data page on the document camera, placed
    up to `attempts` times, then from the keypad (unless the item says not to)."""
    ctx = run.ctx
    camera = ctx.devices.document_camera
    keys = await _from_page(run, camera, params) if camera is not None else None
    if keys is None:
        if not params.keypad:
            raise FlowFailure(Reason.DATA_PAGE_UNREAD)
        keys = await _from_keypad(run)
    run.state[params.into] = keys


async def _from_page(run: FlowRun, camera: DocumentCameraService,
                     params: MrzFromPageParams) -> JsonObject | None:
    ctx = run.ctx
    ctx.show(ScreenId.PLACE_DATA_PAGE, status_key="mrz.place", busy=False,
             status_params={"attempt": 1, "attempts": params.attempts})
    wait = ctx.config.ui.citizen_seconds(params.attempt_timeout_s, ctx.view.elder)
    for attempt in range(1, params.attempts + 1):
        if attempt > 1:
            await asyncio.sleep(params.retry_pause_s)   # the instruction is read first
        try:
            with ctx.trace.span("mrz_from_page/camera"):
                mrz = await camera.read_data_page(wait, params.refusals)
        except DataPageNotRead as exc:
            log.info("data page not read (try %d of %d): %s", attempt, params.attempts,
                     exc.problem.value, extra={"transaction": run.tx.tx_id,
                                               "reason": exc.problem.value})
            ctx.view.update(status_key=_PROBLEM_KEYS[exc.problem],
                            status_params={"attempt": min(attempt + 1, params.attempts),
                                           "attempts": params.attempts})
            continue
        except DeviceError as exc:   # the camera itself: the keypad still serves the citizen
            log.warning("%s failed: %s", exc.device, exc.reason.value,
                        extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
            return None
        ctx.view.update(status_key="mrz.read", busy=True)
        return {"document_number": mrz.document_number, "birth_date": mrz.birth_date,
                "expiry_date": mrz.expiry_date, "source": KeySource.PAGE.value}
    return None


# The keypad's three fields: (state key, title, letters offered, check, error).
_FIELDS = (
    ("document_number", "mrz.keypad.document_number", True, typed_document_number,
     "mrz.keypad.invalid_number"),
    ("birth_date", "mrz.keypad.birth_date", False, typed_date, "mrz.keypad.invalid_date"),
    ("expiry_date", "mrz.keypad.expiry_date", False, typed_date, "mrz.keypad.invalid_date"),
)


async def _from_keypad(run: FlowRun) -> JsonObject:
    """The three fields typed on the keypad (letters too for the number), each checked."""
    ctx = run.ctx
    keys: JsonObject = {"source": KeySource.KEYPAD.value}
    try:
        for name, title, letters, check, error in _FIELDS:
            ctx.show(ScreenId.ENTER_ACCOUNT, entry="", entry_error_key="", busy=False,
                     entry_title=_both(title), entry_letters=letters, status_key="mrz.keypad.hint")
            while (value := check(await ctx.wait_choice())) is None:
                ctx.view.update(entry="", entry_error_key=error)
            keys[name] = value
    finally:
        ctx.view.update(entry="", entry_letters=False)   # the last field leaves the screen
    return keys
