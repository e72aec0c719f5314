"""Self-tests of the selected peripherals and the test receipt, through the kiosk's own services.

Each test returns a `SelfTestResult`, never raises: a failing device is a line in the report
with a reason code (the same `DeviceReason` values the kiosk and the fleet use).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from drivers.camera import CameraError, VideoSource
from drivers.passive_auth import load_trust_store
from drivers.receipt_layout import Align
from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.dispenser import DispenserService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceHealth, Peripheral
from peripherals.idcard_reader import IdCardReaderService
from peripherals.permit_reader import PermitReaderService
from peripherals.receipt_printer import ReceiptDocument, ReceiptLine, ReceiptPrinterService
from provisioning.probe import DeviceSelection, FoundDevice, printer_address
from provisioning.profiles import DeviceKind


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"  # works, but needs attention soon (paper near end, dark image)
    FAIL = "fail"
    SKIPPED = "skipped"  # no test for this device (yet), or nothing to test

    @property
    def usable(self) -> bool:
        """The kiosk may be configured with a device whose self-test ended so."""
        return self in (Outcome.PASS, Outcome.WARN)


class Role(StrEnum):
    """What a self-tested thing is to the kiosk; serial roles share DeviceKind's values."""

    CHIP_READER = "chip_reader"
    RECEIPT_PRINTER = "receipt_printer"
    FACE_CAMERA = "face_camera"
    DOCUMENT_CAMERA = "document_camera"
    ID_CARD_READER = DeviceKind.ID_CARD_READER.value
    DISPENSER = DeviceKind.DISPENSER.value
    BARCODE_SCANNER = DeviceKind.BARCODE_SCANNER.value
    CSCA_STORE = "csca_store"  # the trusted CSCA certificates the chip reader checks against
    TEST_RECEIPT = "test_receipt"


@dataclass(frozen=True)
class SelfTestResult:
    device: Role
    address: str
    outcome: Outcome
    reason: str = ""  # a DeviceReason value when the device failed
    detail: str = ""
    seconds: float = 0.0


async def _timed(
    device: Role, address: str, test: Callable[[], Awaitable[tuple[Outcome, str, str]]]
) -> SelfTestResult:
    started = time.monotonic()
    try:
        outcome, reason, detail = await test()
    except DeviceError as exc:
        outcome, reason, detail = Outcome.FAIL, exc.reason.value, str(exc)
    except TimeoutError:
        outcome, reason, detail = Outcome.FAIL, DeviceReason.TIMEOUT.value, "no answer in time"
    return SelfTestResult(
        device, address, outcome, reason, detail, round(time.monotonic() - started, 3)
    )


async def check_chip_reader(reader: FoundDevice, timeout: float = 5.0) -> SelfTestResult:
    """The reader answers pcscd's status query (a card need not be present)."""

    async def run() -> tuple[Outcome, str, str]:
        service = PermitReaderService(reader.address)
        try:
            present = await asyncio.wait_for(service.card_present(), timeout)
        finally:
            service.close()
        return Outcome.PASS, "", "reader answers; " + ("a card is in it" if present else "empty")

    return await _timed(Role.CHIP_READER, reader.address, run)


async def check_printer(printer: FoundDevice, timeout: float = 3.0) -> SelfTestResult:
    """The kiosk's own receipt service asks the printer's real-time status (paper, cover,
    cutter, online), so provisioning and the kiosk judge a printer the same way."""
    host, port = printer_address(printer)

    async def run() -> tuple[Outcome, str, str]:
        return await _peripheral_self_test(ReceiptPrinterService(host, port, timeout=timeout))

    return await _timed(Role.RECEIPT_PRINTER, printer.address, run)


def _camera_frames(address: str, frames: int, timeout: float) -> tuple[Outcome, str, str]:
    # Frames are analysed here and dropped: nothing of them is kept or written.
    source: str | int = int(address) if address.isdigit() else address
    try:
        with VideoSource(source, open_timeout=timeout, read_timeout=timeout) as video:
            shots = [video.read() for _ in range(frames)]
    except CameraError as exc:
        return Outcome.FAIL, DeviceReason.CAMERA_UNAVAILABLE.value, exc.reason.value
    last = shots[-1]
    height, width = last.shape[:2]
    detail = f"{len(shots)} frames of {width}x{height}"
    if float(last.std()) < 2.0:
        return Outcome.WARN, "", detail + "; the image is uniform (lens covered or dark?)"
    return Outcome.PASS, "", detail


async def check_camera(
    camera: FoundDevice, frames: int = 3, timeout: float = 3.0, role: Role = Role.FACE_CAMERA
) -> SelfTestResult:
    async def run() -> tuple[Outcome, str, str]:
        return await asyncio.to_thread(_camera_frames, camera.address, frames, timeout)

    return await _timed(role, camera.address, run)


async def check_document_camera(camera: FoundDevice) -> SelfTestResult:
    return await check_camera(camera, role=Role.DOCUMENT_CAMERA)


def _trust_store(path: Path, now: datetime) -> tuple[Outcome, str, str]:
    try:
        certificates = load_trust_store(path)
    except OSError as exc:
        return Outcome.FAIL, "unreadable", f"cannot read {path}: {exc.strerror or exc}"
    current = [c for c in certificates if c.not_valid_after_utc > now]
    if not current:
        why = "expired" if certificates else "no certificate in it"
        return Outcome.FAIL, "no_trusted_certificate", f"{path}: {why}"
    until = min(c.not_valid_after_utc for c in current).date().isoformat()
    detail = f"{len(current)} CSCA certificate(s), the first expires {until}"
    if len(current) < len(certificates):
        return Outcome.WARN, "", detail + f"; {len(certificates) - len(current)} expired"
    return Outcome.PASS, "", detail


