"""The receipt printer service: status, supplies and health for the device manager, receipts for
the flows, and the bilingual receipt template (masked identifiers, transaction number as text
and QR code, the office's hotline).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from drivers.escpos_usb import UsbReceiptPrinter
from drivers.receipt_layout import Align, CjkMode, ReceiptDocument, ReceiptLine
from drivers.receipt_printer import (
    EscposReceiptPrinter,
    PrinterError,
    PrinterFailure,
    PrinterStatus,
    ReceiptPrinter,
    SerialReceiptPrinter,
)
from peripherals.base import DeviceService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import (
    DeviceEventKind,
    DeviceHealth,
    DeviceStatus,
    SelfTestResult,
    Supply,
    SupplyLevel,
    SupplyReading,
)

__all__ = [
    "Align",
    "Label",
    "ReceiptDocument",
    "ReceiptFacts",
    "ReceiptLine",
    "ReceiptPrinterService",
    "mask_identifier",
    "receipt_document",
]

log = logging.getLogger(__name__)

DEVICE = "receipt_printer"

_FAILURE_REASONS = {
    PrinterFailure.OFFLINE: DeviceReason.PRINTER_OFFLINE,
    PrinterFailure.NO_REPLY: DeviceReason.DEVICE_SILENT,
    PrinterFailure.PAPER_OUT: DeviceReason.PAPER_OUT,
    PrinterFailure.COVER_OPEN: DeviceReason.COVER_OPEN,
    PrinterFailure.CUTTER_ERROR: DeviceReason.CUTTER_ERROR,
    PrinterFailure.IO_ERROR: DeviceReason.GARBLED_RESPONSE,
}


def health_of(status: PrinterStatus) -> tuple[DeviceHealth, DeviceReason | None, SupplyLevel]:
    """(health, reason, paper supply) for a printer's own report."""
    paper = SupplyLevel.OUT if status.paper_out else \
        SupplyLevel.LOW if status.paper_near_end else SupplyLevel.OK
    if status.cover_open:
        return DeviceHealth.FAULT, DeviceReason.COVER_OPEN, paper
    if status.paper_out:
        return DeviceHealth.FAULT, DeviceReason.PAPER_OUT, paper
    if status.cutter_error:
        return DeviceHealth.FAULT, DeviceReason.CUTTER_ERROR, paper
    if not status.online:
        return DeviceHealth.FAULT, DeviceReason.PRINTER_OFFLINE, paper
    if status.paper_near_end:
        return DeviceHealth.DEGRADED, DeviceReason.PAPER_NEAR_END, paper
    return DeviceHealth.OK, None, paper


class ReceiptPrinterService(DeviceService):
    """One receipt printer on its own worker thread; every driver call runs there."""

    kind = "escpos_printer"

    def __init__(
        self,
        host: str | None = None,
        port: int = 9100,
        timeout: float = 5.0,
        *,
        printer: ReceiptPrinter | None = None,
        name: str = DEVICE,
    ) -> None:
        if printer is None:
            if host is None:
                raise ValueError("give a host or a printer")
            printer = EscposReceiptPrinter(host, port, timeout=timeout)
        self.printer = printer
        super().__init__(name, printer.address)

    @classmethod
    def from_endpoint(
        cls,
        endpoint: dict[str, Any],  # Any: the configuration's endpoint table, as TOML gives it
        *,
        timeout: float = 1.0,
        usb_backend: object | None = None,
        cjk: CjkMode = CjkMode.CODE_PAGE,
        name: str = DEVICE,
    ) -> ReceiptPrinterService:
        """From `{"host", "port"}`, `{"serial_port"}` or `{"usb": {"vendor_id", "product_id"}}`
        (the first present wins in that order: serial, usb, tcp when `transport` is absent;
        `transport` may say "tcp", "serial" or "usb")."""
        transport = endpoint.get("transport") or (
            "serial" if "serial_port" in endpoint else "usb" if "host" not in endpoint else "tcp"
        )
        printer: ReceiptPrinter
        if transport == "serial":
            printer = SerialReceiptPrinter(endpoint["serial_port"], timeout=timeout, cjk=cjk)
        elif transport == "usb":
            usb = endpoint["usb"]
            printer = UsbReceiptPrinter(
                int(usb["vendor_id"]), int(usb["product_id"]), timeout, usb_backend, cjk=cjk
            )
        else:
            printer = EscposReceiptPrinter(
                endpoint["host"], int(endpoint["port"]), timeout=timeout, cjk=cjk
            )
        return cls(printer=printer, name=name)

    # -- Peripheral (the rest is DeviceService's) ----------------------------------------------

    async def self_test(self, print_test_page: bool = False) -> SelfTestResult:
        """A status round trip; with `print_test_page`, also a short receipt (provisioning)."""
        status = await self.refresh()
        detail = ""
        if print_test_page and status.health.usable:
            try:
                await self.print_receipt(self_test_page(status.identity))
                detail = "test page printed"
            except DeviceError as exc:
                detail = f"test page failed: {exc.reason.value}"
                status = self.status()
        result = SelfTestResult(
            self.name, status.health.usable and "failed" not in detail, status, detail
        )
        self._keeper.emit(DeviceEventKind.SELF_TEST, detail or status.health.value)
        return result

    # -- printing ---------------------------------------------------------------------------

    async def print_receipt(self, document: ReceiptDocument) -> None:
        """Prints one receipt; DeviceError with the reason when it could not be printed."""
        await self._worker.call(self._print, document)

    def close(self) -> None:
        """Stops the worker and hangs up (a print still running on the worker may fail)."""
        super().close()
        self.printer.close()

    # -- on the worker thread ---------------------------------------------------------------

    def _hang_up(self) -> None:
        self.printer.close()

    def _refresh(self) -> DeviceStatus:
        try:
            return self._record(self.printer.status())
        except PrinterError as exc:
            return self._record_failure(exc)

    def _record(self, state: PrinterStatus) -> DeviceStatus:
        health, reason, paper = health_of(state)
        return self._answered(health, reason, {Supply.PAPER: SupplyReading(paper)})

    def _record_failure(self, exc: PrinterError) -> DeviceStatus:
        reason = _FAILURE_REASONS[exc.reason]
        if exc.reason in (PrinterFailure.OFFLINE, PrinterFailure.NO_REPLY):
            return self._lost(reason, supplies={Supply.PAPER: SupplyReading(SupplyLevel.UNKNOWN)})
        if exc.reason is PrinterFailure.IO_ERROR:
            return self._faulty(reason)
        return self._faulty(reason, {Supply.PAPER: SupplyReading(SupplyLevel.OUT)}
                            if exc.reason is PrinterFailure.PAPER_OUT else None)

    def _print(self, document: ReceiptDocument) -> None:
        try:
            self.printer.print_document(document)
        except PrinterError as exc:
            self._keeper.count("print_failures")
            self._record_failure(exc)
            raise DeviceError(self.name, _FAILURE_REASONS[exc.reason], str(exc)) from exc
        self._keeper.count("receipts_printed")


