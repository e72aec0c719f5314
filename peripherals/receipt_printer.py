"""The receipt printer service: checks paper and cover, then prints a receipt document."""

from __future__ import annotations

from drivers.receipt_printer import (
    EscposReceiptPrinter,
    PrinterError,
    PrinterStatus,
    ReceiptDocument,
    ReceiptLine,
)
from peripherals.errors import DeviceError, DeviceReason
from peripherals.worker import DeviceWorker

__all__ = ["ReceiptDocument", "ReceiptLine", "ReceiptPrinterService"]

DEVICE = "receipt_printer"


class ReceiptPrinterService:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._worker = DeviceWorker(DEVICE)

    def _status(self, printer: EscposReceiptPrinter) -> PrinterStatus:
        status = printer.status()
        if status.paper_out:
            raise DeviceError(DEVICE, DeviceReason.PAPER_OUT)
        if status.cover_open:
            raise DeviceError(DEVICE, DeviceReason.COVER_OPEN)
        return status

    def _print(self, document: ReceiptDocument) -> None:
        printer = EscposReceiptPrinter(self.host, self.port, timeout=self.timeout)
        try:
            printer.connect()
            self._status(printer)
            printer.print_document(document)
        except PrinterError as exc:
            raise DeviceError(DEVICE, DeviceReason.PRINTER_OFFLINE, str(exc)) from exc
        finally:
            printer.close()

    async def print_receipt(self, document: ReceiptDocument) -> None:
        await self._worker.call(self._print, document)

    def close(self) -> None:
        self._worker.shutdown()
