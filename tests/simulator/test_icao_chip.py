"""simulator.icao_chip: the chip's answers at APDU level (BAC, secure messaging, files, faults)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drivers.bac import AuthenticationRefused, derive_bac_keys, perform_bac
from drivers.card_capabilities import CardCapabilities, card_capabilities, parse_atr_info
from drivers.icao9303 import parse_ef_com
from drivers.lds import parse_dg2
from drivers.passive_auth import PassiveAuthVerdict, parse_sod, verify_passive_auth
from drivers.secure_messaging import SecureMessaging
from simulator.icao_chip import (
    SILENT_ATR,
    ChipFault,
    ChipShape,
    IcaoChip,
    TravelDocumentHolder,
    atr_for,
    check_digit,
    mrz_td1,
)
from simulator.icao_pki import create_pki, load_or_create_pki

SELECT_APP = bytes.fromhex("00A4040C07A0000002471001")
SELECT_DG1 = bytes.fromhex("00A4020C020101")
HOLDER = TravelDocumentHolder()
PKI = create_pki()


def sw(response: bytes) -> int:
    return int.from_bytes(response[-2:], "big")


class Wire:
    def __init__(self, chip: IcaoChip) -> None:
        self.chip = chip

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.chip.process_apdu(apdu)
        return response[:-2], sw(response)


@pytest.fixture(scope="module")
def chip() -> IcaoChip:
    return IcaoChip(HOLDER, pki=PKI)


def authenticate(chip: IcaoChip, holder: TravelDocumentHolder = HOLDER) -> SecureMessaging:
    chip.reset()
    assert chip.process_apdu(SELECT_APP) == b"\x90\x00"
    keys = derive_bac_keys(holder.document_number, holder.birth_date, holder.expiry_date)
    session = perform_bac(Wire(chip), keys)
    return SecureMessaging(Wire(chip), session.ks_enc, session.ks_mac, session.ssc)


def test_atrs_have_correct_tck(chip: IcaoChip) -> None:
    for atr in (chip.atr(), SILENT_ATR):
        assert atr[:4] in (bytes.fromhex("3B858001"), bytes.fromhex("3B888001"))
        assert len(atr) == 4 + (atr[1] & 0x0F) + 1
        xor = 0
        for b in atr[1:]:
            xor ^= b
        assert xor == 0
    assert chip.atr() == atr_for(frozenset())


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
    chip.reset()
    assert chip.process_apdu(SELECT_APP) == b"\x90\x00"
    fci = chip.process_apdu(bytes.fromhex("00A4040007A0000002471001"))
    assert sw(fci) == 0x9000 and fci[0] == 0x6F
    assert sw(chip.process_apdu(bytes.fromhex("00A4040C07A0000002471002"))) == 0x6A82


def test_ef_atr_info_announces_extended_length(chip: IcaoChip) -> None:
    chip.reset()
    answer = chip.process_apdu(bytes.fromhex("00B0810000"))
    assert sw(answer) in (0x9000, 0x6282)
    max_command, max_response = parse_atr_info(answer[:-2])
    assert max_command >= 261 and max_response > 20_000


def test_files_need_bac(chip: IcaoChip) -> None:
    chip.reset()
    assert sw(chip.process_apdu(SELECT_DG1)) == 0x6A82  # no application yet
    chip.process_apdu(SELECT_APP)
    assert sw(chip.process_apdu(SELECT_DG1)) == 0x6982
    assert sw(chip.process_apdu(bytes.fromhex("00B0000004"))) == 0x6982
    assert sw(chip.process_apdu(bytes.fromhex("0CB000000D9701048E08ED6705417E96BA5500"))) == 0x6987


def test_bac_with_wrong_mrz_gets_6300(chip: IcaoChip) -> None:
    wrong = TravelDocumentHolder(document_number="C01234568")
    with pytest.raises(AuthenticationRefused) as info:
        authenticate(chip, wrong)
    assert info.value.sw == 0x6300


def test_wrong_key_fault_refuses_the_right_mrz() -> None:
    faulty = IcaoChip(HOLDER, pki=PKI, faults={ChipFault.WRONG_KEY})
    with pytest.raises(AuthenticationRefused) as info:
        authenticate(faulty)
    assert info.value.sw == 0x6300
    authenticate(IcaoChip(HOLDER, pki=PKI))  # the same MRZ opens a chip without the fault


def test_secure_session_reads_and_answers_protected(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    assert sm.transmit(SELECT_DG1) == (b"", 0x9000)
    data, status = sm.transmit(bytes.fromhex("00B0000004"))
    assert (data, status) == (chip.file(0x0101)[:4], 0x9000)
    data, status = sm.transmit(bytes.fromhex("00B0000000"))  # 256 asked, 95 there: 6282
    assert data == chip.file(0x0101) and status == 0x6282
    assert sm.transmit(bytes.fromhex("00B0010001"))[1] == 0x6B00
    assert sm.transmit(bytes.fromhex("00CA000000"))[1] == 0x6D00
    assert sm.transmit(bytes.fromhex("00A4020C020105"))[1] == 0x6A82


def test_extended_read_of_dg2_in_one_answer(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    sm.transmit(bytes.fromhex("00A4020C020102"))
    dg2 = chip.file(0x0102)
    data, status = sm.transmit(bytes.fromhex("00B00000") + b"\x00" + (30_000).to_bytes(2, "big"))
    assert data == dg2 and status == 0x6282
    assert len(dg2) == 20 * 1024


def test_bad_mac_or_plain_command_ends_the_session(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    protected = bytearray(sm.protect(SELECT_DG1))
    protected[-2] ^= 0x01  # inside DO8E
    assert chip.process_apdu(bytes(protected)) == b"\x69\x88"
    assert sw(chip.process_apdu(sm.protect(SELECT_DG1))) == 0x6987  # no session any more
    sm = authenticate(chip)
    assert chip.process_apdu(SELECT_DG1) == b"\x69\x82"
    assert sw(chip.process_apdu(sm.protect(SELECT_DG1))) == 0x6987


def test_reset_ends_the_session(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    chip.reset()
    assert sw(chip.process_apdu(sm.protect(SELECT_DG1))) == 0x6987


def test_default_face_is_a_jpeg_in_dg2(chip: IcaoChip) -> None:
    face = parse_dg2(chip.file(0x0102))
    assert face.mime == "image/jpeg"
    with Image.open(io.BytesIO(face.data)) as image:
        assert image.size == (face.width, face.height) == (180, 240)


def test_eac_groups_are_refused(chip: IcaoChip) -> None:
    eac = IcaoChip(HOLDER, pki=PKI, extra_groups={3: b"\x63\x00", 11: b"\x6b\x00"})
    sm = authenticate(eac)
    assert sm.transmit(bytes.fromhex("00A4020C020103"))[1] == 0x6982
    assert sm.transmit(bytes.fromhex("00B0830000"))[1] == 0x6982  # by SFI too
    assert sm.transmit(bytes.fromhex("00A4020C02010B"))[1] == 0x9000


def _groups(chip: IcaoChip) -> dict[int, bytes]:
    return {1: chip.file(0x0101), 2: chip.file(0x0102)}


def test_sod_verifies_under_the_csca(chip: IcaoChip) -> None:
    result = verify_passive_auth(chip.file(0x011D), _groups(chip), [PKI.csca_cert])
    assert result.verdict is PassiveAuthVerdict.PASSED


def test_corrupt_dg2_fault_breaks_only_dg2s_hash() -> None:
    faulty = IcaoChip(HOLDER, pki=PKI, faults={ChipFault.CORRUPT_DG2})
    result = verify_passive_auth(faulty.file(0x011D), _groups(faulty), [PKI.csca_cert])
    assert result.hashes_valid == {1: True, 2: False}
    assert result.signature_valid and result.certificate_trusted
    assert parse_dg2(faulty.file(0x0102)).data  # still a face image, just not the signed one


def test_forged_sod_fault_breaks_only_the_signature() -> None:
    faulty = IcaoChip(HOLDER, pki=PKI, faults={ChipFault.FORGED_SOD})
    result = verify_passive_auth(faulty.file(0x011D), _groups(faulty), [PKI.csca_cert])
    assert not result.signature_valid
    assert result.hashes_valid == {1: True, 2: True}
    assert result.verdict is PassiveAuthVerdict.FAILED


def test_pki_is_created_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_pki(tmp_path / "pki")
    second = load_or_create_pki(tmp_path / "pki")
    assert first.csca_cert_pem == second.csca_cert_pem
    assert first.csca_cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    other = create_pki()
    sod = IcaoChip(HOLDER, pki=second).file(0x011D)
    groups = _groups(IcaoChip(HOLDER, pki=second))
    assert verify_passive_auth(sod, groups, [first.csca_cert]).certificate_trusted
    assert not verify_passive_auth(sod, groups, [other.csca_cert]).certificate_trusted


FUZZ_CHIP = IcaoChip(HOLDER, pki=PKI)


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=0, max_size=60), st.booleans())
def test_fuzz_the_chip_always_answers_a_status(apdu: bytes, secure: bool) -> None:
    if secure:
        sm = authenticate(FUZZ_CHIP)
        apdu = bytes([0x0C]) + apdu[1:] if apdu else apdu
        FUZZ_CHIP.process_apdu(sm.protect(SELECT_DG1))
    answer = FUZZ_CHIP.process_apdu(apdu)
    assert len(answer) >= 2 and answer[-2] in (
        0x61,
        0x62,
        0x63,
        0x67,
        0x69,
        0x6A,
        0x6B,
        0x6D,
        0x6E,
        0x90,
    )


def test_slow_fault_delays_every_answer() -> None:
    slow = IcaoChip(HOLDER, pki=PKI, slow_s=0.05)
    started = time.monotonic()
    for _ in range(3):
        slow.process_apdu(SELECT_APP)
    assert time.monotonic() - started >= 0.15  # a floor set by the fault, not a benchmark


# --- shapes: what the chip lacks, seen at APDU level ------------------------------------------

READ_DG1_BY_SFI = bytes.fromhex("00B0810000")


def test_modern_chip_reads_by_sfi_and_the_file_becomes_current(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    assert sm.transmit(READ_DG1_BY_SFI) == (chip.file(0x0101), 0x6282)
    assert sm.transmit(bytes.fromhex("00B0000004"))[0] == chip.file(0x0101)[:4]  # DG1 current
    data, status = sm.transmit(bytes.fromhex("00B09D00000000"))  # EF.SOD, SFI 1D, Le maximum
    assert data == chip.file(0x011D) and status == 0x6282
    assert sm.transmit(bytes.fromhex("00B0850000"))[1] == 0x6A82  # no DG5
    assert sm.transmit(bytes.fromhex("00B0C10000"))[1] == 0x6A86  # P1 bits 7-6 must be 00


def test_le_maximum_gets_what_fits_an_explicit_le_does_not(chip: IcaoChip) -> None:
    sm = authenticate(chip)
    sm.transmit(bytes.fromhex("00A4020C020102"))
    data, status = sm.transmit(bytes.fromhex("00B0000000"))  # Le 00: 256, as many as fit
    assert data == chip.file(0x0102)[:231] and status == 0x9000  # 231: a short SM answer's room
    assert sm.transmit(bytes.fromhex("00B00000F0"))[1] == 0x6700  # 240 asked: does not fit


def test_no_sfi_shape_refuses_reads_by_sfi() -> None:
    lacking = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_SFI})
    lacking.reset()
    assert sw(lacking.process_apdu(bytes.fromhex("00B0810000"))) == 0x6A86  # EF.ATR/INFO too
    sm = authenticate(lacking)
    assert sm.transmit(READ_DG1_BY_SFI) == (b"", 0x6A86)
    assert sm.transmit(SELECT_DG1) == (b"", 0x9000)  # the session goes on
    assert card_capabilities(lacking.atr()) == CardCapabilities(False, True)


def test_no_extended_length_shape_refuses_extended_apdus_and_ends_the_session() -> None:
    lacking = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_EXTENDED_LENGTH})
    lacking.reset()
    assert sw(lacking.process_apdu(bytes.fromhex("00B0810000"))) == 0x6A82  # no EF.ATR/INFO
    sm = authenticate(lacking)
    assert sm.transmit(READ_DG1_BY_SFI)[0] == lacking.file(0x0101)  # short: fine
    assert lacking.process_apdu(sm.protect(bytes.fromhex("00B08200000000"))) == b"\x67\x00"
    assert sw(lacking.process_apdu(sm.protect(SELECT_DG1))) == 0x6987  # no session any more
    assert card_capabilities(lacking.atr()) == CardCapabilities(True, False)


@pytest.mark.parametrize(
    ("lack", "gone"),
    [(ChipShape.NO_EF_COM, 0x011E), (ChipShape.NO_DG2, 0x0102), (ChipShape.NO_EF_SOD, 0x011D)],
)
def test_shapes_without_a_file(lack: ChipShape, gone: int) -> None:
    lacking = IcaoChip(HOLDER, pki=PKI, shape={lack})
    assert not lacking.has_file(gone) and lacking.has_file(0x0101)
    sm = authenticate(lacking)
    assert sm.transmit(bytes.fromhex("00A4020C02") + gone.to_bytes(2, "big"))[1] == 0x6A82
    sfi = {0x011E: 0x1E, 0x0102: 0x02, 0x011D: 0x1D}[gone]
    assert sm.transmit(bytes([0x00, 0xB0, 0x80 | sfi, 0x00, 0x00]))[1] == 0x6A82
    if lack is ChipShape.NO_DG2:  # EF.COM and EF.SOD list only what is there
        assert parse_ef_com(lacking.file(0x011E)).data_groups == (1,)
        assert sorted(parse_sod(lacking.file(0x011D)).dg_hashes) == [1]
