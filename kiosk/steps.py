"""The step library: what a catalog item's `steps` may name. Each step is data-driven by its
params; a new service is a catalog entry that combines these steps, not new Python.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from typing import Any

from kiosk.backends import BackendError, PaymentOrder
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.offline_submission import QUEUED, link_known_down, outbox_for
from kiosk.privacy import pseudonym
from kiosk.receipts import bilingual, print_document
from kiosk.step_declarations import (
    ChooseOptionParams,
    ConfirmAmountParams,
    EnterAccountParams,
    LookupParams,
    NoParams,
    PayParams,
    PrintReceiptParams,
    ReadPermitParams,
    ScanMaterialsParams,
    ShowResultParams,
    SubmitParams,
)
from kiosk.step_registry import FlowRun, _backend_failure, _both
from kiosk.steps_mrz import refused_reason
from kiosk.transaction import PaymentFailed, SubmissionFailed
from kiosk.viewmodel import OptionTile, ScreenId
from peripherals.errors import DeviceError, DeviceReason
from peripherals.permit_reader import BacKey
from peripherals.receipt_printer import ReceiptLine

log = logging.getLogger(__name__)

# Named here too: the run and the helpers are kiosk.step_registry's; the step modules import
# them from here. The steps are listed by kiosk.step_library.
__all__ = ["FlowRun", "_backend_failure", "_both"]


def _card_wait_s(ctx: FlowContext) -> float:
    # How long the citizen may take to place a card is kiosk.citizen_time's decision (with its
    # "still there?" warning); the reader's own wait is only the step's safety net.
    return ctx.config.ui.citizen_seconds(ctx.config.flow.step_timeout_s, ctx.view.elder)


_READER_REASONS = {
    DeviceReason.CARD_REMOVED: Reason.CARD_REMOVED,
    DeviceReason.NOT_A_TRAVEL_DOCUMENT: Reason.CARD_UNREADABLE,
    DeviceReason.CARD_UNREADABLE: Reason.CARD_UNREADABLE,
    DeviceReason.TIMEOUT: Reason.CARD_TIMEOUT,
    DeviceReason.NO_CARD: Reason.CARD_TIMEOUT,
    DeviceReason.AUTHENTICATION_REFUSED: Reason.AUTHENTICATION_REFUSED,
    DeviceReason.INTEGRITY_FAILED: Reason.INTEGRITY_FAILED,
    DeviceReason.CHIP_NOT_GENUINE: Reason.CHIP_NOT_GENUINE,
}


# What the reader's screen says for each document a step may ask for (ReadPermitParams.document).
_DOCUMENT_WORDS = {"permit": ("permit.instruction", "permit.reading"),
                   "passport": ("passport.instruction", "passport.reading")}


async def read_permit(run: FlowRun, params: ReadPermitParams) -> None:
    """The permit's chip, opened (PACE when it offers it, else BAC) with the keys a previous
    step looked up or read from the data page (kiosk.steps_mrz); passive and, where the chip
    offers it, active authentication checked."""
    ctx = run.ctx
    reader = ctx.devices.permit_reader
    if reader is None:
        raise FlowFailure(Reason.DEVICE_MISSING)
    keys = run.state.get(params.keys, {})
    try:
        key = BacKey(str(keys["document_number"]), str(keys["birth_date"]),
                     str(keys["expiry_date"]))
    except (KeyError, TypeError) as exc:
        raise FlowFailure(Reason.BACKEND_REJECTED) from exc
    instruction, reading = _DOCUMENT_WORDS[params.document]
    ctx.show(ScreenId.PLACE_PERMIT, status_key=instruction, busy=False)
    try:
        with ctx.trace.span("read_permit/card"):   # the citizen, then pcscd's word of it
            await reader.wait_for_card(_card_wait_s(ctx))
        ctx.view.update(status_key=reading, busy=True)
        permit = await reader.read_permit(key)
        permit.raise_for_integrity(require_trusted=ctx.config.flow.require_trusted_document,
                                   require_active_auth=ctx.config.flow.require_active_auth,
                                   require_chip_auth=ctx.config.flow.require_chip_auth)
    except DeviceError as exc:
        log.warning("%s failed: %s (%s)", exc.device, exc.reason.value, exc,
                    extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
        reason = _READER_REASONS.get(exc.reason, Reason.READER_FAULT)
        if reason is Reason.AUTHENTICATION_REFUSED:   # what the keys' source makes of it
            reason = refused_reason(keys)
        raise FlowFailure(reason) from exc
    if permit.document_expired():
        raise FlowFailure(Reason.DOCUMENT_EXPIRED)
    run.state["permit_number"] = permit.mrz.document_number
    run.ensure_identified(pseudonym(permit.mrz.document_number, ctx.subject_key))
    run.txn.annotate({"permit_apdus": permit.apdus,
                      "passive_auth": permit.passive_auth.verdict.value,
                      "access_control": permit.access_control,
                      "active_auth": permit.active_auth.verdict.value
                      if permit.active_auth is not None else "not_offered",
                      "chip_auth": permit.chip_auth.verdict.value
                      if permit.chip_auth is not None else "not_offered"})


async def read_idcard(run: FlowRun, params: NoParams) -> None:
    ctx = run.ctx
    reader = ctx.devices.idcard_reader
    if reader is None:
        raise FlowFailure(Reason.DEVICE_MISSING)
    ctx.show(ScreenId.READ_IDCARD, status_key="idcard.instruction", busy=False)
    try:
        with ctx.trace.span("read_idcard/card"):   # the citizen, then the reader's next poll
            await reader.wait_for_card(_card_wait_s(ctx))
        ctx.view.update(status_key="idcard.reading", busy=True)
        card = await reader.read()
    except DeviceError as exc:
        log.warning("%s failed: %s (%s)", exc.device, exc.reason.value, exc,
                    extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
        raise FlowFailure(_READER_REASONS.get(exc.reason, Reason.READER_FAULT)) from exc
    run.state["id_number"] = card.text.id_number
    run.ensure_identified(pseudonym(card.text.id_number, ctx.subject_key))


async def capture_face(run: FlowRun, params: NoParams) -> None:
    ctx = run.ctx
    camera = ctx.devices.face_camera
    if camera is None:
        raise FlowFailure(Reason.DEVICE_MISSING)
    # The notice comes first: what the photo is for, and a way to decline (or to go on at once).
    ctx.show(ScreenId.FACE, status_key="face.consent", busy=False, faces=0, consent_pending=True)
    try:
        answer = await ctx.wait_choice(ctx.config.ui.citizen_seconds(
            ctx.config.ui.consent_notice_s, ctx.view.elder))
    except TimeoutError:
        answer = "agree"
    finally:
        ctx.view.update(consent_pending=False)
    if answer == "decline":
        raise FlowFailure(Reason.CANCELLED)
    ctx.view.update(status_key="face.no_face")

    # Any: a numpy frame and a drivers.face_quality.FaceHint, passed through to the screen.
    def on_preview(frame: Any, hint: Any) -> None:
        # hint: a drivers.face_quality.FaceHint value, one plain instruction at a time.
        good = str(hint) in ("ok", "hold_still")
        ctx.view.update(preview=frame, faces=1 if good else 0, status_key=f"face.hint.{hint}")

    try:
        face = await camera.capture(
            on_preview, ctx.config.flow.face_stable_frames,
            ctx.config.ui.citizen_seconds(ctx.config.flow.face_timeout_s, ctx.view.elder)
        )
    except DeviceError as exc:
        reason = Reason.FACE_TIMEOUT if exc.reason is DeviceReason.TIMEOUT else Reason.CAMERA_FAULT
        raise FlowFailure(reason) from exc
    run.state["face_jpeg_b64"] = base64.b64encode(face.jpeg).decode()
    # Evidence for the backend's identity match, not a verdict: numbers only, no image data.
    run.state["liveness"] = face.liveness.as_json()
    ctx.view.update(status_key="face.captured", preview=None)


async def scan_materials(run: FlowRun, params: ScanMaterialsParams) -> None:
    """Each listed material on the document camera in turn, with a check a page was found;
    the pages become one PDF, in memory only, for the backend's pre-review."""
    ctx = run.ctx
    camera = ctx.devices.document_camera
    if camera is None:
        raise FlowFailure(Reason.DEVICE_MISSING)
    materials = params.materials
    timeout = params.page_timeout_s
    pages = []
    for index, material in enumerate(materials, start=1):
        ctx.show(ScreenId.SCAN_DOCUMENT, scan_material=material, scan_index=index,
                 scan_total=len(materials), status_key="scan.place", busy=False)
        for attempt in range(params.attempts):
            try:
                pages.append(await camera.scan_page(timeout))
                break
            except DeviceError as exc:
                if exc.reason is not DeviceReason.TIMEOUT:
                    raise FlowFailure(Reason.CAMERA_FAULT) from exc
                seen = getattr(exc, "scan_reason", None)
                ctx.view.update(status_key=f"scan.problem.{seen.value if seen else 'no_page'}")
                log.info("material %d: no page (attempt %d)", index, attempt + 1)
        else:
            raise FlowFailure(Reason.NO_PAGE)
        ctx.view.update(status_key="scan.done", busy=True)
    pdf = await asyncio.to_thread(camera.pages_to_pdf, pages)
    run.state[params.into] = base64.b64encode(pdf).decode()
    run.state["material_pages"] = len(pages)


