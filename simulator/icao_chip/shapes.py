"""What kind of chip the simulator plays: its shape (what it lacks) and its faults, as data.

A modern eMRTD reads by short EF identifier, takes extended length, and holds EF.COM, DG1,
DG2 and EF.SOD. Older or odd chips lack some of that (`ChipShape`); a chip can also be
faulty (`ChipFault`). The ATR says what the chip can do the way real cards say it: a type A
card's ATS historical bytes carry ISO 7816-4 card capabilities (compact-TLV tag 7), which
PC/SC passes on in the ATR (PC/SC Part 3, 3.1.3.2.3). `SILENT_ATR` is a type B card's,
whose ATQB bytes say nothing of the kind: a reader must find out by asking.
"""

from __future__ import annotations

import enum

from simulator.icao_chip.apdu import tlv

MAX_COMMAND = 4096  # what EF.ATR/INFO announces
MAX_RESPONSE = 0xFF00  # the longest answer: vpcd's 16-bit length prefix holds it and the SW


class ChipShape(enum.Enum):
    """What a chip lacks, or offers beyond BAC; a chip lacking nothing is modern (SFI,
    extended length, every file)."""

    NO_SFI = "no_sfi"  # READ BINARY by short EF identifier answers 6A86: SELECT each file
    NO_EXTENDED_LENGTH = "no_extended_length"  # extended APDUs answer 6700; no EF.ATR/INFO
    NO_EF_COM = "no_ef_com"
    NO_DG2 = "no_dg2"  # no face image on the chip
    NO_EF_SOD = "no_ef_sod"  # nothing to verify the data against
    # Access control: BAC alone (nothing said), PACE beside BAC (EF.CardAccess offers it),
    # or PACE alone (BAC's mutual authentication refused).
    PACE = "pace"
    NO_BAC = "no_bac"  # PACE only
    # Clone detection: an Active Authentication key (ECDSA P-256), its public half in DG15,
    # the signature algorithm in DG14; the chip signs the terminal's challenge with it.
    ACTIVE_AUTH = "active_auth"
    ACTIVE_AUTH_RSA = "active_auth_rsa"  # the same with RSA 2048 and ISO/IEC 9796-2 (no DG14)
    # Chip Authentication: a static ECDH key (P-256) in DG14; secure messaging restarts with
    # keys only the chip holding its private half can compute.
    CHIP_AUTH = "chip_auth"


class ChipFault(enum.Enum):
    WRONG_KEY = "wrong_key"  # the chip's keys match no MRZ: mutual authentication fails
    CORRUPT_DG2 = "corrupt_dg2"  # DG2 differs from its hash in the SOD
    FORGED_SOD = "forged_sod"  # the SOD is signed by a key that is not the DS's
    CLONE = "clone"  # a copy: the right files (DG15 included), but not the key DG15 names


MODERN: frozenset[ChipShape] = frozenset()
NEITHER = frozenset({ChipShape.NO_SFI, ChipShape.NO_EXTENDED_LENGTH})  # short APDUs, SELECT


def _with_tck(without_tck: bytes) -> bytes:
    """Append TCK: the XOR of every byte after TS (needed when T!=0 is indicated)."""
    tck = 0
    for b in without_tck[1:]:
        tck ^= b
    return without_tck + bytes([tck])


def _contactless_atr(historical: bytes) -> bytes:
    """PC/SC Part 3 ATR of an ISO 14443-4 card: 3B 8K 80 01, K historical bytes, TCK."""
    return _with_tck(bytes([0x3B, 0x80 | len(historical), 0x80, 0x01]) + historical)


def atr_for(shape: frozenset[ChipShape]) -> bytes:
    """A type A ATR whose historical bytes (category 80) hold card capabilities (tag 7):
    DF selection by full name and by file identifier, SFI unless NO_SFI; data coding 01;
    extended Lc and Le unless NO_EXTENDED_LENGTH (ISO/IEC 7816-4, 8.1.1.2.7)."""
    selection = 0x80 | 0x10 | (0 if ChipShape.NO_SFI in shape else 0x04)
    functions = 0x00 if ChipShape.NO_EXTENDED_LENGTH in shape else 0x40
    return _contactless_atr(bytes([0x80, 0x73, selection, 0x01, functions]))


# Type B: ATQB application data (4 bytes), protocol info (3), MBLI/CID: no capabilities.
SILENT_ATR = _contactless_atr(bytes.fromhex("00000000 778181 00"))


def ef_atr_info(shape: frozenset[ChipShape]) -> bytes | None:
    """EF.ATR/INFO's content: the extended length information DO 7F66; a chip without
    extended length has no such file."""
    if ChipShape.NO_EXTENDED_LENGTH in shape:
        return None
    limits = tlv(0x02, MAX_COMMAND.to_bytes(2, "big")) + tlv(0x02, MAX_RESPONSE.to_bytes(2, "big"))
    return tlv(0x7F66, limits)
