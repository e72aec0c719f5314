"""Steps of the service hall's items: identify by ID card or by a receipt's QR code, look up
the progress of one's applications, the queue (appointment check-in, walk-in number), a phone
number on the keypad, a slip on the receipt printer. Listed in the step library
(kiosk.step_library); each is driven by its params (kiosk.step_declarations), as the core
steps are.

Read-only steps (a lookup) write nothing to the journal; a step that makes the backend issue
something (a ticket, a booking) goes through the core `submit` step, journaled first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from kiosk.backends import BackendError
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.privacy import mask, pseudonym
from kiosk.step_declarations import (
    EnterPhoneParams,
    IdentifyOrScanParams,
    PrintSlipParams,
    ProgressLookupParams,
    ProgressShowParams,
    QueueTicketParams,
    SubmitParams,
)
from kiosk.steps import _READER_REASONS, FlowRun, _backend_failure, _both, submit
from kiosk.viewmodel import OptionTile, ScreenId
from peripherals.errors import DeviceError
from peripherals.receipt_printer import Align, ReceiptDocument, ReceiptLine

log = logging.getLogger(__name__)

PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678, as every Chinese service shows a number back."""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else mask(phone)


def mask_name(name: str) -> str:
    """林晓明 -> 林*明, 林明 -> 林*: the surname and, for three or more characters, the last."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# -- identifying: the ID card, or a code shown to the scanner ---------------------------------

async def _card_or_code(run: FlowRun, timeout: float) -> str | None:
    """Waits for an ID card on the reader or a code at the scanner: the code, or None for a
    card (then read, and the citizen identified)."""
    ctx = run.ctx
    reader = ctx.devices.idcard_reader
    waiters: dict[asyncio.Future[object], str] = {
        asyncio.ensure_future(ctx.scans.get()): "code"}
    if reader is not None:
        waiters[asyncio.ensure_future(reader.wait_for_card(timeout))] = "card"
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
    if not done:
        raise FlowFailure(Reason.CARD_TIMEOUT)
    finished = done.pop()
    if waiters[finished] == "code":
        return str(finished.result()).strip()
    assert reader is not None  # the "card" waiter exists only with a reader
    try:
        finished.result()
        ctx.view.update(status_key="idcard.reading", busy=True)
        card = await reader.read()
    except DeviceError as exc:
        raise FlowFailure(_READER_REASONS.get(exc.reason, Reason.READER_FAULT)) from exc
    run.state["id_number"] = card.text.id_number
    run.ensure_identified(pseudonym(card.text.id_number, ctx.subject_key))
    return None


async def identify_or_scan(run: FlowRun, params: IdentifyOrScanParams) -> None:
    """The ID card, or the QR code of one of our receipts (its application number)."""
    ctx = run.ctx
    ctx.show(ScreenId.READ_IDCARD, status_key=params.status_key, busy=False)
    async with ctx.watch_codes():
        code = await _card_or_code(run, ctx.config.flow.place_card_timeout_s)
    run.state[params.into] = code or ""


# -- progress of applications (办件查询) ---------------------------------------------------------

async def progress_lookup(run: FlowRun, params: ProgressLookupParams) -> None:
    """The citizen's applications from the progress backend, names masked for the screen."""
    ctx = run.ctx
    ctx.show(ScreenId.PROCESSING, status_key="progress.looking", busy=True)
    code = run.state.get(params.code, "")
    body = {"code": code} if code else {"id_number": run.state["id_number"]}
    try:
        found = await ctx.service(params.backend).submit(
            params.path, body, run.tx.idempotency_key("progress"))
    except BackendError as exc:
        if exc.status == 404:
            raise FlowFailure(Reason.NO_APPLICATIONS) from exc
        raise _backend_failure(exc) from exc
    rows = {}
    for index, application in enumerate(found.get("applications", [])[:10]):
        rows[f"r{index}"] = {**application,
                             "applicant_name": mask_name(str(application["applicant_name"]))}
    run.state[params.into] = rows


