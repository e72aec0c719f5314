"""The kiosk's devices from its configuration, and the manager that watches their health."""

from __future__ import annotations

from pathlib import Path

from kiosk.availability import DeviceState
from kiosk.config import KioskConfig
from kiosk.flow import Devices
from peripherals.a4_printer import A4PrinterService
from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.camera_scanner import CameraScannerService
from peripherals.device_manager import (
    DeviceManager,
    FaceCameraPeripheral,
    IdCardReaderPeripheral,
    PermitReaderPeripheral,
)
from peripherals.dispenser import DispenserService
from peripherals.document_camera import DocumentCameraService
from peripherals.face_camera import FaceCameraService
from peripherals.health import Peripheral
from peripherals.idcard_reader import IdCardReaderService
from peripherals.permit_reader import PermitReaderService
from peripherals.receipt_printer import ReceiptPrinterService


def build_devices(config: KioskConfig) -> Devices:
    d = config.devices
    return Devices(
        permit_reader=PermitReaderService(
            d.card_reader, csca_store=Path(d.csca_store) if d.csca_store else None),
        face_camera=FaceCameraService(d.face_camera_url),
        # A short time-out: a silent printer is noticed in about a second.
        receipt_printer=ReceiptPrinterService.from_endpoint(
            {"host": d.printer_host, "port": d.printer_port}, timeout=1.0),
        idcard_reader=IdCardReaderService(d.idcard_reader_port) if d.idcard_reader_port
        else None,
        barcode_scanner=BarcodeScannerService(d.barcode_scanner_port)
        if d.barcode_scanner_port else None,
        dispenser=DispenserService(d.dispenser_port) if d.dispenser_port else None,
        document_camera=DocumentCameraService(d.document_camera_url)
        if d.document_camera_url else None,
        a4_printer=A4PrinterService(d.a4_printer_uri) if d.a4_printer_uri else None,
    )


def camera_scanner_for(config: KioskConfig, devices: Devices) -> CameraScannerService | None:
    """Without a serial scanner, codes (bills, payment codes) are read from the face camera."""
    if devices.barcode_scanner is None and devices.face_camera is not None:
        return CameraScannerService(config.devices.face_camera_url)
    return None


def build_manager(devices: Devices) -> DeviceManager:
    """Every fitted device behind the uniform Peripheral shape, watched with reconnects."""
    watched: list[Peripheral] = []
    if devices.permit_reader is not None:
        watched.append(PermitReaderPeripheral(devices.permit_reader))
    if devices.face_camera is not None:
        watched.append(FaceCameraPeripheral(devices.face_camera))
    if devices.document_camera is not None:
        watched.append(FaceCameraPeripheral(devices.document_camera, name="document_camera"))
    if devices.idcard_reader is not None:
        watched.append(IdCardReaderPeripheral(devices.idcard_reader))
    for service in (devices.receipt_printer, devices.barcode_scanner, devices.dispenser,
                    devices.a4_printer):
        if service is not None:
            watched.append(service)
    return DeviceManager(watched)


def device_states(manager: DeviceManager) -> dict[str, DeviceState]:
    """Every fitted device's state; one not read yet (the kiosk is coming up) is not usable,
    so its items show dark until its first reading, then light up."""
    known = manager.snapshot()
    states = {}
    for name in manager.devices:
        status = known.get(name)
        if status is None:
            states[name] = DeviceState(False)
        else:
            reason = status.reason
            states[name] = DeviceState(status.health.usable, reason.value if reason else None)
    return states
