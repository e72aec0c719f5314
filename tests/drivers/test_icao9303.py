"""drivers.icao9303: check digits, MRZ and TLV parsing, and the reader against the chip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.bac import derive_bac_keys, perform_bac
from drivers.icao9303 import EfCom, FileAccess, IcaoReader, parse_ef_com
from drivers.iso7816 import ChipError, ChipReason, NotATravelDocument, Tlv, parse_tlv
from drivers.mrz import check_digit, parse_dg1, parse_mrz
from drivers.secure_messaging import SecureMessaging
from simulator.icao_chip import IcaoChip, TravelDocumentHolder, default_face_jpeg, mrz_td1

# ICAO 9303 Part 5 (TD1), Part 6 (TD2) and Part 4 (TD3) specimens
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


@pytest.mark.parametrize(
    ("field", "digit"),
    [("D23145890", "7"), ("740812", "2"), ("120415", "9"), ("L898902C3", "6"),
     ("ZE184226B<<<<<", "1"), ("<<<<<", "0"), ("520727", "3")],
)  # fmt: skip
def test_check_digit(field: str, digit: str) -> None:
    assert check_digit(field) == digit


def test_td1_specimen() -> None:
    mrz = parse_mrz("\n".join(TD1))
    assert mrz.document_code == "I"
    assert mrz.issuing_state == "UTO"
    assert mrz.document_number == "D23145890"
    assert mrz.birth_date == "740812"
    assert mrz.sex == "F"
    assert mrz.expiry_date == "120415"
    assert mrz.nationality == "UTO"
    assert mrz.surname == "ERIKSSON"
    assert mrz.given_names == "ANNA MARIA"
    assert mrz.optional_data == ""
    assert mrz.check_digits_ok


def test_td1_bad_check_digit_is_flagged_not_raised() -> None:
    broken = TD1[0][:14] + "8" + TD1[0][15:]
    assert not parse_mrz(broken + TD1[1] + TD1[2]).check_digits_ok


def test_td2_specimen() -> None:
    mrz = parse_mrz("".join(TD2))
    assert (mrz.document_number, mrz.birth_date, mrz.expiry_date) == (
        "D23145890",
        "740812",
        "120415",
    )
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.check_digits_ok


def test_td3_specimen() -> None:
    mrz = parse_mrz("".join(TD3))
    assert mrz.document_code == "P"
    assert mrz.document_number == "L898902C3"
    assert mrz.nationality == "UTO"
    assert mrz.birth_date == "740812"
    assert mrz.sex == "F"
    assert mrz.expiry_date == "120415"
    assert mrz.optional_data == "ZE184226B"
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.check_digits_ok


def test_mrz_repr_masks_personal_data() -> None:
    mrz = parse_mrz("".join(TD3))
    text = repr(mrz) + str(mrz) + f"{mrz}"
    for secret in ("L898902C3", "ERIKSSON", "ANNA", "740812", "ZE184226B"):
        assert secret not in text
    assert "C3'" in text and "check_digits_ok=True" in text


def test_wrong_mrz_length_is_malformed() -> None:
    with pytest.raises(ChipError) as info:
        parse_mrz("P<UTO")
    assert info.value.reason is ChipReason.MALFORMED_DATA


def test_simulator_td1_round_trip() -> None:
    holder = TravelDocumentHolder(
        document_number="C01234567", surname="Zhang", given_names="San Feng",
        birth_date="900115", sex="F", expiry_date="330115",
    )  # fmt: skip
    mrz = parse_mrz(mrz_td1(holder))
    assert mrz.check_digits_ok
    assert mrz.document_code == "CS" and mrz.document_number == "C01234567"
    assert (mrz.surname, mrz.given_names) == ("ZHANG", "SAN FENG")


# --- TLV --------------------------------------------------------------------------------


def test_parse_tlv_nested_and_long_lengths() -> None:
    value = bytes(200)
    data = bytes([0x61, 0x81, 0xCC, 0x5F, 0x1F, 0x81, 0xC8]) + value + b"\x02\x01\x05"
    top = parse_tlv(data)
    assert [t.tag for t in top] == [0x61, 0x02]
    assert top[0].constructed and not top[1].constructed
    inner = top[0].children()
    assert inner == [Tlv(0x5F1F, value)]
    assert parse_tlv(b"\x04\x82\x01\x00" + bytes(256))[0].value == bytes(256)
    assert parse_tlv(b"") == []


@pytest.mark.parametrize(
    "data",
    [b"\x61", b"\x61\x05\x00", b"\x5F", b"\x61\x80\x00\x00", b"\x61\x85\x00\x00\x00\x00\x01",
     b"\x61\x82\x01", b"\x5F\xFF\xFF\x1F\x00"],
)  # fmt: skip
def test_parse_tlv_garbage(data: bytes) -> None:
    with pytest.raises(ChipError) as info:
        parse_tlv(data)
    assert info.value.reason is ChipReason.MALFORMED_DATA


def test_parse_ef_com() -> None:
    data = bytes.fromhex("6015 5F0104 30313037 5F3606 303430303030 5C03 617563".replace(" ", ""))
    assert parse_ef_com(data) == EfCom("0107", "040000", (1, 2, 3))


@given(st.binary(max_size=300))
def test_fuzz_parse_tlv(data: bytes) -> None:
    try:
        for obj in parse_tlv(data):
            if obj.constructed:
                obj.children()
    except ChipError as exc:
        assert exc.reason is ChipReason.MALFORMED_DATA


@given(st.binary(max_size=300))
def test_fuzz_parse_dg1(data: bytes) -> None:
    try:
        parse_dg1(data)
    except ChipError:
        pass


@given(st.binary(max_size=120))
def test_fuzz_parse_dg1_wrapped(payload: bytes) -> None:
    # structurally valid DG1 around arbitrary MRZ bytes
    inner = b"\x5f\x1f" + bytes([0x81, len(payload)]) + payload
    try:
        parse_dg1(b"\x61" + bytes([0x81, len(inner)]) + inner)
    except ChipError:
        pass


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<", min_size=0, max_size=100))
def test_fuzz_parse_mrz_text(text: str) -> None:
    try:
        parse_mrz(text)
    except ChipError:
        pass


@given(st.binary(max_size=120))
def test_fuzz_parse_ef_com(data: bytes) -> None:
    try:
        parse_ef_com(data)
    except ChipError:
        pass


# --- the reader against the simulated chip (its APDU handler as the far side) -------------


class ChipTransport:
    """In-process wire: hands each APDU to the chip's handler and splits off SW1-SW2."""

    def __init__(self, chip: object) -> None:
        self.chip = chip

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.chip.process_apdu(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")


HOLDER = TravelDocumentHolder(
    document_number="C01234567", birth_date="900115", sex="M", expiry_date="330115",
    surname="LI", given_names="XIAO MING",
)  # fmt: skip


@pytest.fixture(scope="module")
def chip() -> IcaoChip:
    return IcaoChip(HOLDER)


def open_reader(
    chip: IcaoChip, *, max_read: int = 231, greedy: bool = True
) -> tuple[IcaoReader, ChipTransport]:
    """SELECT the application and run BAC; a reader under secure messaging, selecting files."""
    chip.reset()
    wire = ChipTransport(chip)
    IcaoReader(wire).select_application()
    session = perform_bac(wire, derive_bac_keys("C01234567", "900115", "330115"))
    sm = SecureMessaging(wire, session.ks_enc, session.ks_mac, session.ssc)
    return IcaoReader(sm, FileAccess(max_read, greedy=greedy)), wire


def test_reader_reads_ef_com_and_dg1(chip: IcaoChip) -> None:
    reader, _ = open_reader(chip)
    assert parse_ef_com(reader.read_file(0x011E)) == EfCom("0107", "040000", (1, 2))
    mrz = parse_dg1(reader.read_file(0x0101))
    assert mrz.check_digits_ok
    assert (mrz.document_code, mrz.issuing_state, mrz.nationality) == ("CS", "CHN", "CHN")
    assert mrz.document_number == "C01234567"
    assert (mrz.birth_date, mrz.sex, mrz.expiry_date) == ("900115", "M", "330115")
    assert (mrz.surname, mrz.given_names) == ("LI", "XIAO MING")


def test_reader_apdu_counts(chip: IcaoChip) -> None:
    reader, _ = open_reader(chip)
    reader.read_file(0x0101)  # select, then one greedy read holds the whole 95-byte file
    assert reader.apdu_count == 2
    small, _ = open_reader(chip, max_read=16)
    raw = small.read_file(0x0101)
    assert len(raw) == 2 + 3 + 90  # 61 5D { 5F1F 5A <90> }
    assert small.apdu_count == 1 + -(-len(raw) // 16)
    exact, _ = open_reader(chip, max_read=16, greedy=False)  # header first (4 bytes)
    exact.read_file(0x0101)
    assert exact.apdu_count == 1 + 1 + -(-(len(raw) - 4) // 16)


def test_reader_reads_past_32767_with_odd_ins() -> None:
    big = IcaoChip(HOLDER, face_jpeg=default_face_jpeg(40_000))
    reader, _ = open_reader(big, max_read=5000)
    raw = reader.read_file(0x0102)
    assert raw == big.file(0x0102) and len(raw) == 40_000
    # select; B0 at 0, 5000 .. 30000 (7 reads); from 35000 on B1, whose answers hold 4996
    # bytes of file each (the DO53 header takes 4 of the 5000): 2 more
    assert reader.apdu_count == 1 + 7 + 2


def test_reader_resumes_from_partial_content(chip: IcaoChip) -> None:
    first, _ = open_reader(chip, max_read=1000)
    expected = chip.file(0x0102)
    first.partial[0x0102] = expected[:12_345]  # what an earlier reader got before the cut
    raw = first.read_file(0x0102)
    assert raw == expected
    assert first.apdu_count == 1 + -(-(len(expected) - 12_345) // 1000)
    assert 0x0102 not in first.partial


def test_reader_greedy_falls_back_on_chips_that_want_exact_lengths() -> None:
    class ExactChip:
        """Refuses any Le past the end of the file with 6700, as some chips do."""

        def __init__(self, content: bytes) -> None:
            self.content = content

        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            if apdu[1] == 0xA4:
                return b"", 0x9000
            offset, le = (apdu[2] << 8) | apdu[3], apdu[4] or 256
            if offset + le > len(self.content):
                return b"", 0x6700
            return self.content[offset : offset + le], 0x9000

    content = b"\x61\x05" + b"ABCDE"
    reader = IcaoReader(ExactChip(content))
    assert reader.read_file(0x0101) == content
    assert not reader.access.greedy
    assert reader.read_file(0x0101) == content


def test_reader_not_a_travel_document() -> None:
    class OtherCard:
        def process_apdu(self, apdu: bytes) -> bytes:
            return b"\x6a\x82"

    with pytest.raises(NotATravelDocument) as info:
        IcaoReader(ChipTransport(OtherCard())).select_application()
    assert info.value.reason is ChipReason.NOT_A_TRAVEL_DOCUMENT


def test_reader_file_not_found(chip: IcaoChip) -> None:
    reader, _ = open_reader(chip)
    with pytest.raises(ChipError) as info:
        reader.read_file(0x0105)  # DG5 is not on this chip
    assert info.value.reason is ChipReason.FILE_NOT_FOUND


def test_reader_access_denied_for_eac_groups() -> None:
    eac = IcaoChip(HOLDER, extra_groups={3: b"\x63\x00"})
    reader, _ = open_reader(eac)
    assert 3 in parse_ef_com(reader.read_file(0x011E)).data_groups
    with pytest.raises(ChipError) as info:
        reader.read_file(0x0103)
    assert info.value.reason is ChipReason.ACCESS_DENIED


def test_reader_transport_errors_pass_through() -> None:
    class Gone(Exception):
        pass

    class Broken:
        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            raise Gone

    with pytest.raises(Gone):
        IcaoReader(Broken()).select_application()


@given(st.binary(max_size=64))
def test_fuzz_reader_on_garbage_files(content: bytes) -> None:
    class GarbageCard:
        """Any file holds `content`."""

        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            if apdu[1] != 0xB0:
                return b"", 0x9000
            offset = (apdu[2] << 8) | apdu[3]
            if offset >= len(content):
                return b"", 0x6B00
            return content[offset : offset + (apdu[4] or 256)], 0x9000

    reader = IcaoReader(GarbageCard())
    for fid, parse in ((0x011E, parse_ef_com), (0x0101, parse_dg1)):
        try:
            parse(reader.read_file(fid))
        except ChipError:
            pass