def self_test_page(identity: str) -> ReceiptDocument:
    return ReceiptDocument(
        (
            ReceiptLine("打印机自检 Printer self-test", Align.CENTER, bold=True),
            ReceiptLine(identity, Align.CENTER),
            ReceiptLine(time.strftime("%Y-%m-%d %H:%M:%S"), Align.CENTER),
        )
    )


# -- the receipt template ---------------------------------------------------------------------


def mask_identifier(value: str, keep_end: int = 2) -> str:
    """`C12345678` -> `*******78` (the kiosk's masking rule); short values are masked whole."""
    if len(value) <= keep_end + 2:
        return "*" * len(value)
    return "*" * (len(value) - keep_end) + value[-keep_end:]


@dataclass(frozen=True)
class Label:
    zh: str
    en: str

    def text(self, languages: tuple[str, ...]) -> str:
        return " ".join(getattr(self, language) for language in languages)


@dataclass(frozen=True)
class ReceiptFacts:
    """What a transaction receipt says. Identifiers are given in clear and printed masked."""

    title: Label
    transaction_no: str
    kiosk_id: str
    office_hotline: str
    issued_at: str  # already formatted local time
    items: tuple[tuple[Label, str], ...] = ()
    identifiers: tuple[tuple[Label, str], ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        masked = tuple((label, mask_identifier(value)) for label, value in self.identifiers)
        return (
            f"ReceiptFacts(title={self.title!r}, transaction_no={self.transaction_no!r}, "
            f"items={self.items!r}, identifiers={masked!r})"
        )


RULE = "-" * 32
TRANSACTION = Label("交易号", "Transaction")
KIOSK = Label("终端", "Kiosk")
TIME = Label("时间", "Time")
HOTLINE = Label("咨询电话", "Hotline")
SCAN_TO_TRACK = Label("扫码查询", "Scan to track")


def receipt_document(facts: ReceiptFacts, languages: tuple[str, ...] = ("zh", "en")) -> ReceiptDocument:  # fmt: skip
    """The printed receipt for `facts` in the given languages ("zh", "en" or both)."""
    if not languages or any(language not in ("zh", "en") for language in languages):
        raise ValueError("languages must be a non-empty selection of 'zh' and 'en'")
    lines = [ReceiptLine(getattr(facts.title, languages[0]), Align.CENTER, bold=True, double=True)]
    lines += [ReceiptLine(getattr(facts.title, lang), Align.CENTER) for lang in languages[1:]]
    lines.append(ReceiptLine(RULE))
    for label, value in facts.identifiers:
        lines.append(ReceiptLine(f"{label.text(languages)}: {mask_identifier(value)}"))
    for label, value in facts.items:
        lines.append(ReceiptLine(f"{label.text(languages)}: {value}"))
    lines += [
        ReceiptLine(f"{TRANSACTION.text(languages)}: {facts.transaction_no}"),
        ReceiptLine(f"{KIOSK.text(languages)}: {facts.kiosk_id}"),
        ReceiptLine(f"{TIME.text(languages)}: {facts.issued_at}"),
        ReceiptLine(RULE),
        ReceiptLine(f"{HOTLINE.text(languages)}: {facts.office_hotline}", Align.CENTER),
    ]
    return ReceiptDocument(
        tuple(lines),
        qr=facts.transaction_no,
        qr_caption=f"{SCAN_TO_TRACK.text(languages)} {facts.transaction_no}",
    )
