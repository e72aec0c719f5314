"""What a chip says it can do, and how its files are read because of it.

Two places carry it (ISO/IEC 7816-4):
- the ATR's historical bytes, card capabilities (compact-TLV tag 7, 8.1.1.2.7): bit 3 of
  the first software function table says the card reads by short EF identifier, bit 7 of
  the third says it takes extended Lc and Le fields. They come with the ATR: no APDU.
- EF.ATR/INFO (2F01 in the MF, read by SFI 01), DO 7F66 (12.7.1): the largest command and
  response the card takes. One APDU, and only before the LDS application is selected
  (after it, SFI 01 is DG1).

`file_access` draws from them the `FileAccess` a reader under secure messaging starts
with: the ATR when it speaks, else EF.ATR/INFO for extended length, with SFI left for the
first read to find out (`drivers.icao9303.IcaoReader` tries it once and remembers).
Contactless cards give PC/SC an ATR made from their ATS (type A: its historical bytes) or
ATQB (type B: application data, no card capabilities), PC/SC Part 3, 3.1.3.2.3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.icao9303 import FileAccess
from drivers.iso7816 import MAX_EXTENDED_LE, MAX_SHORT_LE, ChipError, parse_tlv
from drivers.secure_messaging import max_read_for

_CARD_CAPABILITIES = 0x7  # compact-TLV tag
_SFI_SUPPORTED = 0x04  # first software function table, b3
_EXTENDED_LENGTH = 0x40  # third software function table, b7


@dataclass(frozen=True)
class CardCapabilities:
    """What the card capabilities in the ATR say (ISO/IEC 7816-4, 8.1.1.2.7)."""

    short_ef_id: bool
    extended_length: bool


def historical_bytes(atr: bytes) -> bytes | None:
    """T1..TK of an ATR (ISO/IEC 7816-3, 8.2); None when the ATR does not hold them whole."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        return None
    count = atr[1] & 0x0F
    indicator = atr[1] >> 4  # which of TA, TB, TC, TD follow
    pos = 2
    while True:
        pos += bin(indicator & 0x07).count("1")
        if not indicator & 0x08:
            break
        if pos >= len(atr):
            return None
        indicator = atr[pos] >> 4
        pos += 1
    if pos + count > len(atr):
        return None
    return atr[pos : pos + count]


def card_capabilities(atr: bytes) -> CardCapabilities | None:
    """The card capabilities of the ATR's historical bytes; None when they carry none.

    Only category indicators 00 (status indicator in the last three bytes) and 80 (every
    object compact-TLV) say anything in a way we can read; others are proprietary.
    """
    history = historical_bytes(atr)
    if not history or history[0] not in (0x00, 0x80):
        return None
    objects = history[1:-3] if history[0] == 0x00 else history[1:]
    found: bytes | None = None
    pos = 0
    while pos < len(objects):
        tag, length = objects[pos] >> 4, objects[pos] & 0x0F
        value = objects[pos + 1 : pos + 1 + length]
        if len(value) < length:
            return None  # not compact-TLV after all (e.g. a type B card's ATQB bytes)
        if tag == _CARD_CAPABILITIES and length >= 1 and found is None:
            found = value
        pos += 1 + length
    if found is None:
        return None
    return CardCapabilities(
        short_ef_id=bool(found[0] & _SFI_SUPPORTED),
        extended_length=len(found) >= 3 and bool(found[2] & _EXTENDED_LENGTH),
    )


def parse_atr_info(data: bytes) -> tuple[int, int] | None:
    """EF.ATR/INFO's extended length information DO 7F66: (max command, max response) bytes.

    None when the DO is absent or malformed (the chip then gets short APDUs only).
    """
    try:
        for obj in parse_tlv(data):
            if obj.tag == 0x7F66:
                values = [c for c in obj.children() if c.tag == 0x02]
                if len(values) >= 2 and all(0 < len(v.value) <= 3 for v in values[:2]):
                    max_command = int.from_bytes(values[0].value, "big")
                    max_response = int.from_bytes(values[1].value, "big")
                    if max_command > 0 and max_response > 0:
                        return max_command, max_response
    except ChipError:
        return None
    return None


def file_access(atr: bytes, read_ef_atr_info: Callable[[], bytes | None]) -> FileAccess:
    """How to read a chip's files under secure messaging, from what it says of itself.

    The ATR's card capabilities decide when it has them (no APDU): SFI as they say, and
    with extended length Le "maximum", so the chip sends each file whole up to its own
    limit. Without them, `read_ef_atr_info` (one APDU, before SELECT of the application)
    gives the response limit for extended length, and SFI is tried on the first read.
    """
    short = max_read_for(MAX_SHORT_LE)
    announced = card_capabilities(atr)
    if announced is not None:
        max_read = MAX_EXTENDED_LE if announced.extended_length else short
        return FileAccess(max_read, short, short_ef_id=announced.short_ef_id)
    info = read_ef_atr_info()
    limits = parse_atr_info(info) if info else None
    max_read = max_read_for(limits[1]) if limits and limits[1] > MAX_SHORT_LE else short
    return FileAccess(max(max_read, short), short, short_ef_id=None)
