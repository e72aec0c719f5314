"""Steps that hand the citizen a document: a certificate printed on the A4 printer, and a
finished document (a card the department made) collected from the dispenser.

Both issue a document, so both are journaled before the device moves: the certificate's
print is annotated with its job before the job is sent; the collection moves the transaction
to SUBMITTED (through the transaction core, the journal's only writer), with the document and its slot, before the dispenser is told to dispense.
A document that does not reach the citizen is never lost: it stays in the unit (jam, empty
slot) or in the retain bin (not taken in time), the journal says which, and the fleet hears.
"""

from __future__ import annotations

import asyncio
import logging

from kiosk.backends import BackendError
from kiosk.certificate_pdf import CertificateContent, CertificateContentError, certificate_pdf
from kiosk.flow import FlowFailure, Reason
from kiosk.json_object import JsonObject
from kiosk.step_declarations import CollectDocumentParams, PrintCertificateParams
from kiosk.steps import FlowRun, _backend_failure, _both
from kiosk.viewmodel import ScreenId
from peripherals.dispenser import Handover
from peripherals.errors import DeviceError, DeviceReason

log = logging.getLogger(__name__)


# -- certificates on A4 ---------------------------------------------------------------------

async def print_certificate(run: FlowRun, params: PrintCertificateParams) -> None:
    """The certificate the backend issued (state `from`), laid out as a PDF in memory and
    printed on the A4 printer; done when the printer says the job completed."""
    ctx = run.ctx
    printer = ctx.devices.a4_printer
    issued = run.state[params.issued]
    try:
        content = CertificateContent.from_backend(issued)
    except CertificateContentError as exc:
        log.error("certificate data unusable: %s", exc, extra={"transaction": run.tx.tx_id})
        run.txn.needs_attention("certificate_data_unusable")
        raise FlowFailure(Reason.PRINT_FAILED) from exc
    ctx.show(ScreenId.PROCESSING, status_key="certificate.printing", busy=True)
    pdf = await asyncio.to_thread(certificate_pdf, content, ctx.config.ui.font_path,
                                  ctx.config.kiosk_id)
    # Journaled before the job is sent: which certificate goes to the printer, under which key.
    run.txn.annotate({"a4_print": {
        "certificate_id": content.certificate_id, "job_name": run.tx.idempotency_key("print"),
        "state": "sending"}})
    try:
        if printer is None:
            raise DeviceError("a4_printer", DeviceReason.PRINTER_OFFLINE, "none fitted")
        job_id = await printer.submit(pdf, run.tx.idempotency_key("print"))
        run.txn.annotate({"a4_print": {
            "certificate_id": content.certificate_id, "job_id": job_id, "state": "sent"}})
        job = await printer.wait(job_id, params.print_timeout_s)
    except DeviceError as exc:
        log.warning("certificate not printed: %s", exc.reason.value,
                    extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
        # Issued but not on paper: staff reprint it from the journal's certificate number.
        run.txn.needs_attention(f"print_failed:{exc.reason.value}")
        ctx.report_problem("certificate_not_printed", exc.reason.value)
        raise FlowFailure(Reason.PRINT_FAILED) from exc
    run.txn.receipted({"a4_print": {
        "certificate_id": content.certificate_id, "job_id": job.job_id, "state": "completed"}})
    run.state["certificate_pages"] = max(job.pages, 1)


# -- finished documents from the dispenser (自助取证) --------------------------------------------

_DISPENSE_FAILURES = {
    DeviceReason.STOCK_EMPTY: (Reason.DOCUMENT_SLOT_EMPTY, "document_slot_empty"),
    DeviceReason.JAM: (Reason.DISPENSER_FAULT, "document_jam"),
    DeviceReason.BIN_FULL: (Reason.DISPENSER_FAULT, "retain_bin_full"),
}


async def _handover(run: FlowRun, params: CollectDocumentParams, document: JsonObject, outcome: str) -> None:
    """Tells the documents backend what became of the document (idempotent on the key)."""
    body = {"document_no": document["document_no"], "outcome": outcome,
            "phone": run.state.get("phone", "")}
    try:
        await run.ctx.service(params.backend).submit(
            "/handover", body, run.tx.idempotency_key(f"handover:{outcome}"))
    except BackendError as exc:
        # The journal holds the outcome; recovery or staff tell the backend later.
        log.warning("handover not recorded by the backend: %s", exc.reason.value,
                    extra={"transaction": run.tx.tx_id, "reason": exc.reason.value})
        run.txn.annotate({"handover_unreported": outcome})


async def collect_document(run: FlowRun, params: CollectDocumentParams) -> None:
    """The citizen's finished document from its slot to the mouth; taken, or retained after
    `take_timeout_s` into the retain bin."""
    ctx = run.ctx
    dispenser = ctx.devices.dispenser
    if dispenser is None:
        raise FlowFailure(Reason.DEVICE_MISSING)
    ctx.show(ScreenId.PROCESSING, status_key="collect.looking", busy=True)
    try:
        # The face taken at the kiosk goes with the number: the backend matches it to the
        # holder's photo before it names any document (as the certificate backend does).
        found = await ctx.service(params.backend).submit(
            "/pending", {"id_number": run.state["id_number"],
                         "face_jpeg_b64": run.state.get("face_jpeg_b64", ""),
                         "liveness": run.state.get("liveness", {})},
            run.tx.idempotency_key("documents"))
    except BackendError as exc:
        if exc.status == 404:
            raise FlowFailure(Reason.NOTHING_TO_COLLECT) from exc
        raise _backend_failure(exc) from exc
    document = found["documents"][0]
    run.state["document"] = document
    # Journaled before the unit moves: which document, from which slot.
    run.ensure_quoted(0)
    run.txn.handing_over({"document_no": document["document_no"], "slot": document["slot"]})
    ctx.show(ScreenId.PROCESSING, status_key="collect.dispensing", busy=True)
    try:
        await dispenser.dispense()
    except DeviceError as exc:
        reason, problem = _DISPENSE_FAILURES.get(exc.reason, (Reason.DISPENSER_FAULT,
                                                              "dispenser_fault"))
        # The document has not left the unit: nothing is lost, staff are told.
        run.txn.not_handed_over(exc.reason.value)
        ctx.report_problem(problem, f"{document['document_no']}:slot{document['slot']}")
        await _handover(run, params, document, "not_dispensed")
        raise FlowFailure(reason) from exc
    ctx.show(ScreenId.PROCESSING, status_key="collect.take", busy=False)
    timeout = params.take_timeout_s
    try:
        handover = await dispenser.present(timeout)
    except DeviceError as exc:
        run.txn.needs_attention(f"handover_failed:{exc.reason.value}")
        ctx.report_problem("document_handover_failed", exc.reason.value)
        raise FlowFailure(Reason.DISPENSER_FAULT) from exc
    if handover is Handover.RETAINED:
        # Safe in the retain bin: journaled, the backend and the operators told.
        run.txn.handed_over("retained", "document_retained")
        ctx.report_problem("document_retained", document["document_no"])
        await _handover(run, params, document, "retained")
        raise FlowFailure(Reason.DOCUMENT_RETAINED)
    run.txn.handed_over("taken")
    await _handover(run, params, document, "taken")
    title = document["title"]
    run.state["result_lines"] = (_both("collect.taken", title=title.get("zh", "")),)
