"""Known device profiles as data: USB IDs, PC/SC reader names and serial hints -> kind and model.

Adding a device the field met is a new entry here, never an `if model == ...` elsewhere. A
profile says what the device is and how the kiosk talks to it; the probe only matches.
IDs are the vendors' USB vendor/product IDs as the devices enumerate.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum


class DeviceKind(StrEnum):
    RECEIPT_PRINTER = "receipt_printer"
    CHIP_READER = "chip_reader"  # PC/SC contact/contactless reader for travel-permit chips
    ID_CARD_READER = "id_card_reader"  # resident identity-card SAM module (serial)
    DISPENSER = "dispenser"  # card transport / certificate dispenser (serial)
    BARCODE_SCANNER = "barcode_scanner"
    CAMERA = "camera"  # a face-camera candidate
    DOCUMENT_CAMERA = "document_camera"
    SERIAL_BRIDGE = "serial_bridge"  # a USB-serial adapter: what sits behind it needs a probe


class Transport(StrEnum):
    USB = "usb"
    SERIAL = "serial"
    PCSC = "pcsc"
    TCP = "tcp"
    VIDEO = "video"


@dataclass(frozen=True)
class DeviceProfile:
    """One model (or family) of device and how to recognise it."""

    key: str
    kind: DeviceKind
    vendor: str
    model: str
    transport: Transport
    usb_ids: tuple[tuple[int, int], ...] = ()
    reader_names: tuple[str, ...] = ()  # fnmatch patterns on PC/SC reader names
    serial_hints: tuple[str, ...] = ()  # fnmatch patterns on a serial port's description
    baudrate: int | None = None
    simulated: bool = False


PROFILES: tuple[DeviceProfile, ...] = (
    # Receipt printers (ESC/POS). USB printers enumerate as printer class; the network ones
    # are found by address, not by ID.
    DeviceProfile(
        "epson-tm",
        DeviceKind.RECEIPT_PRINTER,
        "Epson",
        "TM-T88/TM-T20 series",
        Transport.USB,
        usb_ids=((0x04B8, 0x0202), (0x04B8, 0x0E15), (0x04B8, 0x0E03)),
    ),
    DeviceProfile(
        "pos58-generic",
        DeviceKind.RECEIPT_PRINTER,
        "Winbond (generic)",
        "POS-58/POS-80 thermal printer",
        Transport.USB,
        usb_ids=((0x0416, 0x5011),),
    ),
    DeviceProfile(
        "xprinter",
        DeviceKind.RECEIPT_PRINTER,
        "Xprinter",
        "XP-58/XP-80 thermal printer",
        Transport.USB,
        usb_ids=((0x0FE6, 0x811E),),
    ),
    DeviceProfile(
        "escpos-network",
        DeviceKind.RECEIPT_PRINTER,
        "any",
        "ESC/POS network printer (TCP 9100)",
        Transport.TCP,
    ),
    # PC/SC readers (CCID). pcscd names readers "<vendor> <model> [<interface>] 00 00".
    DeviceProfile(
        "acs-acr122u",
        DeviceKind.CHIP_READER,
        "ACS",
        "ACR122U contactless",
        Transport.PCSC,
        usb_ids=((0x072F, 0x2200),),
        reader_names=("ACS ACR122*",),
    ),
    DeviceProfile(
        "acs-acr1252",
        DeviceKind.CHIP_READER,
        "ACS",
        "ACR1252U dual interface",
        Transport.PCSC,
        reader_names=("ACS ACR1252*",),
    ),
    DeviceProfile(
        "omnikey",
        DeviceKind.CHIP_READER,
        "HID Global",
        "OMNIKEY 3x21/5x22",
        Transport.PCSC,
        usb_ids=((0x076B, 0x3021),),
        reader_names=("HID Global OMNIKEY*", "OMNIKEY*"),
    ),
    DeviceProfile(
        "identiv-scr3310",
        DeviceKind.CHIP_READER,
        "Identiv",
        "SCR3310",
        Transport.PCSC,
        usb_ids=((0x04E6, 0x5116),),
        reader_names=("Identiv*", "SCM Microsystems*"),
    ),
    DeviceProfile(
        "gemalto-pc-twin",
        DeviceKind.CHIP_READER,
        "Gemalto",
        "PC Twin Reader",
        Transport.PCSC,
        usb_ids=((0x08E6, 0x3437),),
        reader_names=("Gemalto PC Twin*", "Gemplus GemPC Twin*"),
    ),
    DeviceProfile(
        "vpcd",
        DeviceKind.CHIP_READER,
        "vsmartcard",
        "Virtual PCD (simulator)",
        Transport.PCSC,
        reader_names=("Virtual PCD*",),
        simulated=True,
    ),
    # Serial devices behind USB-serial bridges: the bridge's ID says nothing about the device,
    # so these match on the bridge and are told apart by their protocol or the technician.
    DeviceProfile(
        "sam-idcard",
        DeviceKind.ID_CARD_READER,
        "any",
        "identity-card SAM module (GA 467 frame protocol)",
        Transport.SERIAL,
        serial_hints=("*SAM*", "*IDCard*", "*ID Card*"),
        baudrate=115200,
    ),
    DeviceProfile(
        "crt-591",
        DeviceKind.DISPENSER,
        "Creator",
        "CRT-591 card dispenser",
        Transport.SERIAL,
        serial_hints=("*CRT-591*", "*CRT591*", "*Dispenser*"),
        baudrate=9600,
    ),
    DeviceProfile(
        "barcode-cdc",
        DeviceKind.BARCODE_SCANNER,
        "any",
        "barcode/QR scanner (USB-CDC)",
        Transport.SERIAL,
        serial_hints=("*Scanner*", "*Barcode*", "*QR*"),
        baudrate=9600,
    ),
    DeviceProfile(
        "cp210x",
        DeviceKind.SERIAL_BRIDGE,
        "Silicon Labs",
        "CP210x USB-serial bridge",
        Transport.SERIAL,
        usb_ids=((0x10C4, 0xEA60),),
    ),
    DeviceProfile(
        "ftdi",
        DeviceKind.SERIAL_BRIDGE,
        "FTDI",
        "FT232 USB-serial bridge",
        Transport.SERIAL,
        usb_ids=((0x0403, 0x6001), (0x0403, 0x6015)),
    ),
    DeviceProfile(
        "pl2303",
        DeviceKind.SERIAL_BRIDGE,
        "Prolific",
        "PL2303 USB-serial bridge",
        Transport.SERIAL,
        usb_ids=((0x067B, 0x2303),),
    ),
    DeviceProfile(
        "ch340",
        DeviceKind.SERIAL_BRIDGE,
        "WCH",
        "CH340 USB-serial bridge",
        Transport.SERIAL,
        usb_ids=((0x1A86, 0x7523),),
    ),
    DeviceProfile(
        "mjpeg-camera",
        DeviceKind.CAMERA,
        "any",
        "camera (V4L2 index or MJPEG/RTSP stream)",
        Transport.VIDEO,
    ),
)

BY_KEY = {profile.key: profile for profile in PROFILES}


def match_usb(vendor_id: int, product_id: int) -> DeviceProfile | None:
    for profile in PROFILES:
        if (vendor_id, product_id) in profile.usb_ids:
            return profile
    return None


def match_reader(name: str) -> DeviceProfile | None:
    for profile in PROFILES:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in profile.reader_names):
            return profile
    return None


def match_serial(
    description: str, vendor_id: int | None = None, product_id: int | None = None
) -> DeviceProfile | None:
    """A serial port: first by what it says it is, then by its USB bridge's ID."""
    lowered = description.lower()
    for profile in PROFILES:
        if any(fnmatch.fnmatch(lowered, pattern.lower()) for pattern in profile.serial_hints):
            return profile
    if vendor_id is not None and product_id is not None:
        return match_usb(vendor_id, product_id)
    return None


