"""Three simulated peripherals on their real transports, their services, and a fast manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.device_manager import DeviceManager
from peripherals.dispenser import DispenserService
from peripherals.health import DeviceEvent
from peripherals.receipt_printer import ReceiptPrinterService
from simulator.barcode_scanner import BarcodeScannerSimulator
from simulator.dispenser import DispenserSimulator
from simulator.escpos_printer import EscposPrinterSimulator


@dataclass
class Rig:
    printer_sim: EscposPrinterSimulator
    dispenser_sim: DispenserSimulator
    scanner_sim: BarcodeScannerSimulator
    printer: ReceiptPrinterService
    dispenser: DispenserService
    scanner: BarcodeScannerService
    manager: DeviceManager
    events: list[DeviceEvent]

    def sim(self, device: str):
        return {
            "receipt_printer": self.printer_sim,
            "dispenser": self.dispenser_sim,
            "barcode_scanner": self.scanner_sim,
        }[device]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    printer_sim = EscposPrinterSimulator(tmp_path / "receipts")
    dispenser_sim = DispenserSimulator(tmp_path / "ttyDISP", stock=50, stock_low=5)
    scanner_sim = BarcodeScannerSimulator(tmp_path / "ttySCAN")
    for sim in (printer_sim, dispenser_sim, scanner_sim):
        await sim.start()
    printer = ReceiptPrinterService.from_endpoint(printer_sim.endpoint | {"transport": "tcp"},
                                                  timeout=0.3)  # fmt: skip
    dispenser = DispenserService(dispenser_sim.endpoint["port"], ack_timeout=0.3, take_poll_s=0.05)
    scanner = BarcodeScannerService(scanner_sim.endpoint["port"], timeout=0.3, read_slice_s=0.1)
    manager = DeviceManager(
        [printer, dispenser, scanner], poll_s=0.2, backoff_initial_s=0.1, backoff_max_s=0.4
    )
    events: list[DeviceEvent] = []
    manager.subscribe(events.append)
    await manager.start()
    yield Rig(printer_sim, dispenser_sim, scanner_sim, printer, dispenser, scanner, manager, events)
    await manager.stop()
    for sim in (printer_sim, dispenser_sim, scanner_sim):
        await sim.stop()
