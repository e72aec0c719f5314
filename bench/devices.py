"""Unplug and replug each simulated peripheral under the device manager (default settings:
1 s polls, backoff 0.5 s doubling to 4 s) and time how long the kiosk takes to notice.

fault_detect_s: from the unplug to the manager's snapshot showing the device offline.
recover_s: from the replug to the device healthy and its service item offered again.
Each device is pulled `ROUNDS` times, at a random phase of the poll, and held out a random
2-6 s (so the replug lands at any point of the growing backoff; seeded, so runs repeat).
Prints one line per device, then one JSON object as the last line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.device_manager import DeviceManager, ServiceRequirements
from peripherals.dispenser import DispenserService
from peripherals.health import DeviceHealth
from peripherals.receipt_printer import ReceiptPrinterService
from simulator.barcode_scanner import BarcodeScannerSimulator
from simulator.dispenser import DispenserSimulator
from simulator.escpos_printer import EscposPrinterSimulator

ROUNDS = 4
HOLD_S = (2.0, 6.0)
_rng = random.Random(20240501)
TIMEOUT_S = 30.0


async def measure(manager: DeviceManager, name: str, sim, unplug, plug) -> tuple[float, float]:
    item = ServiceRequirements(frozenset({name}))
    await manager.wait_until(lambda s: s[name].health is DeviceHealth.OK, TIMEOUT_S)
    await asyncio.sleep(_rng.uniform(0.0, manager.poll_s))  # any phase of the poll
    started = time.monotonic()
    unplug()
    await manager.wait_until(lambda s: s[name].health is DeviceHealth.OFFLINE, TIMEOUT_S)
    detect = time.monotonic() - started
    await asyncio.sleep(_rng.uniform(*HOLD_S))
    started = time.monotonic()
    plug()
    await manager.wait_until(
        lambda s: s[name].health is DeviceHealth.OK and manager.availability(item).offered,
        TIMEOUT_S,
    )
    return detect, time.monotonic() - started


async def run(tmp: Path) -> dict:
    printer_sim = EscposPrinterSimulator(tmp / "receipts", serial_link=tmp / "ttyPRN")
    dispenser_sim = DispenserSimulator(tmp / "ttyDISP")
    scanner_sim = BarcodeScannerSimulator(tmp / "ttySCAN")
    for sim in (printer_sim, dispenser_sim, scanner_sim):
        await sim.start()
    endpoint = printer_sim.endpoint
    devices = [
        ReceiptPrinterService.from_endpoint(endpoint | {"transport": "tcp"}),
        ReceiptPrinterService.from_endpoint(
            endpoint | {"transport": "usb"},
            usb_backend=printer_sim.usb_backend,
            name="receipt_printer_usb",
        ),
        ReceiptPrinterService.from_endpoint(
            endpoint | {"transport": "serial"}, name="receipt_printer_serial"
        ),
        DispenserService(dispenser_sim.endpoint["port"]),
        BarcodeScannerService(scanner_sim.endpoint["port"]),
    ]
    manager = DeviceManager(devices)
    await manager.start()
    results: dict[str, dict[str, float]] = {}
    try:
        for device in devices:
            sim = {
                "dispenser": dispenser_sim,
                "barcode_scanner": scanner_sim,
            }.get(device.name, printer_sim)
            detects, recovers = [], []
            for _ in range(ROUNDS):
                detect, recover = await measure(manager, device.name, sim, sim.unplug, sim.plug)
                detects.append(detect)
                recovers.append(recover)
            results[device.name] = {
                "fault_detect_s_max": round(max(detects), 3),
                "fault_detect_s_mean": round(sum(detects) / len(detects), 3),
                "recover_s_max": round(max(recovers), 3),
                "recover_s_mean": round(sum(recovers) / len(recovers), 3),
            }
            print(device.name, json.dumps(results[device.name]), flush=True)
    finally:
        await manager.stop()
        for sim in (printer_sim, dispenser_sim, scanner_sim):
            await sim.stop()
    return results


def main() -> int:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as tmp:
        results = asyncio.run(run(Path(tmp)))
    summary = {
        "fault_detect_s_max": max(r["fault_detect_s_max"] for r in results.values()),
        "recover_s_max": max(r["recover_s_max"] for r in results.values()),
        "rounds": ROUNDS,
        "hold_s": HOLD_S,
        "per_device": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
