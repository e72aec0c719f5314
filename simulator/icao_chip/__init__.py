"""The simulated ICAO 9303 travel-document chip, by concern: the holder's MRZ (`mrz`), the
file system (`files`), the chip's side of BAC and secure messaging (`secure_messaging`),
command parsing and status words (`apdu`), what kind of chip it is (`shapes`), and the APDU
dispatcher that ties them together (`chip`)."""

from simulator.icao_chip.chip import IcaoChip
from simulator.icao_chip.files import DEFAULT_DG2_SIZE, default_face_jpeg, dg2
from simulator.icao_chip.mrz import TravelDocumentHolder, check_digit, mrz_td1
from simulator.icao_chip.shapes import (
    MODERN,
    NEITHER,
    SILENT_ATR,
    ChipFault,
    ChipShape,
    atr_for,
)

__all__ = [
    "DEFAULT_DG2_SIZE",
    "MODERN",
    "NEITHER",
    "SILENT_ATR",
    "ChipFault",
    "ChipShape",
    "IcaoChip",
    "TravelDocumentHolder",
    "atr_for",
    "check_digit",
    "default_face_jpeg",
    "dg2",
    "mrz_td1",
]
