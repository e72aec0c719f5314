"""The receipt printer's status replies, derived from what its sensors see: DLE EOT n
(real-time status), GS r n (paper sensors) and GS I n (printer id).

Bit layouts follow the Epson ESC/POS Application Programming Guide (command reference).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperSensors:
    """What the printer's sensors see; status replies are derived from it."""

    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    cutter_error: bool = False

    @property
    def offline(self) -> bool:
        return self.paper_out or self.cover_open or self.cutter_error


def realtime_status(sensors: PaperSensors, n: int) -> int:
    """DLE EOT n reply: bits 1 and 4 are fixed to 1, bits 0 and 7 to 0."""
    status = 0x12
    if n == 1 and sensors.offline:
        status |= 0x08  # bit 3: offline
    elif n == 2:
        if sensors.cover_open:
            status |= 0x04  # bit 2: cover open
        if sensors.paper_out:
            status |= 0x20  # bit 5: printing stopped by paper end
        if sensors.cutter_error:
            status |= 0x40  # bit 6: error occurred
    elif n == 3:
        if sensors.cutter_error:
            status |= 0x08  # bit 3: autocutter error
    elif n == 4:
        if sensors.paper_near_end:
            status |= 0x0C  # bits 2-3: roll paper near-end sensor
        if sensors.paper_out:
            status |= 0x60  # bits 5-6: roll paper end sensor
    return status


def paper_sensor_status(sensors: PaperSensors) -> int:
    """GS r 1 reply: bits 0-1 near end, bits 2-3 paper end, bit 4 fixed 0."""
    return (0x03 if sensors.paper_near_end else 0) | (0x0C if sensors.paper_out else 0)


def printer_id_reply(n: int) -> bytes:
    """GS I n: 1 model, 2 type (multi-byte font), 3 firmware; 65+ as `_ text NUL` blocks."""
    if n in (1, 49):
        return b"\x20"
    if n in (2, 50):
        return b"\x02"
    if n in (3, 51):
        return b"\x00"
    texts = {65: b"1.00", 66: b"KIOSK-SIM", 67: b"ESC/POS Simulator", 68: b"0000000000"}
    if n in texts:
        return b"_" + texts[n] + b"\x00"
    return b""
