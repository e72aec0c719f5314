"""The kiosk's devices from its configuration, and the manager that watches their health."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.flow import Devices
from peripherals.a4_printer import A4PrinterService
from peripherals.barcode_scanner import BarcodeScannerService
from peripherals.camera_scanner import CameraScannerService
from peripherals.device_manager import DeviceManager
from peripherals.dispenser import DispenserService
from peripherals.document_camera import DocumentCameraService
from peripherals.face_camera import FaceCameraService
from peripherals.health import DeviceStatus, Peripheral
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
        document_camera=DocumentCameraService(d.document_camera_url,
                                              full_url=d.document_camera_full_url)
        if d.document_camera_url else None,
        a4_printer=A4PrinterService(d.a4_printer_uri) if d.a4_printer_uri else None,
    )


def camera_scanner_for(config: KioskConfig, devices: Devices) -> CameraScannerService | None:
    """Without a serial scanner, codes (bills, payment codes) are read from the face camera."""
    if devices.barcode_scanner is None and devices.face_camera is not None:
        return CameraScannerService(config.devices.face_camera_url)
    return None


def build_manager(devices: Devices) -> DeviceManager:
    """Every fitted device (each a DeviceService), watched with reconnects."""
    fitted: list[Peripheral | None] = [
        devices.permit_reader, devices.face_camera, devices.document_camera,
        devices.idcard_reader, devices.receipt_printer, devices.barcode_scanner,
        devices.dispenser, devices.a4_printer,
    ]
    watched = [device for device in fitted if device is not None]
    return DeviceManager(watched)


def device_statuses(manager: DeviceManager) -> dict[str, DeviceStatus]:
    """Every fitted device's status; one not read yet (the kiosk is coming up) shows the status
    it starts with, offline, so its items show dark until its first reading, then light up."""
    known = manager.snapshot()
    return {name: known.get(name) or device.status() for name, device in manager.devices.items()}