async def check_csca_store(path: Path) -> SelfTestResult:
    """The trust store loads and holds certificates that have not expired."""

    async def run() -> tuple[Outcome, str, str]:
        return await asyncio.to_thread(_trust_store, path, datetime.now(UTC))

    return await _timed(Role.CSCA_STORE, str(path), run)


# Serial devices whose service has the uniform `self_test()` (peripherals/health.py).
_SERIAL_SERVICES: dict[DeviceKind, Callable[[str], Peripheral]] = {
    DeviceKind.DISPENSER: DispenserService,
    DeviceKind.BARCODE_SCANNER: BarcodeScannerService,
    DeviceKind.ID_CARD_READER: IdCardReaderService,
}


async def _peripheral_self_test(service: Peripheral) -> tuple[Outcome, str, str]:
    try:
        result = await service.self_test()
    finally:
        await service.stop()
    status = result.status
    reason = status.reason.value if status.reason else ""
    supplies = ", ".join(f"{k}: {v}" for k, v in status.supplies.items())
    detail = "; ".join(p for p in (status.identity, supplies, result.detail) if p)
    if not result.passed:
        return Outcome.FAIL, reason or status.health.value, detail
    if status.health is DeviceHealth.DEGRADED:
        return Outcome.WARN, reason, detail
    return Outcome.PASS, "", detail


async def check_serial_device(device: FoundDevice) -> SelfTestResult:
    """The device's own service self-test, as the device it answered as (or was given for)."""
    kind = device.role_kind
    assert kind in _SERIAL_SERVICES, "select_devices keeps only the serial devices we know"
    service = _SERIAL_SERVICES[kind]

    async def run() -> tuple[Outcome, str, str]:
        return await _peripheral_self_test(service(device.address))

    return await _timed(Role(kind.value), device.address, run)


async def run_self_tests(
    selection: DeviceSelection,
    csca_store: Path | None = None,
    csca_required: bool = True,
    on_result: Callable[[SelfTestResult], None] | None = None,
) -> list[SelfTestResult]:
    """Every selected device, concurrently (`on_result` hears each as it ends); a required role
    with nothing to test is a FAIL line."""
    jobs: list[Awaitable[SelfTestResult]] = []
    missing: list[SelfTestResult] = []
    required = (
        (Role.CHIP_READER, selection.chip_reader, check_chip_reader,
         DeviceReason.READER_UNAVAILABLE),
        (Role.RECEIPT_PRINTER, selection.printer, check_printer, DeviceReason.PRINTER_OFFLINE),
        (Role.FACE_CAMERA, selection.face_camera, check_camera, DeviceReason.CAMERA_UNAVAILABLE),
    )  # fmt: skip
    for role, device, test, reason in required:
        if device is None:
            missing.append(SelfTestResult(role, "-", Outcome.FAIL, reason.value, "not found"))
        else:
            jobs.append(test(device))  # type: ignore[operator]
    if selection.document_camera is not None:
        jobs.append(check_document_camera(selection.document_camera))
    if csca_store is not None:
        jobs.append(check_csca_store(csca_store))
    elif csca_required:
        missing.append(
            SelfTestResult(
                Role.CSCA_STORE, "-", Outcome.FAIL, "missing",
                "none given: without CSCA certificates the kiosk refuses every travel-permit"
                " chip (--csca-store FILE)",
            )
        )  # fmt: skip
    jobs += [check_serial_device(device) for device in selection.serial_devices]
    results: list[SelfTestResult] = []
    for result in missing:
        results.append(result)
        if on_result is not None:
            on_result(result)
    for done in asyncio.as_completed(jobs):  # each device's line as soon as its test ends
        result = await done
        results.append(result)
        if on_result is not None:
            on_result(result)
    order = {role: i for i, role in enumerate(Role)}
    return sorted(results, key=lambda r: (order[r.device], r.address))


def self_test_receipt(
    kiosk_id: str, site: str, results: list[SelfTestResult], now: datetime
) -> ReceiptDocument:
    """What the technician tears off: the kiosk's identity and each self-test's outcome."""
    lines = [
        ReceiptLine("设备自检 Self-test", align=Align.CENTER, bold=True, double=True),
        ReceiptLine(f"Kiosk {kiosk_id}", align=Align.CENTER),
    ]
    if site:
        lines.append(ReceiptLine(site, align=Align.CENTER))
    lines += [ReceiptLine(now.strftime("%Y-%m-%d %H:%M:%S")), ReceiptLine("")]
    for result in results:
        lines.append(ReceiptLine(f"{result.device.value:<16} {result.outcome.value.upper()}"))
    lines += [ReceiptLine(""), ReceiptLine("打印正常 Printer OK", align=Align.CENTER, bold=True)]
    return ReceiptDocument(lines=tuple(lines), qr=f"kiosk:{kiosk_id}", qr_caption=kiosk_id)


async def print_test_receipt(
    printer: FoundDevice | None, document: ReceiptDocument, timeout: float = 10.0
) -> SelfTestResult:
    """Prints through the kiosk's receipt service, which checks paper and cover first."""
    if printer is None:
        return SelfTestResult(
            Role.TEST_RECEIPT, "-", Outcome.FAIL, DeviceReason.PRINTER_OFFLINE.value, "no printer"
        )
    host, port = printer_address(printer)

    async def run() -> tuple[Outcome, str, str]:
        service = ReceiptPrinterService(host, port)
        try:
            await asyncio.wait_for(service.print_receipt(document), timeout)
        finally:
            service.close()
        return Outcome.PASS, "", f"{len(document.lines)} lines and a QR code printed"

    return await _timed(Role.TEST_RECEIPT, printer.address, run)
