"""Every step a catalog item may name, listed here and nowhere else: what runs and the
parameters it declares (kiosk.step_declarations). The catalog is checked against this library
when it is accepted (kiosk.catalog); the flow engine runs its steps from it."""

from __future__ import annotations

from kiosk import evaluation, steps, steps_documents, steps_mrz, steps_services
from kiosk import step_declarations as declared
from kiosk.step_params import StepDef, StepLibrary

STEP_LIBRARY: StepLibrary = {definition.name: definition for definition in (
    # Identity and documents
    StepDef("mrz_from_page", steps_mrz.mrz_from_page, declared.MrzFromPageParams),
    StepDef("read_permit", steps.read_permit, declared.ReadPermitParams),
    StepDef("read_idcard", steps.read_idcard, declared.NoParams),
    StepDef("capture_face", steps.capture_face, declared.NoParams),
    StepDef("scan_materials", steps.scan_materials, declared.ScanMaterialsParams),
    StepDef("identify_or_scan", steps_services.identify_or_scan, declared.IdentifyOrScanParams),
    # What the citizen tells the kiosk
    StepDef("choose_option", steps.choose_option, declared.ChooseOptionParams),
    StepDef("enter_account", steps.enter_account, declared.EnterAccountParams),
    StepDef("enter_phone", steps_services.enter_phone, declared.EnterPhoneParams),
    # Backends, money and the side effect
    StepDef("lookup", steps.lookup, declared.LookupParams),
    StepDef("confirm_amount", steps.confirm_amount, declared.ConfirmAmountParams),
    StepDef("pay", steps.pay, declared.PayParams),
    StepDef("submit", steps.submit, declared.SubmitParams),
    StepDef("progress_lookup", steps_services.progress_lookup, declared.ProgressLookupParams),
    StepDef("progress_show", steps_services.progress_show, declared.ProgressShowParams),
    StepDef("queue_ticket", steps_services.queue_ticket, declared.QueueTicketParams),
    # What the citizen takes away
    StepDef("print_receipt", steps.print_receipt, declared.PrintReceiptParams),
    StepDef("print_slip", steps_services.print_slip_step, declared.PrintSlipParams),
    StepDef("print_certificate", steps_documents.print_certificate,
            declared.PrintCertificateParams),
    StepDef("collect_document", steps_documents.collect_document, declared.CollectDocumentParams),
    StepDef("show_result", steps.show_result, declared.ShowResultParams),
    StepDef("rate_service", evaluation.rate_service, declared.RateServiceParams),
)}

__all__ = ["STEP_LIBRARY"]