async def progress_show(run: FlowRun, params: ProgressShowParams) -> None:
    """Each application's state on the screen; the citizen may print it as a slip."""
    ctx = run.ctx
    rows = run.state[params.rows]
    lines = tuple(
        ({"zh": f"{a['item_name']}（{a['application_no']}）", "en": a["application_no"]},
         f"{a['status_zh']} · {a['updated']} · {a['applicant_name']}")
        for a in rows.values())
    ctx.show(ScreenId.CONFIRM, confirm_lines=lines, fee_fen=0, busy=False,
             status_key="progress.found", status_params={"count": len(rows)},
             options=(OptionTile("print", {"zh": "打印查询结果", "en": "Print the result"}),
                      OptionTile("done", {"zh": "完成", "en": "Done"})))
    choice = await ctx.wait_choice()
    printed = False
    if choice in ("print", "confirm"):
        slip: list[tuple[str, str]] = []
        for a in rows.values():
            slip += [(a["item_name"], ""), ("  受理编号 No.", a["application_no"]),
                     ("  办理状态 Status", f"{a['status_zh']} {a['status_en']}"),
                     ("  更新时间 Updated", a["updated"]), ("  申请人 Applicant",
                                                          a["applicant_name"])]
        printed = await print_slip(run, params.title, slip)
    run.state["result_lines"] = (
        _both("progress.done", count=len(rows)),
        *((_both("progress.slip_printed"),) if printed else ()),
    )


# -- slips on the receipt printer ----------------------------------------------------------------

async def print_slip(run: FlowRun, title: dict[str, str], lines: list[tuple[str, str]],
                     qr: str = "") -> bool:
    """A slip with `title`, `label: value` lines, the kiosk's footer and an optional QR code.
    It journals nothing (the caller does, if the slip stands for something issued); False when
    no slip came out (the caller says so on the result screen)."""
    ctx = run.ctx
    body = [ReceiptLine(title["zh"], align=Align.CENTER, bold=True, double=True)]
    if title.get("en"):
        body.append(ReceiptLine(title["en"], align=Align.CENTER))
    body.append(ReceiptLine("-" * 32))
    body += [ReceiptLine(f"{label}: {value}" if value else label) for label, value in lines]
    body += [ReceiptLine("-" * 32), ReceiptLine(f"流水号 Transaction: {run.tx.tx_id}"),
             ReceiptLine(f"终端 Kiosk: {ctx.config.kiosk_id}"),
             ReceiptLine(time.strftime("时间 Time: %Y-%m-%d %H:%M:%S")),
             ReceiptLine(f"咨询电话 Hotline: {ctx.config.flow.office_hotline}", align=Align.CENTER)]
    return await print_document(ctx, ReceiptDocument(lines=tuple(body), qr=qr or run.tx.tx_id),
                                run.tx.tx_id)


async def print_document(ctx: FlowContext, document: ReceiptDocument, about: str) -> bool:
    """Prints on the receipt printer; False when nothing came out (no printer fitted, paper
    out, jam...): the caller tells the citizen. `about` names it in the log (a transaction,
    an item code)."""
    printer = ctx.devices.receipt_printer
    if printer is None:
        return False
    try:
        await printer.print_receipt(document)
    except DeviceError as exc:
        log.warning("slip not printed: %s", exc.reason.value,
                    extra={"transaction": about, "reason": exc.reason.value})
        return False
    return True


async def print_slip_step(run: FlowRun, params: PrintSlipParams) -> None:
    """A slip from templates: params title, lines [{label, value}], qr (template). When the
    transaction issued something (FULFILLED), the slip is its receipt and is journaled."""
    lines = [(f"{line['label']['zh']} {line['label'].get('en', '')}".strip(),
              str(run.render(line["value"]))) for line in params.lines]
    qr = str(run.render(params.qr)) if params.qr else ""
    if await print_slip(run, params.title, lines, qr):
        run.txn.receipted()
    else:
        run.receipt_note = "result.receipt_failed"


# -- a phone number for the text message -------------------------------------------------------

