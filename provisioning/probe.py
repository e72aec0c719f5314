"""Finds the kiosk's hardware: serial ports, USB devices, PC/SC readers, printers, cameras.

Every look runs in a worker thread with a short time-out, and a subsystem that cannot be looked
at (no libusb backend, pcscd down, no camera) becomes a note in the result, never an exception:
the technician gets a report of what is there and what could not be checked. Serial ports are
identified by what answers on them in which protocol (provisioning/identify.py), never by their
name: a port given for one device that answers as another is refused.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
from dataclasses import dataclass, field, replace

from drivers import pcsc
from drivers.camera import CameraError, VideoSource
from drivers.receipt_printer import EscposReceiptPrinter, PrinterError
from provisioning.identify import identify_serial
from provisioning.profiles import (
    BY_KEY,
    SERIAL_ROLE_OF,
    DeviceKind,
    DeviceProfile,
    Transport,
    match_reader,
    match_serial,
    match_usb,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeTargets:
    """What to look at beyond what the system lists by itself."""

    serial_paths: tuple[tuple[str, DeviceKind | None], ...] = ()  # (path, the device expected)
    printers: tuple[tuple[str, int], ...] = ()  # network ESC/POS printers
    cameras: tuple[str | int, ...] = ()  # face camera: stream URLs or device indexes
    document_camera: str | int | None = None
    scan_system: bool = True  # list serial ports, USB devices and /dev/video*
    camera_timeout_s: float = 3.0
    printer_timeout_s: float = 2.0
    serial_timeout_s: float = 0.4  # per protocol asked on a serial port


@dataclass(frozen=True)
class FoundDevice:
    """One device the probe saw (ok) or was told about and could not reach (not ok)."""

    kind: DeviceKind | None
    transport: Transport
    address: str
    profile: str | None = None
    model: str = "unknown"
    detail: str = ""
    ok: bool = True
    simulated: bool = False
    expected: DeviceKind | None = None  # serial: the device the port was given for

    @property
    def role_kind(self) -> DeviceKind | None:
        """The device this entry is configured as: what answered, else what was expected."""
        return self.kind if self.kind is not None else self.expected

    @property
    def refusal(self) -> str | None:
        """Why this port is not used: it answers as another device than it was given for."""
        if self.kind is None or self.expected is None or self.kind is self.expected:
            return None
        answered, expected = SERIAL_ROLE_OF[self.kind], SERIAL_ROLE_OF[self.expected]
        return f"port {self.address} answers as {answered.title}, not {expected.title}"


@dataclass(frozen=True)
class SubsystemNote:
    subsystem: str
    available: bool
    detail: str = ""


@dataclass(frozen=True)
class ProbeResult:
    devices: tuple[FoundDevice, ...]
    notes: tuple[SubsystemNote, ...]

    def of_kind(self, kind: DeviceKind, *, reachable: bool = True) -> list[FoundDevice]:
        return [d for d in self.devices if d.kind is kind and (d.ok or not reachable)]


@dataclass(frozen=True)
class DeviceSelection:
    """The one device per role the kiosk will be configured with (None: none found)."""

    chip_reader: FoundDevice | None
    printer: FoundDevice | None
    face_camera: FoundDevice | None
    serial_devices: tuple[FoundDevice, ...] = field(default=())
    document_camera: FoundDevice | None = None
    refused: tuple[FoundDevice, ...] = field(default=())  # serial ports given for another device


def _profile_fields(profile: DeviceProfile | None) -> dict:
    if profile is None:
        return {"kind": None, "profile": None, "model": "unknown"}
    return {
        "kind": profile.kind,
        "profile": profile.key,
        "model": f"{profile.vendor} {profile.model}",
        "simulated": profile.simulated,
    }


# -- serial ----------------------------------------------------------------------------------


def _serial_found(
    path: str, expected: DeviceKind | None, timeout: float, detail: str = ""
) -> FoundDevice:
    """One serial port, identified by what answers on it."""
    first = expected
    if first is None:
        guess = match_serial(detail)  # the port's own description only orders the questions
        first = guess.kind if guess is not None else None
    answer = identify_serial(path, first, timeout)
    profile = SERIAL_ROLE_OF[answer.kind].profile if answer.kind is not None else None
    if answer.kind is not None:
        said = f"answers as {SERIAL_ROLE_OF[answer.kind].title}: {answer.detail}"
    else:
        said = answer.detail
    return FoundDevice(
        transport=Transport.SERIAL,
        address=path,
        detail="; ".join(p for p in (detail, said) if p),
        ok=answer.kind is not None,
        expected=expected,
        **_profile_fields(profile),
    )


def probe_serial(
    paths: tuple[tuple[str, DeviceKind | None], ...], scan: bool, timeout: float = 0.4
) -> list[FoundDevice]:
    """The given ports and (with `scan`) the system's, each asked in its own thread."""
    from concurrent.futures import ThreadPoolExecutor

    from serial.tools import list_ports  # type: ignore[import-untyped]

    jobs: list[tuple[str, DeviceKind | None, str]] = []
    seen: set[str] = set()
    for path, expected in paths:
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            jobs.append((path, expected, ""))
    if scan:
        for port in list_ports.comports():
            if port.vid is None and not port.description.strip("n/a "):
                continue  # legacy 8250 ports with nothing behind them: not worth asking
            if os.path.realpath(port.device) in seen:
                continue
            seen.add(os.path.realpath(port.device))
            ids = f" {port.vid:04x}:{port.pid:04x}" if port.vid is not None else ""
            jobs.append((port.device, None, f"{port.description}{ids}".strip()))
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="probe-serial") as pool:
        return list(pool.map(lambda job: _serial_found(job[0], job[1], timeout, job[2]), jobs))


