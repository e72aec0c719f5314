"""simulator.icao_chip: the chip's answers at APDU level."""

from __future__ import annotations

import pytest

from simulator.icao_chip import (
    DEFAULT_ATR,
    IcaoChip,
    TravelDocumentHolder,
    check_digit,
    mrz_td1,
)

SELECT_APP = bytes.fromhex("00A4040C07A0000002471001")
SELECT_DG1 = bytes.fromhex("00A4020C020101")
SELECT_COM = bytes.fromhex("00A4020C02011E")


def sw(response: bytes) -> int:
    return int.from_bytes(response[-2:], "big")


@pytest.fixture
def chip() -> IcaoChip:
    return IcaoChip(TravelDocumentHolder())


def test_atr_has_correct_tck() -> None:
    assert DEFAULT_ATR[:4] == bytes.fromhex("3B888001")
    assert len(DEFAULT_ATR) == 4 + 8 + 1
    xor = 0
    for b in DEFAULT_ATR[1:]:
        xor ^= b
    assert xor == 0


def test_mrz_td1_layout() -> None:
    holder = TravelDocumentHolder(document_number="C01234567", given_names="XIAO MING")
    mrz = mrz_td1(holder)
    assert len(mrz) == 90
    line1, line2, line3 = mrz[:30], mrz[30:60], mrz[60:]
    assert line1.startswith("CSCHNC01234567" + check_digit("C01234567"))
    assert line2[0:6] == holder.birth_date and line2[6] == check_digit(holder.birth_date)
    assert line2[15:18] == "CHN"
    assert line3.startswith("ZHANG<<XIAO<MING<")


def test_holder_repr_masks() -> None:
    holder = TravelDocumentHolder(document_number="C01234567", surname="WANG")
    assert "C01234567" not in repr(holder) and "WANG" not in repr(holder)


def test_select_application(chip: IcaoChip) -> None:
    assert chip.process_apdu(SELECT_APP) == b"\x90\x00"
    fci = chip.process_apdu(bytes.fromhex("00A4040007A0000002471001"))
    assert sw(fci) == 0x9000 and fci[0] == 0x6F
    assert sw(chip.process_apdu(bytes.fromhex("00A4040C07A0000002471002"))) == 0x6A82


def test_select_ef_needs_application(chip: IcaoChip) -> None:
    assert sw(chip.process_apdu(SELECT_DG1)) == 0x6A82
    chip.process_apdu(SELECT_APP)
    assert sw(chip.process_apdu(SELECT_DG1)) == 0x9000
    assert sw(chip.process_apdu(SELECT_COM)) == 0x9000
    assert sw(chip.process_apdu(bytes.fromhex("00A4020C020102"))) == 0x6A82


def test_read_binary(chip: IcaoChip) -> None:
    assert sw(chip.process_apdu(bytes.fromhex("00B0000004"))) == 0x6986
    chip.process_apdu(SELECT_APP)
    assert sw(chip.process_apdu(bytes.fromhex("00B0000004"))) == 0x6986
    chip.process_apdu(SELECT_DG1)
    head = chip.process_apdu(bytes.fromhex("00B0000004"))
    assert head == bytes.fromhex("615D5F1F") + b"\x90\x00"
    whole = chip.process_apdu(bytes.fromhex("00B0000000"))  # Le 00 = 256: the rest, 6282
    assert len(whole) == 0x5F + 2 and sw(whole) == 0x6282
    exact = chip.process_apdu(bytes.fromhex("00B000005F"))
    assert sw(exact) == 0x9000 and exact[:-2] == whole[:-2]
    tail = chip.process_apdu(bytes.fromhex("00B0005E01"))
    assert sw(tail) == 0x9000 and len(tail) == 3
    assert sw(chip.process_apdu(bytes.fromhex("00B0005F01"))) == 0x6B00
    assert sw(chip.process_apdu(bytes.fromhex("00B0010001"))) == 0x6B00


def test_ef_com_content(chip: IcaoChip) -> None:
    chip.process_apdu(SELECT_APP)
    chip.process_apdu(SELECT_COM)
    data = chip.process_apdu(bytes.fromhex("00B0000000"))[:-2]
    assert data == bytes.fromhex("6013 5F0104 30313037 5F3606 303430303030 5C0161")


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00CA000000", 0x6D00),  # unknown INS
        ("80B0000004", 0x6E00),  # bad CLA
        ("0CB0000004", 0x6E00),  # secure messaging: not yet
        ("00B0", 0x6700),  # too short
        ("00B00000", 0x6700),  # READ BINARY without Le
        ("00B000000100", 0x6700),  # READ BINARY with data
        ("00A4040C08A0000002471001", 0x6700),  # Lc beyond the data
        ("00A4040C", 0x6700),  # SELECT without data
        ("00A4020C0301011E", 0x6700),  # FID of 3 bytes
        ("00A4080C020101", 0x6A86),  # select by path: not offered
        ("00B0810004", 0x6A86),  # short-EF addressing
    ],
)
def test_status_words(chip: IcaoChip, apdu: str, expected: int) -> None:
    chip.process_apdu(SELECT_APP)
    chip.process_apdu(SELECT_DG1)
    assert sw(chip.process_apdu(bytes.fromhex(apdu))) == expected


def test_reset_clears_selection(chip: IcaoChip) -> None:
    chip.process_apdu(SELECT_APP)
    chip.process_apdu(SELECT_DG1)
    chip.reset()
    assert sw(chip.process_apdu(bytes.fromhex("00B0000004"))) == 0x6986
    assert sw(chip.process_apdu(SELECT_DG1)) == 0x6A82
