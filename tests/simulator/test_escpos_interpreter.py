"""The ESC/POS interpreter: bytes in, page model and status replies out."""

import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.escpos_interpreter import EscposInterpreter
from simulator.escpos_page import Align, QrBlock, RasterBlock, TextLine
from simulator.escpos_render import render_page
from simulator.escpos_status import PaperSensors

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
CUT = GS + b"V\x00"


def qr_commands(payload: bytes, size: int = 4) -> bytes:
    def gs_k(body: bytes) -> bytes:
        return GS + b"(k" + len(body).to_bytes(2, "little") + body

    return (
        gs_k(b"1A2\x00")
        + gs_k(b"1C" + bytes([size]))
        + gs_k(b"1E1")
        + gs_k(b"1P0" + payload)
        + gs_k(b"1Q0")
    )


def one_page(data: bytes) -> object:
    interpreter = EscposInterpreter()
    assert interpreter.feed(data) == b""
    pages = interpreter.take_pages()
    assert len(pages) == 1
    return pages[0]


def test_text_lines_come_out_one_per_line_feed():
    page = one_page(ESC + b"@" + b"Hello\n" + ESC + b"a\x01" + b"Centre\n\n" + b"Tail" + CUT)
    assert page.text_lines == ["Hello", "Centre", "", "Tail"]


def test_chinese_mode_decodes_gb18030_and_leaving_it_restores_ascii():
    data = FS + b"&" + "出入境签注 Receipt".encode("gb18030") + FS + b".\n" + b"Total\n" + CUT
    assert one_page(data).text_lines == ["出入境签注 Receipt", "Total"]


def test_multibyte_character_split_across_feeds_is_kept_whole():
    interpreter = EscposInterpreter()
    data = FS + b"&" + "签注".encode("gb18030") + b"\n" + CUT
    for i in range(len(data)):
        interpreter.feed(data[i : i + 1])
    assert interpreter.take_pages()[0].text_lines == ["签注"]


def test_styles_and_alignment_are_recorded_per_line():
    data = (
        ESC + b"a\x02" + ESC + b"E\x01" + GS + b"!\x11" + b"Big\n"
        + ESC + b"!\x00" + ESC + b"a\x00" + b"small\n" + CUT
    )  # fmt: skip
    big, small = one_page(data).blocks
    assert isinstance(big, TextLine) and big.align is Align.RIGHT
    assert (big.spans[0].bold, big.spans[0].width, big.spans[0].height) == (True, 2, 2)
    assert (small.spans[0].bold, small.spans[0].width, small.align) == (False, 1, Align.LEFT)


def test_feed_lines_prints_the_buffer_then_feeds():
    page = one_page(b"a" + ESC + b"d\x03" + b"b" + CUT)
    assert page.text_lines == ["a", "", "", "b"]


def test_qr_code_is_recorded_and_drawn():
    page = one_page(ESC + b"a\x01" + qr_commands(b"https://kiosk.example/r/42") + CUT)
    (block,) = page.blocks
    assert isinstance(block, QrBlock) and block.align is Align.CENTER
    assert page.qr_payloads == ("https://kiosk.example/r/42",)
    assert page.text_lines == []


def test_qr_without_stored_data_prints_nothing():
    body = b"1Q0"
    page = one_page(GS + b"(k" + len(body).to_bytes(2, "little") + body + CUT)
    assert page.blocks == ()


def test_raster_bit_image_is_kept():
    image = GS + b"v0\x00" + b"\x02\x00" + b"\x02\x00" + b"\xff\x00\x0f\xf0"
    (block,) = one_page(image + CUT).blocks
    assert isinstance(block, RasterBlock) and (block.width_bytes, block.height) == (2, 2)
    paper = render_page(one_page(image + CUT))
    assert paper.width == 576 and paper.getextrema()[0] == 0


def test_unknown_and_skipped_commands_do_not_leak_into_the_text():
    data = (
        ESC + b"t\x10" + ESC + b"p\x00\x19\xfa" + GS + b"L\x00\x00" + ESC + b"D\x08\x10\x00"
        + GS + b"k\x04CODE39\x00" + GS + b"(L\x02\x0002" + b"ok\n" + CUT
    )  # fmt: skip
    assert one_page(data).text_lines == ["ok"]


