"""What every service flow shares: its context (devices, clients, journal, view) and its failures."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.backends import ExitEntryClient, PaymentClient
from kiosk.config import KioskConfig
from kiosk.journal import Journal
from kiosk.viewmodel import ScreenId, SessionView
from peripherals.face_camera import FaceCameraService
from peripherals.permit_reader import PermitReaderService
from peripherals.receipt_printer import ReceiptPrinterService


class Reason(StrEnum):
    """Why a flow ended without success: the citizen's message key and the operator's code."""

    CARD_REMOVED = "card_removed"
    CARD_UNREADABLE = "card_unreadable"
    CARD_TIMEOUT = "card_timeout"
    READER_FAULT = "reader_fault"
    FACE_TIMEOUT = "face_timeout"
    CAMERA_FAULT = "camera_fault"
    PAYMENT_TIMEOUT = "payment_timeout"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    BACKEND_REJECTED = "backend_rejected"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"


class FlowFailure(Exception):
    def __init__(self, reason: Reason, charged: bool = False, **params: Any) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.charged = charged
        self.params = params


@dataclass
class Devices:
    permit_reader: PermitReaderService
    face_camera: FaceCameraService
    receipt_printer: ReceiptPrinterService

    def close(self) -> None:
        self.permit_reader.close()
        self.face_camera.close()
        self.receipt_printer.close()


@dataclass
class FlowContext:
    config: KioskConfig
    view: SessionView
    journal: Journal
    devices: Devices
    payment: PaymentClient
    exit_entry: ExitEntryClient
    subject_key: bytes  # key of the pseudonyms written to the journal
    _choice: asyncio.Future[str] | None = field(default=None, repr=False)

    def show(self, screen: ScreenId, **changes: Any) -> None:
        self.view.update(screen=screen, **changes)

    async def wait_choice(self, timeout: float | None = None) -> str:
        self._choice = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self._choice, timeout)
        finally:
            self._choice = None

    def offer_choice(self, code: str) -> None:
        if self._choice is not None and not self._choice.done():
            self._choice.set_result(code)