# -- USB -------------------------------------------------------------------------------------


def probe_usb() -> tuple[list[FoundDevice], SubsystemNote]:
    try:
        import usb.backend.libusb1  # type: ignore[import-untyped]
        import usb.core  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - pyusb is a dependency
        return [], SubsystemNote("usb", False, f"pyusb missing: {exc}")
    backend = usb.backend.libusb1.get_backend()
    if backend is None:
        return [], SubsystemNote("usb", False, "no libusb backend (install libusb-1.0-0)")
    try:
        devices = list(usb.core.find(find_all=True, backend=backend))
    except usb.core.NoBackendError:
        return [], SubsystemNote("usb", False, "no libusb backend (install libusb-1.0-0)")
    except (usb.core.USBError, OSError) as exc:
        return [], SubsystemNote("usb", False, f"cannot list USB devices: {exc}")
    found = []
    for device in devices:
        vid, pid = device.idVendor, device.idProduct
        profile = match_usb(vid, pid)
        if profile is None and device.bDeviceClass == 0x09:
            continue  # hubs are not peripherals
        found.append(
            FoundDevice(
                transport=Transport.USB,
                address=f"usb:{device.bus:03d}:{device.address:03d}",
                detail=f"{vid:04x}:{pid:04x}",
                **_profile_fields(profile),
            )
        )
    return found, SubsystemNote("usb", True, f"{len(devices)} device(s) on the bus")


# -- PC/SC -----------------------------------------------------------------------------------


def probe_readers() -> tuple[list[FoundDevice], SubsystemNote]:
    try:
        names = pcsc.list_readers()
    except pcsc.PcscError as exc:
        return [], SubsystemNote("pcsc", False, f"{exc.reason.value}: is pcscd running?")
    found = [
        FoundDevice(
            transport=Transport.PCSC,
            address=name,
            **(
                _profile_fields(match_reader(name))
                if match_reader(name)
                else {"kind": DeviceKind.CHIP_READER, "model": "unknown CCID reader"}
            ),
        )
        for name in names
    ]
    return found, SubsystemNote("pcsc", True, f"{len(names)} reader(s)")


# -- network printers ------------------------------------------------------------------------


def probe_printer(host: str, port: int, timeout: float) -> FoundDevice:
    printer = EscposReceiptPrinter(host, port, timeout=timeout)

    def found(detail: str, ok: bool = True) -> FoundDevice:
        profile = BY_KEY["escpos-network"]
        return FoundDevice(
            kind=DeviceKind.RECEIPT_PRINTER,
            transport=Transport.TCP,
            address=f"tcp://{host}:{port}",
            profile=profile.key,
            model=profile.model,
            detail=detail,
            ok=ok,
        )

    try:
        status = printer.status()
    except PrinterError as exc:
        return found(f"{exc.reason.value}: {exc}", ok=False)
    finally:
        printer.close()
    flags = [
        name
        for name, on in (
            ("offline", not status.online),
            ("cover open", status.cover_open),
            ("paper near end", status.paper_near_end),
            ("paper out", status.paper_out),
        )
        if on
    ]
    return found("answers status; " + (", ".join(flags) or "ready"))


# -- cameras ---------------------------------------------------------------------------------