@dataclass(frozen=True)
class SerialRole:
    """A serial device the kiosk uses: its names on the command line, in sentences and in config."""

    kind: DeviceKind
    name: str  # what the technician types: --serial /dev/ttyUSB0=NAME
    title: str  # in a sentence: "port X answers as the dispenser"
    config_key: str  # its setting in kiosk.toml [devices]
    endpoint_key: str  # where the simulator's endpoints.json publishes its pty
    profile_key: str  # the profile whose line settings (baud rate) it is spoken to with

    @property
    def profile(self) -> DeviceProfile:
        return BY_KEY[self.profile_key]


SERIAL_ROLES: tuple[SerialRole, ...] = (
    SerialRole(DeviceKind.ID_CARD_READER, "idcard", "the ID-card reader", "idcard_reader_port",
               "idcard_reader", "sam-idcard"),
    SerialRole(DeviceKind.DISPENSER, "dispenser", "the dispenser", "dispenser_port", "dispenser",
               "crt-591"),
    SerialRole(DeviceKind.BARCODE_SCANNER, "scanner", "the barcode scanner",
               "barcode_scanner_port", "barcode_scanner", "barcode-cdc"),
)  # fmt: skip
SERIAL_ROLE_OF = {role.kind: role for role in SERIAL_ROLES}


def serial_role_named(name: str) -> SerialRole | None:
    """The role the technician named after '=' in --serial (exact names only: no guessing)."""
    return next((role for role in SERIAL_ROLES if role.name == name.strip().lower()), None)
