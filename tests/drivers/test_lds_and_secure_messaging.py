"""drivers.lds (DG2's face image) and drivers.secure_messaging beyond Appendix D: APDU
encodings, extended length, the block-size arithmetic, and garbage answers."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drivers.iso7816 import ChipError, ChipReason
from drivers.lds import JPEG, JPEG2000, parse_dg2
from drivers.secure_messaging import (
    CommandApdu,
    SecureMessaging,
    SecureMessagingError,
    max_read_for,
    protected_response_size,
)
from simulator.icao_chip import dg2

KS_ENC = bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8")


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 40), (200, 150, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_dg2_jpeg_face() -> None:
    jpeg = _jpeg()
    face = parse_dg2(dg2(jpeg, 30, 40))
    assert (face.data, face.mime, face.width, face.height) == (jpeg, JPEG, 30, 40)
    assert str(len(jpeg)) in repr(face)


def test_dg2_jpeg2000_face() -> None:
    jp2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(100)
    face = parse_dg2(dg2(jp2, 10, 12, jpeg2000=True))
    assert face.mime == JPEG2000 and face.data == jp2


@pytest.mark.parametrize(
    "data",
    [b"", b"\x61\x00", b"\x75\x00", b"\x75\x03\x02\x01\x01",
     dg2(b"not an image at all", 1, 1), dg2(_jpeg(), 1, 1)[:-10]],
)  # fmt: skip
def test_dg2_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(ChipError) as info:
        parse_dg2(data)
    assert info.value.reason is ChipReason.MALFORMED_DATA


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parse_dg2(payload: bytes) -> None:
    for data in (payload, dg2(payload, 1, 1), b"\x75" + bytes([len(payload) & 0x7F]) + payload):
        try:
            parse_dg2(data)
        except ChipError as exc:
            assert exc.reason is ChipReason.MALFORMED_DATA


@pytest.mark.parametrize(
    ("apdu", "parsed"),
    [
        ("00A4020C02011E", CommandApdu(0, 0xA4, 2, 0x0C, bytes.fromhex("011E"))),
        ("00B0000004", CommandApdu(0, 0xB0, 0, 0, le=4)),
        ("00B0000000", CommandApdu(0, 0xB0, 0, 0, le=256)),
        ("00B00000000100", CommandApdu(0, 0xB0, 0, 0, le=256)),
        ("00B00000000000", CommandApdu(0, 0xB0, 0, 0, le=65536)),
        ("00B000007FFF", None),  # Lc 7F with 1 byte of data: wrong
        ("00B10000000003540180" + "0200", CommandApdu(0, 0xB1, 0, 0, bytes.fromhex("540180"), 512)),
        ("0084000008", CommandApdu(0, 0x84, 0, 0, le=8)),
        ("00A4", None),
    ],
)
def test_command_apdu_cases(apdu: str, parsed: CommandApdu | None) -> None:
    raw = bytes.fromhex(apdu)
    if parsed is None:
        with pytest.raises(ValueError):
            CommandApdu.parse(raw)
        return
    assert CommandApdu.parse(raw) == parsed
    assert CommandApdu.parse(parsed.encode()) == parsed


@given(
    st.binary(max_size=300),
    st.one_of(st.none(), st.integers(1, 65536)),
    st.integers(0, 255),
)
def test_command_apdu_round_trip(data: bytes, le: int | None, ins: int) -> None:
    command = CommandApdu(0, ins, 1, 2, data, le)
    assert CommandApdu.parse(command.encode()) == command


def test_protected_extended_read_is_extended() -> None:
    sm = SecureMessaging(None, KS_ENC, KS_MAC, bytes(8))  # type: ignore[arg-type]
    protected = sm.protect(bytes.fromhex("00B00000") + b"\x00" + (20_000).to_bytes(2, "big"))
    command = CommandApdu.parse(protected)
    assert command.cla == 0x0C and command.le == 65536
    assert command.data.startswith(b"\x97\x02" + (20_000).to_bytes(2, "big"))


@pytest.mark.parametrize("limit", [256, 1000, 4096, 65280, 65535])
def test_max_read_is_the_largest_that_fits(limit: int) -> None:
    n = max_read_for(limit)
    assert protected_response_size(n) <= limit
    assert protected_response_size(n + 1) > limit or n == 65536


def test_short_sm_reads_231_bytes() -> None:
    # DO87 of 1 + 232 bytes (81 E9 header), DO99 and DO8E: 250 of the 256 a short answer holds
    assert max_read_for(256) == 231


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([0x9000, 0x6282, 0x6A82]))
def test_fuzz_unprotect_garbage(data: bytes, sw: int) -> None:
    sm = SecureMessaging(None, KS_ENC, KS_MAC, bytes(8))  # type: ignore[arg-type]
    try:
        plain, status = sm.unprotect(data, sw)
    except SecureMessagingError:
        return
    assert not data and status == sw != 0x9000  # only a bare error status gets through
