"""Codes from camera frames: decoding with zbar and the kind guess shared with the serial scanner."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.barcode_camera import BarcodeReader, CodeKind, guess_kind
from simulator.camera import SceneComposer


@pytest.fixture(scope="module")
def reader() -> BarcodeReader:
    return BarcodeReader()


@pytest.mark.parametrize(
    ("data", "symbology", "kind"),
    [
        ("134567890123456789", "CODE128", CodeKind.PAYMENT_CODE),
        ("104567890123456789", "QRCODE", CodeKind.PAYMENT_CODE),
        ("154567890123456789", None, CodeKind.PAYMENT_CODE),
        ("164567890123456789", "CODE128", CodeKind.BILL_BARCODE),  # 16: not a wallet's range
        ("13456789012345678", "CODE128", CodeKind.BILL_BARCODE),  # 17 digits
        ("1345678901234567890", "CODE128", CodeKind.BILL_BARCODE),  # 19 digits
        ("164567890123456789", "QRCODE", CodeKind.APPOINTMENT),
        ("https://gov.example/appt?id=A042", "QRCODE", CodeKind.APPOINTMENT),
        ("BILL8812345670", "CODE128", CodeKind.BILL_BARCODE),
        ("BILL8812345670", None, CodeKind.BILL_BARCODE),
        ("预约号 A042", None, CodeKind.APPOINTMENT),
    ],
)
def test_kind_is_guessed_from_content_and_symbology(data, symbology, kind):
    assert guess_kind(data, symbology) is kind


@given(
    st.from_regex(r"1[0-5][0-9]{16}", fullmatch=True), st.sampled_from(["QRCODE", "CODE128", None])
)
def test_every_wallet_code_is_a_payment_code(data, symbology):
    assert guess_kind(data, symbology) is CodeKind.PAYMENT_CODE


@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=12)))
def test_any_text_gets_a_kind(data, symbology):
    assert isinstance(guess_kind(data, symbology), CodeKind)


def frame_showing(data: str, kind: str) -> np.ndarray:
    composer = SceneComposer(seed=2)
    composer.scene = "live"
    composer.show_code(data, kind)
    return composer.next_frame()


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        ("134567890123456789", "code128", CodeKind.PAYMENT_CODE),
        ("134567890123456789", "qr", CodeKind.PAYMENT_CODE),
        ("APPT-2026-0042 中山东区", "qr", CodeKind.APPOINTMENT),
        ("BILL8812345670", "code128", CodeKind.BILL_BARCODE),
    ],
)
def test_a_code_held_to_the_camera_is_read(reader, data, kind, expected):
    (code,) = reader.decode(frame_showing(data, kind))
    assert code.data == data and code.kind is expected
    assert code.symbology == ("QRCODE" if kind == "qr" else "CODE128")
    assert data not in repr(code)


def test_a_frame_without_codes_reads_nothing(reader):
    composer = SceneComposer(seed=2)
    composer.scene = "live"
    assert reader.decode(composer.next_frame()) == []


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 80), st.integers(1, 80), st.sampled_from([1, 3])),
    )
)
def test_any_frame_decodes_to_a_list(frame):
    if frame.shape[2] == 1:
        frame = frame[:, :, 0]
    assert isinstance(BarcodeReader().decode(frame), list)