async def enter_phone(run: FlowRun, params: EnterPhoneParams) -> None:
    """A mobile number on the keypad, checked, then shown back masked to confirm. It stays in
    memory for the backend's text message; the journal only records that one was given."""
    ctx = run.ctx
    title = params.title
    while True:
        ctx.show(ScreenId.ENTER_ACCOUNT, entry="", entry_error_key="", entry_title=title,
                 status_key="phone.keypad")
        while True:
            value = (await ctx.wait_choice()).strip() or ctx.view.entry
            if PHONE.match(value):
                break
            ctx.view.update(entry="", entry_error_key="phone.invalid")
        ctx.show(ScreenId.CONFIRM, fee_fen=0,
                 confirm_lines=(({"zh": "手机号码", "en": "Mobile"}, mask_phone(value)),),
                 options=(OptionTile("confirm", {"zh": "确认", "en": "Confirm"}),
                          OptionTile("retype", {"zh": "重新输入", "en": "Type again"})))
        if await ctx.wait_choice() != "retype":
            break
    run.state[params.into] = value
    run.state["phone_masked"] = mask_phone(value)
    run.txn.annotate({"sms_phone_given": True})


# -- the queue: appointment check-in, or a walk-in number ----------------------------------------

async def queue_ticket(run: FlowRun, params: QueueTicketParams) -> None:
    """A walk-in number in the chosen category, or, for an appointment (its QR code or the ID
    card), a priority ticket when in time and a plain answer when early or late."""
    ctx = run.ctx
    categories = params.categories
    ctx.show(ScreenId.CHOOSE, choose_title=params.title, status_key="queue.hint",
             options=tuple(OptionTile(c["code"], c["label"]) for c in categories), busy=False)
    async with ctx.watch_codes():
        chooser = asyncio.ensure_future(ctx.listen_for_choice())
        identify = asyncio.ensure_future(_card_or_code(run, ctx.config.flow.place_card_timeout_s))
        done, _ = await asyncio.wait({chooser, identify}, return_when=asyncio.FIRST_COMPLETED)
        for task in (chooser, identify):
            if task not in done:
                task.cancel()
    backend = params.backend
    if chooser in done:
        category = next((c for c in categories if c["code"] == chooser.result()), None)
        if category is None:
            raise FlowFailure(Reason.BACKEND_REJECTED)
        await submit(run, SubmitParams(backend, "/walk-in", "ticket",
                                       body={"category": category["code"]},
                                       record=("ticket_no",)))
    else:
        code = identify.result()
        body = {"appointment_no": code} if code else {"id_number": run.state["id_number"]}
        try:
            await submit(run, SubmitParams(backend, "/check-in", "ticket", body=body,
                                           record=("ticket_no",)))
        except FlowFailure as failure:
            if failure.reason is Reason.NOT_FOUND:
                raise FlowFailure(Reason.NO_APPOINTMENT) from failure
            raise
    ticket = run.state["ticket"]
    verdict = ticket.get("verdict", "walk_in")
    run.txn.annotate({"queue_verdict": verdict})
    if verdict in ("early", "late"):
        # An answer, not a ticket: nothing was issued, nothing is printed.
        key = "queue.early" if verdict == "early" else "queue.late"
        run.state["result_lines"] = (_both(key, **ticket),)
        return
    printed = await print_slip(run, {"zh": "排队号", "en": "Queue ticket"}, [
        (f"号码 Number: {ticket['ticket_no']}", ""),
        ("业务 Service", f"{ticket['category_zh']} {ticket['category_en']}"),
        ("窗口 Counters", ticket["window"]),
        ("前面等候 Waiting ahead", str(ticket["waiting"])),
        ("预计等候 Estimated wait", f"{ticket['wait_min']} 分钟 min"),
        *((("预约 Appointment", f"{ticket['appointment_no']} {ticket['slot']}"),)
          if ticket.get("priority") else ()),
    ], qr=ticket["ticket_no"])
    if printed:
        run.txn.receipted()
    else:
        run.receipt_note = "result.receipt_failed"
    run.state["result_lines"] = (_both("queue.ticket", **ticket),)