async def lookup(run: FlowRun, params: LookupParams) -> None:
    path = run.render(params.path)
    client = run.ctx.service(params.backend)
    try:
        if params.method == "POST":
            # A read that carries personal data in its body rather than in the URL.
            result = await client.submit(path, run.render(params.body),
                                         run.tx.idempotency_key(f"lookup:{params.into}"))
        else:
            result = await client.get(path)
    except BackendError as exc:
        raise _backend_failure(exc) from exc
    run.state[params.into] = result


async def choose_option(run: FlowRun, params: ChooseOptionParams) -> None:
    ctx = run.ctx
    if params.options_from is not None:
        raw = run.render("{" + params.options_from + "}")
        label = params.label or {}
        options = [
            {
                **o,
                "code": str(o[params.code]),
                "label": {lang: str(o[key]) for lang, key in label.items()},
            }
            for o in raw
        ]
    else:
        options = [dict(o) for o in params.options or ()]
    fee_key = params.fee
    tiles = tuple(
        OptionTile(o["code"], o["label"], int(o[fee_key]) if fee_key else None) for o in options
    )
    ctx.show(ScreenId.CHOOSE, options=tiles, choose_title=params.title)
    code = await ctx.wait_choice()
    chosen = next(o for o in options if o["code"] == code)
    run.state[params.into] = chosen
    if fee_key:
        run.ensure_quoted(int(chosen[fee_key]), {"option": code})