def probe_camera(source: str | int, timeout: float) -> FoundDevice:
    def found(detail: str, ok: bool = True) -> FoundDevice:
        profile = BY_KEY["mjpeg-camera"]
        return FoundDevice(
            kind=DeviceKind.CAMERA,
            transport=Transport.VIDEO,
            address=str(source),  # a local device is its index, as text: "0" for /dev/video0
            profile=profile.key,
            model=profile.model,
            detail=detail,
            ok=ok,
        )

    try:
        # The frame stays in this function: face images never leave memory.
        with VideoSource(source, open_timeout=timeout, read_timeout=timeout) as video:
            frame = video.read()
    except CameraError as exc:
        return found(exc.reason.value, ok=False)
    height, width = frame.shape[:2]
    return found(f"{width}x{height} frames")


def local_camera_indexes() -> list[int]:
    """V4L2 capture nodes present: trying indexes that have no node only wastes time."""
    indexes = []
    for node in sorted(glob.glob("/dev/video[0-9]*")):
        suffix = node.removeprefix("/dev/video")
        if suffix.isdigit():
            indexes.append(int(suffix))
    return indexes


# -- everything ------------------------------------------------------------------------------


async def probe(targets: ProbeTargets) -> ProbeResult:
    """Looks at everything at once, each look on its own thread."""
    notes: list[SubsystemNote] = []
    cameras: list[str | int] = list(targets.cameras)
    if targets.scan_system:
        # Local capture nodes are face-camera candidates, except the one named the document camera.
        taken = (*cameras, targets.document_camera)
        cameras += [i for i in local_camera_indexes() if i not in taken]
        if not local_camera_indexes():
            notes.append(SubsystemNote("video", True, "no local /dev/video* capture device"))

    serial_job = asyncio.to_thread(
        probe_serial, targets.serial_paths, targets.scan_system, targets.serial_timeout_s
    )
    readers_job = asyncio.to_thread(probe_readers)
    printer_jobs = [
        asyncio.to_thread(probe_printer, host, port, targets.printer_timeout_s)
        for host, port in targets.printers
    ]
    camera_jobs = [
        asyncio.to_thread(probe_camera, source, targets.camera_timeout_s) for source in cameras
    ]
    document_job = (
        asyncio.to_thread(probe_camera, targets.document_camera, targets.camera_timeout_s)
        if targets.document_camera is not None
        else None
    )
    usb_job = asyncio.to_thread(probe_usb) if targets.scan_system else None

    serial_found = await serial_job
    readers, readers_note = await readers_job
    printers = list(await asyncio.gather(*printer_jobs))
    found_cameras = list(await asyncio.gather(*camera_jobs))
    if document_job is not None:
        found_cameras.append(replace(await document_job, kind=DeviceKind.DOCUMENT_CAMERA))
    usb_found: list[FoundDevice] = []
    if usb_job is not None:
        usb_found, usb_note = await usb_job
        notes.append(usb_note)
    notes.append(readers_note)
    devices = (*readers, *printers, *found_cameras, *serial_found, *usb_found)
    return ProbeResult(devices=devices, notes=tuple(notes))


def _first(candidates: list[FoundDevice]) -> FoundDevice | None:
    """The first that answered, else the first given: its self-test then says what is wrong."""
    return next((d for d in candidates if d.ok), candidates[0] if candidates else None)


def select_devices(result: ProbeResult, reader_prefix: str | None = None) -> DeviceSelection:
    """One device per role: the named reader (or a real one before a simulated one), the first
    network printer and camera that answered, every serial device that answered as the device
    it was given for (or was given for one and will fail its self-test), and the refusals."""
    readers = result.of_kind(DeviceKind.CHIP_READER)
    readers = [d for d in readers if d.transport is Transport.PCSC]
    if reader_prefix:
        readers = [d for d in readers if d.address.startswith(reader_prefix)]
    readers.sort(key=lambda d: d.simulated)
    printers = [
        d
        for d in result.of_kind(DeviceKind.RECEIPT_PRINTER, reachable=False)
        if d.transport is Transport.TCP
    ]
    serial = [d for d in result.devices if d.transport is Transport.SERIAL]
    document_cameras = result.of_kind(DeviceKind.DOCUMENT_CAMERA, reachable=False)
    return DeviceSelection(
        chip_reader=readers[0] if readers else None,
        printer=_first(printers),
        face_camera=_first(result.of_kind(DeviceKind.CAMERA, reachable=False)),
        serial_devices=tuple(d for d in serial if d.role_kind in SERIAL_ROLE_OF and not d.refusal),
        document_camera=document_cameras[0] if document_cameras else None,
        refused=tuple(d for d in serial if d.refusal),
    )


def printer_address(device: FoundDevice | str) -> tuple[str, int]:
    """(host, port) of a network printer, from its device or its "tcp://host:port" address."""
    address = device if isinstance(device, str) else device.address
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    return host, int(port)
