"""The travel-document chip end to end: virtual chip -> vpcd -> pcscd -> pyscard -> BAC/SM ->
PermitReaderService, with the simulator's faults. pyscard calls block, so they run in
worker threads while the virtual card is served on the event loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from drivers.icao9303 import FID_EF_COM, FID_EF_SOD, dg_fid
from drivers.passive_auth import PassiveAuthVerdict
from drivers.pcsc import CardAbsent, NoReader, PcscConnection, card_present, list_readers
from peripherals.errors import DeviceError, DeviceReason
from peripherals.permit_reader import BacKey, PermitReaderService
from simulator.icao_chip import (
    NEITHER,
    SILENT_ATR,
    ChipFault,
    ChipShape,
    IcaoChip,
    TravelDocumentHolder,
    atr_for,
)
from simulator.icao_pki import create_pki
from simulator.pcscd import (
    PcscdNotFound,
    ensure_pcscd,
    pcscd_running,
    port_listening,
    vpcd_port,
    vpcd_reader_name,
)
from simulator.vicc import VirtualCardSlot

READER = vpcd_reader_name()  # this machine's vpcd slot (simulator.pcscd.vpcd_slot)

HOLDER = TravelDocumentHolder(
    document_code="CS", issuing_state="CHN", document_number="C98765432",
    birth_date="850302", sex="M", expiry_date="310302", nationality="CHN",
    surname="CHEN", given_names="JIAN GUO",
)  # fmt: skip
KEY = BacKey("C98765432", "850302", "310302")
CARD_ACCESS = 1  # EF.CardAccess, read first on every document: does the chip offer PACE?
PKI = create_pki()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a blocking predicate in a thread until it holds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def slot() -> AsyncIterator[VirtualCardSlot]:
    try:
        await asyncio.to_thread(ensure_pcscd)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    await until(lambda: READER in list_readers())
    await until(lambda: not card_present(READER), timeout=60.0)  # the shared slot is free
    slot = VirtualCardSlot()
    yield slot
    await slot.remove()
    await until(lambda: not card_present(READER))


@pytest.fixture
def trust_store(tmp_path: Path) -> Path:
    path = tmp_path / "csca.pem"
    path.write_bytes(PKI.csca_cert_pem)
    return path


@pytest.fixture
async def service(trust_store: Path) -> AsyncIterator[PermitReaderService]:
    service = PermitReaderService(READER, trust_store, resume_window_s=3.0)
    yield service
    service.close()


async def insert(slot: VirtualCardSlot, card: object) -> None:
    await slot.insert(card)  # type: ignore[arg-type]
    await until(lambda: card_present(READER))


async def test_reads_the_whole_document_and_passes_passive_auth(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, extra_groups={3: b"\x63\x00", 11: b"\x6b\x03\x5f\x0e\x00"})
    await insert(slot, chip)
    await service.wait_for_card(5.0)
    read = await service.read_permit(KEY)
    mrz = read.mrz
    assert mrz.check_digits_ok
    assert mrz.document_number == "C98765432"
    assert (mrz.birth_date, mrz.sex, mrz.expiry_date) == ("850302", "M", "310302")
    assert (mrz.surname, mrz.given_names) == ("CHEN", "JIAN GUO")
    assert read.listed_groups == (1, 2, 3, 11)  # as EF.SOD lists them: EF.COM is not read
    assert read.ef_com is None and read.missing_files == ()
    assert sorted(read.data_groups) == [1, 2, 11] and read.unreadable_groups == (3,)
    assert read.face_image is not None and read.face_image[:3] == b"\xff\xd8\xff"
    assert read.face_mime == "image/jpeg"
    assert read.data_groups[2] == chip.file(0x0102)
    pa = read.passive_auth
    assert pa.signature_valid and pa.certificate_trusted
    assert pa.hashes_valid == {1: True, 2: True, 11: True}
    read.raise_for_integrity()
    assert not read.document_expired()
    # EF.CardAccess (none: no PACE), SELECT, BAC (2), then one READ BINARY by SFI with
    # extended length per file (DG1, DG2, SOD, DG11) and DG3's, refused: what the chip can do
    # its ATR said
    assert read.apdus == CARD_ACCESS + 1 + 2 + 4 + 1
    assert read.access_control == "BAC"
    assert read.access.short_ef_id and read.access.extended_length
    text = repr(read) + str(read) + repr(KEY)
    for secret in ("C98765432", "CHEN", "850302", "310302", "JIAN"):
        assert secret not in text


@pytest.mark.parametrize("shape", [frozenset(), frozenset({ChipShape.NO_BAC})],
                         ids=["bac", "pace-only"])
async def test_wrong_mrz_data_is_refused(
    slot: VirtualCardSlot, service: PermitReaderService, shape: frozenset[ChipShape]
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, shape=shape))
    with pytest.raises(DeviceError) as info:
        await service.read_permit(BacKey("C98765432", "850302", "310303"))
    assert info.value.reason is DeviceReason.AUTHENTICATION_REFUSED


async def test_chip_with_other_keys_is_refused(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, faults={ChipFault.WRONG_KEY}))
    with pytest.raises(DeviceError) as info:
        await service.read_permit(KEY)
    assert info.value.reason is DeviceReason.AUTHENTICATION_REFUSED


async def test_card_moved_away_and_back_resumes_the_read(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI)
    await insert(slot, chip)
    fresh = await service.read_permit(KEY)
    # the 6th APDU is DG2's READ BINARY: DG1 is already in
    slot.pull_mid_read(6, back_after_s=0.8)
    read = await service.read_permit(KEY)
    assert read.resumes == 1
    assert read.data_groups == fresh.data_groups
    assert read.passive_auth.verdict is fresh.passive_auth.verdict
    # the lost APDU, then SELECT, BAC (2), DG2 and SOD: nothing read twice, EF.CardAccess
    # not asked again
    assert read.apdus == 6 + 3 + 2


async def test_card_moved_away_for_good_is_card_removed(
    slot: VirtualCardSlot, trust_store: Path
) -> None:
    service = PermitReaderService(READER, trust_store, resume_window_s=1.0)
    try:
        await insert(slot, IcaoChip(HOLDER, pki=PKI, slow_s=0.02))
        slot.pull_mid_read(7)
        with pytest.raises(DeviceError) as info:
            await service.read_permit(KEY)
        assert info.value.reason is DeviceReason.CARD_REMOVED
    finally:
        service.close()


class NotAPassport:
    """A card that knows no LDS application (e.g. a bank card)."""

    def atr(self) -> bytes:
        return bytes.fromhex("3B8880010000000077818100") + b"\x79"

    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...

    def process_apdu(self, apdu: bytes) -> bytes:
        return b"\x6a\x82"


async def test_card_that_is_not_a_travel_document(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, NotAPassport())
    with pytest.raises(DeviceError) as info:
        await service.read_permit(KEY)
    assert info.value.reason is DeviceReason.NOT_A_TRAVEL_DOCUMENT


async def test_corrupted_dg2_and_forged_sod_fail_passive_auth(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, faults={ChipFault.CORRUPT_DG2}))
    read = await service.read_permit(KEY)
    assert read.passive_auth.hashes_valid == {1: True, 2: False}
    assert read.passive_auth.signature_valid
    with pytest.raises(DeviceError) as info:
        read.raise_for_integrity()
    assert info.value.reason is DeviceReason.INTEGRITY_FAILED
    await slot.remove()
    await until(lambda: not card_present(READER))
    await insert(slot, IcaoChip(HOLDER, pki=PKI, faults={ChipFault.FORGED_SOD}))
    read = await service.read_permit(KEY)
    assert not read.passive_auth.signature_valid
    assert all(read.passive_auth.hashes_valid.values())
    with pytest.raises(DeviceError):
        read.raise_for_integrity(require_trusted=False)


async def test_expired_document_is_reported(slot: VirtualCardSlot) -> None:
    expired = TravelDocumentHolder(document_number="E12345678", expiry_date="200101")
    service = PermitReaderService(READER)  # no trust store: not trusted, not failed
    try:
        await insert(slot, IcaoChip(expired, pki=PKI))
        read = await service.read_permit(BacKey("E12345678", expired.birth_date, "200101"))
        assert read.document_expired()
        assert read.passive_auth.verdict.value == "not_trusted"
        read.raise_for_integrity(require_trusted=False)
    finally:
        service.close()


async def test_connect_errors(slot: VirtualCardSlot) -> None:
    with pytest.raises(CardAbsent):
        await asyncio.to_thread(PcscConnection().connect, READER)
    with pytest.raises(NoReader):
        await asyncio.to_thread(PcscConnection().connect, "No Such Reader 00 00")
    with pytest.raises(NoReader):
        await asyncio.to_thread(card_present, "No Such Reader 00 00")


def test_ensure_pcscd_is_idempotent() -> None:
    try:
        ensure_pcscd(timeout=5.0)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    ensure_pcscd(timeout=1.0)
    assert pcscd_running() and port_listening(vpcd_port())


# --- every shape of chip, read through pcscd by the kiosk's service ---------------------------

SHORT = 231  # plain bytes in a short answer under secure messaging


def short_reads(chip: IcaoChip, *fids: int) -> int:
    return sum(math.ceil(len(chip.file(fid)) / SHORT) for fid in fids)


KIOSK_FILES = (dg_fid(1), dg_fid(2), FID_EF_SOD)


@pytest.mark.parametrize(
    ("shape", "atr", "apdus"),
    [
        # the floor: one READ BINARY per file (after EF.CardAccess, SELECT and BAC)
        (frozenset(), None, lambda chip: CARD_ACCESS + 3 + 3),
        # EF.ATR/INFO first; SFI tried: works
        (frozenset(), SILENT_ATR, lambda chip: 1 + CARD_ACCESS + 3 + 3),
        (frozenset({ChipShape.NO_SFI}), None, lambda chip: CARD_ACCESS + 3 + 2 * 3),
        (frozenset({ChipShape.NO_EXTENDED_LENGTH}), None,
         lambda chip: CARD_ACCESS + 3 + short_reads(chip, *KIOSK_FILES)),
        (NEITHER, None, lambda chip: CARD_ACCESS + 3 + 3 + short_reads(chip, *KIOSK_FILES)),
        # EF.ATR/INFO (refused: no SFI), the refused SFI read of DG1, then SELECT + READs
        (NEITHER, SILENT_ATR,
         lambda chip: 1 + CARD_ACCESS + 3 + 1 + 3 + short_reads(chip, *KIOSK_FILES)),
        # the ATR says extended length, the chip refuses it: that session ends (2 APDUs),
        # the next reads short
        (frozenset({ChipShape.NO_EXTENDED_LENGTH}), atr_for(frozenset()),
         lambda chip: CARD_ACCESS + 3 + 2 + 3 + short_reads(chip, *KIOSK_FILES)),
    ],
    ids=["modern", "modern-silent-atr", "no-sfi", "no-extended", "neither",
         "neither-silent-atr", "claims-extended"],
)  # fmt: skip
async def test_every_access_shape_reads_whole(
    slot: VirtualCardSlot, service: PermitReaderService, shape, atr, apdus
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape=shape, atr=atr)
    await insert(slot, chip)
    read = await service.read_permit(KEY)
    assert read.data_groups == {1: chip.file(dg_fid(1)), 2: chip.file(dg_fid(2))}
    assert read.passive_auth.verdict is PassiveAuthVerdict.PASSED
    assert read.access.short_ef_id is (ChipShape.NO_SFI not in shape)
    assert read.access.extended_length is (ChipShape.NO_EXTENDED_LENGTH not in shape)
    assert read.apdus == apdus(chip)


async def test_chip_without_ef_com_reads_at_the_floor(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EF_COM}))
    read = await service.read_permit(KEY)
    assert read.listed_groups == (1, 2) and sorted(read.data_groups) == [1, 2]
    assert read.passive_auth.verdict is PassiveAuthVerdict.PASSED
    assert read.apdus == CARD_ACCESS + 3 + 3  # EF.SOD lists the groups: no EF.COM


async def test_chip_without_dg2_reads_without_a_face(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_DG2}))
    read = await service.read_permit(KEY)
    assert read.face_image is None and sorted(read.data_groups) == [1]
    assert read.missing_files == (dg_fid(2),) and read.missing_names == ("DG2",)
    assert read.passive_auth.verdict is PassiveAuthVerdict.PASSED
    assert read.passive_auth.hashes_valid == {1: True}
    read.raise_for_integrity()
    assert read.apdus == CARD_ACCESS + 3 + 3  # DG2's READ BINARY by SFI answers 6A82


async def test_chip_without_ef_sod_cannot_be_verified_and_a_trusting_kiosk_refuses_it(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EF_SOD}, extra_groups={11: b"\x6b\x00"})
    await insert(slot, chip)
    read = await service.read_permit(KEY)
    assert sorted(read.data_groups) == [1, 2, 11]  # EF.COM listed DG11 in the SOD's place
    assert read.listed_groups == (1, 2, 11) and read.ef_com is not None
    assert read.missing_files == (FID_EF_SOD,)
    pa = read.passive_auth
    assert pa.verdict is PassiveAuthVerdict.NOT_POSSIBLE
    assert pa.problems == ("the chip holds no EF.SOD: its data cannot be verified",)
    with pytest.raises(DeviceError) as info:
        read.raise_for_integrity(require_trusted=True)
    assert info.value.reason is DeviceReason.INTEGRITY_FAILED
    assert "not_possible: the chip holds no EF.SOD" in str(info.value)
    read.raise_for_integrity(require_trusted=False)  # a kiosk that does not require it reads on
    # DG1, DG2, EF.SOD (6A82), EF.COM, DG11
    assert read.apdus == CARD_ACCESS + 3 + 5


async def test_chip_without_ef_sod_nor_ef_com_reports_what_it_read(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EF_SOD, ChipShape.NO_EF_COM})
    await insert(slot, chip)
    read = await service.read_permit(KEY)
    assert sorted(read.data_groups) == [1, 2] and read.listed_groups == (1, 2)
    assert set(read.missing_files) == {FID_EF_SOD, FID_EF_COM}
    assert read.passive_auth.verdict is PassiveAuthVerdict.NOT_POSSIBLE
    assert read.mrz.surname == "CHEN"


# --- PACE: the chip offers it beside BAC, or only it -------------------------------------------

@pytest.mark.parametrize("shape", [ChipShape.PACE, ChipShape.NO_BAC], ids=["dual", "pace-only"])
async def test_a_chip_offering_pace_is_read_over_pace(
    slot: VirtualCardSlot, service: PermitReaderService, shape: ChipShape
) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={shape})
    await insert(slot, chip)
    read = await service.read_permit(KEY)
    assert read.access_control == "PACE"
    assert read.data_groups == {1: chip.file(dg_fid(1)), 2: chip.file(dg_fid(2))}
    assert read.passive_auth.verdict is PassiveAuthVerdict.PASSED
    # EF.CardAccess, MSE:Set AT, GENERAL AUTHENTICATE (4), SELECT under SM, the three files
    assert read.apdus == CARD_ACCESS + 1 + 4 + 1 + 3


# --- clone detection: active authentication ------------------------------------------------------

async def test_a_chip_passes_active_authentication_and_its_clone_is_refused(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    await insert(slot, IcaoChip(HOLDER, pki=PKI, shape={ChipShape.ACTIVE_AUTH}))
    read = await service.read_permit(KEY)
    assert read.active_auth is not None and read.active_auth.verdict.value == "passed"
    assert read.passive_auth.hashes_valid == {1: True, 2: True, 14: True, 15: True}
    read.raise_for_integrity()
    await slot.remove()
    await until(lambda: not card_present(READER))
    clone = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.ACTIVE_AUTH}, faults={ChipFault.CLONE})
    await insert(slot, clone)
    read = await service.read_permit(KEY)
    assert read.passive_auth.verdict is PassiveAuthVerdict.PASSED   # the data is genuine
    assert read.active_auth is not None and read.active_auth.verdict.value == "failed"
    with pytest.raises(DeviceError) as info:
        read.raise_for_integrity()
    assert info.value.reason is DeviceReason.CHIP_NOT_GENUINE
    read.raise_for_integrity(require_active_auth=False)   # a kiosk whose policy allows it


async def test_chip_authentication_passes_and_a_clone_of_it_is_refused(
    slot: VirtualCardSlot, service: PermitReaderService
) -> None:
    for faults, verdict in ((frozenset(), "passed"), ({ChipFault.CLONE}, "failed")):
        await insert(slot, IcaoChip(HOLDER, pki=PKI, shape={ChipShape.CHIP_AUTH}, faults=faults))
        read = await service.read_permit(KEY)
        assert read.chip_auth is not None and read.chip_auth.verdict.value == verdict
        assert read.active_auth is None and read.passive_auth.verdict is PassiveAuthVerdict.PASSED
        if verdict == "failed":
            with pytest.raises(DeviceError) as info:
                read.raise_for_integrity()
            assert info.value.reason is DeviceReason.CHIP_NOT_GENUINE
        await slot.remove()
        await until(lambda: not card_present(READER))