async def enter_account(run: FlowRun, params: EnterAccountParams) -> None:
    """The citizen types a number on the keypad, or scans it (a bill's barcode)."""
    ctx = run.ctx
    pattern = re.compile(params.pattern)
    ctx.show(ScreenId.ENTER_ACCOUNT, entry="", entry_error_key="", entry_title=params.title)
    async with ctx.watch_codes():
        await _read_account(run, params, pattern)


async def _read_account(run: FlowRun, params: EnterAccountParams, pattern: re.Pattern[str]) -> None:
    ctx = run.ctx
    while True:
        waiter = asyncio.ensure_future(ctx.listen_for_choice())
        scanner = asyncio.ensure_future(ctx.scans.get())
        try:
            done, _ = await asyncio.wait({waiter, scanner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also when the flow is cancelled (the citizen left, the time ran out): a getter
            # left waiting on the scans would take the next citizen's scanned code.
            for task in (waiter, scanner):
                if not task.done():
                    task.cancel()
        value = scanner.result() if scanner in done else ctx.view.entry
        if pattern.match(value):
            run.state[params.into] = value
            return
        ctx.view.update(entry="", entry_error_key="account.invalid")


async def confirm_amount(run: FlowRun, params: ConfirmAmountParams) -> None:
    ctx = run.ctx
    amount = run.render(params.amount)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise FlowFailure(Reason.BACKEND_REJECTED)
    if amount == 0:
        raise FlowFailure(Reason.NOTHING_DUE)
    lines = tuple((line["label"], str(run.render(line["value"]))) for line in params.lines)
    # The pay button, not the choices a step before this one offered.
    ctx.show(ScreenId.CONFIRM, confirm_lines=lines, fee_fen=amount, options=(), status_key="")
    await ctx.wait_choice()
    run.ensure_quoted(amount)


async def pay(run: FlowRun, params: PayParams) -> None:
    ctx = run.ctx
    if not run.tx.amount_fen:
        return  # nothing to pay
    description = str(run.render(params.description))[:120]

    def on_order(order: PaymentOrder) -> None:
        ctx.show(
            ScreenId.PAY,
            qr_payload=order.code_url,
            order_no=order.out_trade_no,
            fee_fen=order.amount_fen,
            status_key="pay.instruction",
            busy_key="",
        )

    try:
        async with ctx.watch_codes():
            await run.txn.collect(
                description=description,
                timeout_s=ctx.config.ui.citizen_seconds(ctx.config.flow.payment_timeout_s,
                                                        ctx.view.elder),
                poll_s=ctx.config.flow.payment_poll_s,
                scans=ctx.scans,
                on_order=on_order,
            )
    except PaymentFailed as failed:
        raise FlowFailure(Reason(failed.problem.value)) from failed


async def submit(run: FlowRun, params: SubmitParams) -> None:
    """The side effect the citizen came for; journaled first, keyed by the transaction. Only
    the result fields named in `record` (reference numbers) reach the journal."""
    ctx = run.ctx
    ctx.show(ScreenId.PROCESSING, status_key="processing.instruction", busy=True)
    run.ensure_quoted(0)
    body = run.render(params.body)
    with outbox_for(run) as outbox:
        try:
            result = await run.txn.submit(ctx.service(params.backend), params.backend,
                                          params.path, body,
                                          record=list(params.record),
                                          delivery=params.delivery,
                                          outbox=outbox, link_down=link_known_down(run))
        except SubmissionFailed as failed:
            raise _backend_failure(failed.error) from failed
    if result is None:
        # Accepted into the outbox: the receipt and the result show the catalog's placeholders
        # for the ids the backend has not given yet.
        run.state[QUEUED] = True
        run.state[params.into] = dict(params.queued_result)
        return
    run.state[params.into] = result


async def print_receipt(run: FlowRun, params: PrintReceiptParams) -> None:
    """The receipt, or the document itself. With `copies`, each copy is what the citizen paid
    for: the copies that came out are what was delivered (the rest is refunded)."""
    ctx = run.ctx
    per_copy = params.copies is not None
    copies = int(run.render(params.copies)) if per_copy else 1
    lines = [ReceiptLine(f"{label['zh']} {label.get('en', '')}: {run.render(line['value'])}")
             for line in params.lines for label in (line["label"],)]
    if run.state.get(QUEUED):
        lines.append(ReceiptLine(bilingual("receipt.queued")))
    for number in range(1, copies + 1):
        if per_copy:
            run.txn.printing_copy(number)
        try:
            await print_document(ctx, run.tx, params.title, lines,
                                 copy=(number, copies) if copies > 1 else None)
        except DeviceError as exc:
            log.warning("receipt not printed: %s", exc.reason.value,
                        extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
            if per_copy:
                # Refused before a byte was sent (paper out, cover open, no answer): this copy
                # did not come out. A connection lost while sending leaves it in doubt.
                in_doubt = exc.reason is DeviceReason.PRINTER_OFFLINE and \
                    ctx.devices.receipt_printer is not None
                run.txn.printed_copies(number - 1, copies, in_doubt=in_doubt)
                raise FlowFailure(Reason.PRINT_FAILED) from exc
            if not params.optional:
                run.txn.needs_attention(f"print_failed:{exc.reason.value}")
                raise FlowFailure(Reason.PRINT_FAILED) from exc
            run.receipt_note = "result.receipt_failed"
            return
        if per_copy:
            run.txn.printed_copies(number, copies)
    run.txn.receipted()


async def show_result(run: FlowRun, params: ShowResultParams) -> None:
    lines = tuple(
        {lang: str(run.render(text)) for lang, text in line.items()}
        for line in params.lines
    )
    if run.state.get(QUEUED):
        lines += (_both("result.queued"),)
    if run.receipt_note:
        lines += (_both(run.receipt_note, order=run.tx.out_trade_no or run.tx.tx_id),)
    run.state["result_lines"] = lines