def test_each_cut_finishes_a_page():
    interpreter = EscposInterpreter()
    interpreter.feed(b"one\n" + CUT + b"two\n" + GS + b"VA\x03")
    assert [page.text_lines for page in interpreter.take_pages()] == [["one"], ["two"]]
    assert interpreter.take_pages() == []


@pytest.mark.parametrize(
    ("sensors", "query", "reply"),
    [
        (PaperSensors(), DLE + b"\x04\x01", 0x12),
        (PaperSensors(paper_out=True), DLE + b"\x04\x01", 0x1A),
        (PaperSensors(cover_open=True), DLE + b"\x04\x01", 0x1A),
        (PaperSensors(), DLE + b"\x04\x02", 0x12),
        (PaperSensors(cover_open=True), DLE + b"\x04\x02", 0x16),
        (PaperSensors(paper_out=True), DLE + b"\x04\x02", 0x32),
        (PaperSensors(), DLE + b"\x04\x03", 0x12),
        (PaperSensors(cutter_error=True), DLE + b"\x04\x03", 0x1A),
        (PaperSensors(cutter_error=True), DLE + b"\x04\x02", 0x52),
        (PaperSensors(cutter_error=True), DLE + b"\x04\x01", 0x1A),
        (PaperSensors(), DLE + b"\x04\x04", 0x12),
        (PaperSensors(paper_near_end=True), DLE + b"\x04\x04", 0x1E),
        (PaperSensors(paper_out=True), DLE + b"\x04\x04", 0x72),
        (PaperSensors(), GS + b"r\x01", 0x00),
        (PaperSensors(paper_near_end=True), GS + b"r\x01", 0x03),
        (PaperSensors(paper_out=True), GS + b"r\x31", 0x0C),
    ],
)
def test_status_replies_reflect_the_sensors(sensors, query, reply):
    interpreter = EscposInterpreter(lambda: sensors)
    assert interpreter.feed(query) == bytes([reply])


def test_status_is_answered_in_the_middle_of_a_receipt():
    interpreter = EscposInterpreter()
    assert interpreter.feed(b"half a line" + DLE + b"\x04\x04" + b" more\n") == b"\x12"
    interpreter.feed(CUT)
    assert interpreter.take_pages()[0].text_lines == ["half a line more"]


def test_incomplete_command_waits_for_the_rest():
    interpreter = EscposInterpreter()
    assert interpreter.feed(DLE + b"\x04") == b""
    assert interpreter.feed(b"\x01") == b"\x12"


def test_huge_raster_header_is_discarded_not_buffered():
    interpreter = EscposInterpreter()
    interpreter.feed(GS + b"v0\x00\xff\xff\xff\xff")  # 4 GB announced
    interpreter.feed(b"\x00" * 100_000)
    assert len(interpreter._buffer) == 0


chunked_bytes = st.lists(st.binary(max_size=300), max_size=12)
interesting_bytes = st.lists(
    st.sampled_from(
        [ESC, GS, FS, DLE, b"\x04", b"(", b"k", b"v", b"V", b"&", b".", b"!", b"\n", b"\x00",
         b"\x01", b"\x31", b"\xff", b"\x81", b"\x30", b"a", CUT, qr_commands(b"x")]
    ),
    max_size=200,
).map(b"".join)  # fmt: skip


def assert_survives(chunks: list[bytes], caplog: pytest.LogCaptureFixture) -> None:
    interpreter = EscposInterpreter(lambda: PaperSensors(paper_out=True))
    started = time.monotonic()
    for chunk in chunks:
        assert isinstance(interpreter.feed(chunk), bytes)
    interpreter.feed(CUT)
    for page in interpreter.take_pages():
        assert all(isinstance(line, str) for line in page.text_lines)
    assert time.monotonic() - started < 2.0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunks=chunked_bytes)
def test_feed_never_raises_on_arbitrary_chunks(chunks, caplog):
    caplog.clear()
    assert_survives(chunks, caplog)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=interesting_bytes, cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_feed_never_raises_on_command_soup(data, cuts, caplog):
    caplog.clear()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    assert_survives([data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)], caplog)


@settings(max_examples=25, deadline=None)
@given(data=interesting_bytes)
def test_any_page_renders(data):
    interpreter = EscposInterpreter()
    interpreter.feed(data + CUT)
    for page in interpreter.take_pages()[:3]:
        assert render_page(page).width == 576
