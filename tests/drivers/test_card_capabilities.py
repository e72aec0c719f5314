"""drivers.card_capabilities: what the ATR and EF.ATR/INFO say, and the FileAccess drawn from it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.card_capabilities import (
    CardCapabilities,
    card_capabilities,
    file_access,
    historical_bytes,
    parse_atr_info,
)
from drivers.icao9303 import FileAccess
from drivers.iso7816 import MAX_EXTENDED_LE
from drivers.secure_messaging import max_read_for
from simulator.icao_chip import NEITHER, SILENT_ATR, ChipShape, atr_for

SHORT = max_read_for(256)  # 231: a short answer's room under secure messaging


def _atr(t0_and_interface: str, historical: str) -> bytes:
    """An ATR with TCK (T=1 is indicated in every one used here)."""
    body = bytes.fromhex(t0_and_interface) + bytes.fromhex(historical)
    tck = 0
    for b in body[1:]:
        tck ^= b
    return body + bytes([tck])


def test_historical_bytes_follow_every_interface_byte() -> None:
    # T0 = D5: TA1, TC1, TD1, 5 historical bytes; TD1 = 81: TD2, T=1; TD2 = 31: TA3, TB3, T=1
    atr = _atr("3B D5 18 02 81 31 FE 45", "80 73 94 01 40")
    assert historical_bytes(atr) == bytes.fromhex("8073940140")
    assert card_capabilities(atr) == CardCapabilities(short_ef_id=True, extended_length=True)


def test_status_indicator_category_reads_the_objects_before_it() -> None:
    # category 00: compact-TLV objects, then a 3-byte status indicator that is not TLV
    atr = _atr("3B 88 80 01", "00 73 90 01 00 00 90 00")
    assert card_capabilities(atr) == CardCapabilities(short_ef_id=False, extended_length=False)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [(frozenset(), (True, True)), (frozenset({ChipShape.NO_SFI}), (False, True)),
     (frozenset({ChipShape.NO_EXTENDED_LENGTH}), (True, False)), (NEITHER, (False, False))],
)  # fmt: skip
def test_the_simulated_chips_atr_says_its_shape(
    shape: frozenset[ChipShape], expected: tuple[bool, bool]
) -> None:
    assert card_capabilities(atr_for(shape)) == CardCapabilities(*expected)


@pytest.mark.parametrize(
    "atr",
    [SILENT_ATR, b"", b"\x3b", bytes.fromhex("3B8F8001"), bytes.fromhex("3B828001 1073"),
     _atr("3B 83 80 01", "80 75 94"), _atr("3B 82 80 01", "01 73")],
)  # fmt: skip
def test_atrs_that_say_nothing_we_can_read(atr: bytes) -> None:
    assert card_capabilities(atr) is None


@given(st.binary(max_size=40))
def test_fuzz_any_atr_gives_capabilities_or_none(atr: bytes) -> None:
    found = card_capabilities(atr)
    assert (
        found is None
        or isinstance(found.short_ef_id, bool)
        and isinstance(found.extended_length, bool)
    )


def test_ef_atr_info_limits() -> None:
    info = bytes.fromhex("7F6608 0202 1000 0202 FF00".replace(" ", ""))
    assert parse_atr_info(info) == (0x1000, 0xFF00)
    assert parse_atr_info(b"\x7f\x66\x00") is None
    assert parse_atr_info(b"\x01\x02") is None  # not TLV at all


class AtrInfoFile:
    """EF.ATR/INFO as the reader would get it; counts how often it is asked for."""

    def __init__(self, content: bytes | None) -> None:
        self.content = content
        self.reads = 0

    def __call__(self) -> bytes | None:
        self.reads += 1
        return self.content


def test_an_atr_that_speaks_costs_no_apdu() -> None:
    ef = AtrInfoFile(None)
    assert file_access(atr_for(frozenset()), ef) == FileAccess(
        MAX_EXTENDED_LE, SHORT, short_ef_id=True
    )
    assert file_access(atr_for(NEITHER), ef) == FileAccess(SHORT, SHORT, short_ef_id=False)
    assert ef.reads == 0


def test_a_silent_atr_asks_ef_atr_info_and_leaves_sfi_to_be_tried() -> None:
    with_limits = AtrInfoFile(bytes.fromhex("7F66080202100002020800"))
    access = file_access(SILENT_ATR, with_limits)
    assert with_limits.reads == 1
    assert access == FileAccess(max_read_for(0x0800), SHORT, short_ef_id=None)
    assert access.extended_length
    assert file_access(SILENT_ATR, AtrInfoFile(None)) == FileAccess(SHORT, SHORT, short_ef_id=None)
