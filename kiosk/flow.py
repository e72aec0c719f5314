"""What every service flow shares: its context (devices, clients, journal, view) and failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.backends import PaymentClient, ServiceClient
from kiosk.config import KioskConfig
from kiosk.fleet_channel import FleetChannel
from kiosk.journal import Journal
from kiosk.step_trace import StepTrace
from kiosk.tasks import TaskSupervisor
from kiosk.transaction import TransactionCore
from kiosk.viewmodel import ScreenId, SessionView
from peripherals.a4_printer import A4PrinterService
from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.camera_scanner import CameraScannerService
from peripherals.dispenser import DispenserService
from peripherals.document_camera import DocumentCameraService
from peripherals.face_camera import FaceCameraService
from peripherals.idcard_reader import IdCardReaderService
from peripherals.permit_reader import PermitReaderService
from peripherals.receipt_printer import ReceiptPrinterService
from wire.reports import EvaluationReport

log = logging.getLogger(__name__)


class Reason(StrEnum):
    """Why a flow ended without success: the citizen's message key and the operator's code."""

    CARD_REMOVED = "card_removed"
    CARD_UNREADABLE = "card_unreadable"
    CARD_TIMEOUT = "card_timeout"
    AUTHENTICATION_REFUSED = "authentication_refused"
    PAGE_KEYS_REFUSED = "page_keys_refused"  # the chip refused the keys its data page gave
    TYPED_KEYS_REFUSED = "typed_keys_refused"  # the chip refused the keys the citizen typed
    DATA_PAGE_UNREAD = "data_page_unread"  # no MRZ from the page, and no keypad offered
    INTEGRITY_FAILED = "integrity_failed"
    CHIP_NOT_GENUINE = "chip_not_genuine"  # active authentication failed (a copied chip?)
    DOCUMENT_EXPIRED = "document_expired"
    READER_FAULT = "reader_fault"
    FACE_TIMEOUT = "face_timeout"
    CAMERA_FAULT = "camera_fault"
    PAYMENT_TIMEOUT = "payment_timeout"
    PAYMENT_DECLINED = "payment_declined"
    NOTHING_DUE = "nothing_due"
    NOT_FOUND = "not_found"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    BACKEND_REJECTED = "backend_rejected"
    REFUNDED = "refunded"
    PRINT_FAILED = "print_failed"
    DEVICE_MISSING = "device_missing"
    NO_PAGE = "no_page"
    STEP_TIMEOUT = "step_timeout"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"  # a bug: the ending is still settled and told truthfully
    # The service hall's items (kiosk.steps_services, kiosk.steps_documents).
    NO_APPLICATIONS = "no_applications"
    NO_APPOINTMENT = "no_appointment"
    NOTHING_TO_COLLECT = "nothing_to_collect"
    DOCUMENT_SLOT_EMPTY = "document_slot_empty"
    DISPENSER_FAULT = "dispenser_fault"
    DOCUMENT_RETAINED = "document_retained"


class FlowFailure(Exception):
    """Why a flow stops. What it means for the citizen's money is for the transaction core to
    settle and say (kiosk.transaction.citizen_message), not for the step that failed."""

    def __init__(self, reason: Reason, **params: object) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.params = params


@dataclass
class Devices:
    """The kiosk's device services; a kiosk without some device has None there."""

    permit_reader: PermitReaderService | None = None
    face_camera: FaceCameraService | None = None
    receipt_printer: ReceiptPrinterService | None = None
    idcard_reader: IdCardReaderService | None = None
    barcode_scanner: BarcodeScannerService | None = None
    dispenser: DispenserService | None = None
    document_camera: DocumentCameraService | None = None
    a4_printer: A4PrinterService | None = None  # IPP, for certificates

    def names(self) -> frozenset[str]:
        return frozenset(name for name in ("permit_reader", "face_camera", "receipt_printer",
                                           "idcard_reader", "barcode_scanner", "dispenser",
                                           "document_camera", "a4_printer")
                         if getattr(self, name) is not None)

    def close(self) -> None:
        for name in self.names():
            close = getattr(getattr(self, name), "close", None)
            if close is not None:
                close()


@dataclass
class FlowContext:
    config: KioskConfig
    view: SessionView
    transactions: TransactionCore  # owns every transaction and the journal's writes
    devices: Devices
    payment: PaymentClient
    services: dict[str, ServiceClient]  # backend name -> client
    subject_key: bytes  # key of the pseudonyms written to the journal
    scans: asyncio.Queue[str] = field(default_factory=asyncio.Queue)  # codes from scanners
    camera_scanner: CameraScannerService | None = None  # codes from camera frames, when no serial scanner is fitted
    # What the kiosk tells the fleet and asks of it (kiosk.fleet_channel): the fleet link
    # connects to it when it runs.
    fleet_channel: FleetChannel = field(default_factory=FleetChannel)
    # Where each step's time goes (kiosk.step_trace): bench.transaction reads it.
    trace: StepTrace = field(default_factory=StepTrace)
    _choice: asyncio.Future[str] | None = field(default=None, repr=False)
    # The kiosk's background tasks (kiosk.tasks): a one-off task that fails is a problem the
    # operators hear of.
    tasks: TaskSupervisor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tasks = TaskSupervisor(escalate=self.fleet_channel.problem)

    def report_problem(self, kind: str, reason: str) -> None:
        """A problem the operators must hear of at once (a retained document, a 差评)."""
        self.fleet_channel.problem(kind, reason)

    def report_evaluation(self, report: EvaluationReport) -> None:
        """Every rating (好差评) for the fleet's satisfaction figures, without the comment."""
        self.fleet_channel.evaluation(report)

    @property
    def journal(self) -> Journal:
        """The journal, to read (only the transaction core writes it)."""
        return self.transactions.journal

    def show(self, screen: ScreenId, **changes: object) -> None:
        self.view.update(screen=screen, **changes)

    async def wait_choice(self, timeout: float | None = None) -> str:
        return await self.listen_for_choice(timeout)

    def listen_for_choice(self, timeout: float | None = None) -> Awaitable[str]:
        """Listens for the citizen's choice from this call on, not from when the awaitable
        first runs: a step that waits for a choice and something else at once (a card, a
        scanned code) wraps it in a task, and a press in the instant before that task ran was
        lost (the citizen pressed OK and nothing happened)."""
        choice: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._choice = choice

        async def wait() -> str:
            try:
                return await asyncio.wait_for(choice, timeout)
            finally:
                if self._choice is choice:
                    self._choice = None

        return wait()

    def offer_choice(self, code: str) -> None:
        if self._choice is not None and not self._choice.done():
            self._choice.set_result(code)

    @contextlib.asynccontextmanager
    async def watch_codes(self) -> AsyncIterator[None]:
        """While a step waits for a code: a kiosk without a serial scanner reads the camera."""
        scanner = self.camera_scanner
        if scanner is None:
            yield
            return
        scanner.start(lambda event: self.scans.put_nowait(event.data))
        try:
            yield
        finally:
            try:
                await scanner.stop()
            except Exception:  # a camera that failed mid-watch must not fail the step after it
                log.warning("camera scanner stopped with an error", exc_info=True)

    def service(self, name: str) -> ServiceClient:
        try:
            return self.services[name]
        except KeyError:
            raise FlowFailure(Reason.BACKEND_UNAVAILABLE) from None
