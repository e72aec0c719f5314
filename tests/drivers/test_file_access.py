"""drivers.icao9303's file access against each shape of the simulated chip (its APDU handler
as the far side): one READ BINARY per file by SFI with extended length on a modern chip, and
on the others a fallback that is found out once, remembered, and never fails the read."""

from __future__ import annotations

import math

import pytest

from drivers.bac import derive_bac_keys, perform_bac
from drivers.card_capabilities import file_access
from drivers.icao9303 import FID_EF_COM, FID_EF_SOD, FileAccess, IcaoReader, dg_fid
from drivers.iso7816 import MAX_EXTENDED_LE, ChipError, ChipReason
from drivers.secure_messaging import SecureMessaging, max_read_for
from simulator.icao_chip import NEITHER, SILENT_ATR, ChipShape, IcaoChip, TravelDocumentHolder
from simulator.icao_pki import create_pki

HOLDER = TravelDocumentHolder(document_number="C55512345", birth_date="880808")
PKI = create_pki()
SHORT = max_read_for(256)
KIOSK_FILES = (dg_fid(1), dg_fid(2), FID_EF_SOD)


class Wire:
    """In-process wire: hands each APDU to the chip's handler, counts them."""

    def __init__(self, chip: IcaoChip) -> None:
        self.chip = chip
        self.apdus = 0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdus += 1
        response = self.chip.process_apdu(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")


def session(chip: IcaoChip, access: FileAccess) -> IcaoReader:
    """SELECT the application and run BAC, as after a card was put on the reader."""
    chip.reset()
    wire = Wire(chip)
    IcaoReader(wire).select_application()
    keys = derive_bac_keys(HOLDER.document_number, HOLDER.birth_date, HOLDER.expiry_date)
    session = perform_bac(wire, keys)
    return IcaoReader(SecureMessaging(wire, session.ks_enc, session.ks_mac, session.ssc), access)


def modern_access() -> FileAccess:
    return FileAccess(MAX_EXTENDED_LE, SHORT, short_ef_id=True)


def short_reads(chip: IcaoChip, *fids: int) -> int:
    return sum(math.ceil(len(chip.file(fid)) / SHORT) for fid in fids)


@pytest.fixture(scope="module")
def modern() -> IcaoChip:
    return IcaoChip(HOLDER, pki=PKI)


def test_modern_chip_one_read_binary_per_file_no_select(modern: IcaoChip) -> None:
    reader = session(modern, modern_access())
    for fid in KIOSK_FILES:
        assert reader.read_file(fid) == modern.file(fid)
    assert len(modern.file(dg_fid(2))) == 20 * 1024
    assert reader.apdu_count == 3


def test_sfi_tried_once_works_and_is_kept(modern: IcaoChip) -> None:
    access = FileAccess(MAX_EXTENDED_LE, SHORT, short_ef_id=None)
    reader = session(modern, access)
    for fid in KIOSK_FILES:
        assert reader.read_file(fid) == modern.file(fid)
    assert reader.apdu_count == 3 and access.short_ef_id is True


def test_chip_without_sfi_costs_one_refused_read_then_selects() -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_SFI})
    access = FileAccess(MAX_EXTENDED_LE, SHORT, short_ef_id=None)
    reader = session(chip, access)
    for fid in KIOSK_FILES:
        assert reader.read_file(fid) == chip.file(fid)
    assert access.short_ef_id is False
    assert reader.apdu_count == 1 + 2 * 3  # the refused SFI read, then SELECT + READ each
    again = session(chip, access)  # a later session asks no more
    assert again.read_file(dg_fid(1)) == chip.file(dg_fid(1)) and again.apdu_count == 2


def test_chip_announcing_sfi_but_refusing_it_is_read_all_the_same() -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_SFI})  # the ATR below lies
    access = modern_access()
    reader = session(chip, access)
    assert reader.read_file(dg_fid(2)) == chip.file(dg_fid(2))
    assert access.short_ef_id is False and reader.apdu_count == 3


def test_missing_file_with_sfi_unknown_is_checked_by_select() -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EF_COM})
    access = FileAccess(MAX_EXTENDED_LE, SHORT, short_ef_id=None)
    reader = session(chip, access)
    with pytest.raises(ChipError) as info:
        reader.read_file(FID_EF_COM)
    assert info.value.reason is ChipReason.FILE_NOT_FOUND
    assert reader.apdu_count == 2 and access.short_ef_id is None  # 6A82 by SFI, then SELECT
    reader.read_file(dg_fid(1))
    with pytest.raises(ChipError) as info:
        reader.read_file(FID_EF_COM)  # SFI known now: its 6A82 is the answer
    assert info.value.reason is ChipReason.FILE_NOT_FOUND and reader.apdu_count == 2 + 1 + 1


def test_chip_without_extended_length_ends_the_session_once_then_reads_short() -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EXTENDED_LENGTH})
    access = modern_access()  # as if its ATR had said extended length
    reader = session(chip, access)
    with pytest.raises(ChipError) as info:
        reader.read_file(dg_fid(1))
    assert info.value.reason is ChipReason.SECURE_MESSAGING
    assert access == FileAccess(SHORT, SHORT, short_ef_id=True)  # SFI not blamed for it
    reader = session(chip, access)
    for fid in KIOSK_FILES:
        assert reader.read_file(fid) == chip.file(fid)
    assert reader.apdu_count == short_reads(chip, *KIOSK_FILES)


@pytest.mark.parametrize(
    ("shape", "atr", "before_bac", "per_file_select"),
    [(frozenset(), None, 0, 0), (frozenset(), SILENT_ATR, 1, 0),
     (frozenset({ChipShape.NO_SFI}), None, 0, 1),
     (frozenset({ChipShape.NO_EXTENDED_LENGTH}), None, 0, 0), (NEITHER, None, 0, 1),
     (NEITHER, SILENT_ATR, 1, 1)],
    ids=["modern", "modern-silent-atr", "no-sfi", "no-extended", "neither", "neither-silent-atr"],
)  # fmt: skip
def test_each_shape_read_from_what_it_says_of_itself(
    shape: frozenset[ChipShape], atr: bytes | None, before_bac: int, per_file_select: int
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape=shape, atr=atr)
    plain = IcaoReader(Wire(chip))
    access = file_access(chip.atr(), plain.read_ef_atr_info)
    assert plain.apdu_count == before_bac
    reader = session(chip, access)
    for fid in KIOSK_FILES:
        assert reader.read_file(fid) == chip.file(fid)
    tried_sfi = 1 if atr == SILENT_ATR and ChipShape.NO_SFI in shape else 0
    if ChipShape.NO_EXTENDED_LENGTH in shape:
        reads = short_reads(chip, *KIOSK_FILES)
    else:
        reads = len(KIOSK_FILES)
    assert reader.apdu_count == tried_sfi + per_file_select * len(KIOSK_FILES) + reads
