"""drivers.idcard_sam and drivers.idcard_text: frames, checksums, resync, the text block.

The SamReader tests here drive it over `ScriptedWire`, a transport that answers each request
with the frames a module would send; the real serial path is tested against the simulator in
tests/integration/test_idcard_over_pty.py.
"""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.idcard_sam import SamReader, parse_base_info
from drivers.idcard_sam_frames import (
    PREAMBLE,
    Command,
    FrameDecoder,
    SamError,
    SamFailure,
    checksum,
    encode_request,
    encode_response,
    parse_response,
)
from drivers.idcard_text import (
    IdentityText,
    TextBlockError,
    TextBlockReason,
    decode_text_block,
    encode_text_block,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Request frames as printed in vendor manuals of SAM_A modules.
@pytest.mark.parametrize(
    ("command", "frame"),
    [
        (Command.FIND_CARD, "AAAAAA9669 0003 2001 22"),
        (Command.SELECT_CARD, "AAAAAA9669 0003 2002 21"),
        (Command.READ_BASE, "AAAAAA9669 0003 3001 32"),
        (Command.SAM_STATUS, "AAAAAA9669 0003 11FF ED"),
        (Command.READ_SAM_ID, "AAAAAA9669 0003 12FF EE"),
    ],
)
def test_request_frames_match_the_published_bytes(command: Command, frame: str) -> None:
    assert encode_request(command) == h(frame)


def test_a_published_find_card_answer_parses() -> None:
    response = parse_response(h("AAAAAA9669 0008 00009F 00000000 97"))
    assert (response.sw1, response.sw2, response.sw3, response.data) == (0, 0, 0x9F, bytes(4))


def test_checksum_covers_length_through_data() -> None:
    frame = encode_response(0x90, b"\x01\x02\x03")
    assert frame[-1] == checksum(frame[len(PREAMBLE) : -1])
    assert int.from_bytes(frame[5:7], "big") == len(frame) - 7  # length counts the checksum


def test_a_corrupt_checksum_is_refused() -> None:
    frame = bytearray(encode_response(0x90, b"abc"))
    frame[-2] ^= 0x01
    with pytest.raises(SamError) as err:
        parse_response(bytes(frame))
    assert err.value.reason is SamFailure.BAD_CHECKSUM


def test_decoder_skips_garbage_between_frames_and_takes_bytes_one_at_a_time() -> None:
    stream = b"\x00\xaa\xaa\x55" + encode_response(0x9F, bytes(4)) + b"\xaa\xaa\xaa\x96"
    stream += encode_response(0x90, bytes(8))
    decoder, frames = FrameDecoder(), []
    for byte in stream:
        decoder.feed(bytes([byte]))
        while (frame := decoder.next_frame()) is not None:
            frames.append(frame)
    assert [f.sw3 for f in frames] == [0x9F, 0x90]
    assert frames[1].data == bytes(8)


def test_decoder_resynchronises_after_a_broken_frame() -> None:
    broken = bytearray(encode_response(0x90, b"xyz"))
    broken[-1] ^= 0xFF
    decoder = FrameDecoder()
    decoder.feed(bytes(broken) + encode_response(0x9F, bytes(4)))
    with pytest.raises(SamError) as err:
        decoder.next_frame()
    assert err.value.reason is SamFailure.BAD_CHECKSUM
    frame = decoder.next_frame()
    assert frame is not None and frame.sw3 == 0x9F


def test_decoder_slides_past_a_false_preamble_with_an_impossible_length() -> None:
    decoder = FrameDecoder()
    decoder.feed(PREAMBLE + b"\xff\xff" + encode_response(0x80))
    frame = decoder.next_frame()
    assert frame is not None and frame.sw3 == 0x80


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=20))
def test_fuzzed_streams_raise_only_sam_errors(noise: bytes, cuts: list[int]) -> None:
    stream = noise + encode_response(0x90, noise[:40]) + noise[::-1]
    decoder = FrameDecoder()
    position = 0
    for cut in cuts + [len(stream)]:
        decoder.feed(stream[position : position + cut])
        position += cut
        while True:
            try:
                if decoder.next_frame() is None:
                    break
            except SamError:
                continue
    assert decoder.pending < len(stream) + 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_single_frames_raise_only_sam_errors(data: bytes) -> None:
    for frame in (data, PREAMBLE + data):
        try:
            parse_response(frame)
        except SamError:
            pass


# --- the text block ---

CITIZEN = IdentityText(
    name="张三", sex="1", ethnicity="01", birth_date="19491231", address="北京市朝阳区某路1号",
    id_number="11010519491231002X", issuing_authority="北京市公安局朝阳分局",
    valid_from="20150101", valid_to="长期", id_number_valid=True,
)  # fmt: skip


def field(text: str, size: int) -> bytes:
    raw = text.encode("utf-16-le")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def hand_made_block(**override: str) -> bytes:
    values = {
        "name": "张三", "sex": "1", "ethnicity": "01", "birth": "19491231",
        "address": "北京市朝阳区某路1号", "id": "11010519491231002X",
        "authority": "北京市公安局朝阳分局", "from": "20150101", "to": "长期", "reserved": "",
    } | override  # fmt: skip
    sizes = (30, 2, 4, 16, 70, 36, 30, 16, 16, 36)
    return b"".join(field(v, s) for v, s in zip(values.values(), sizes, strict=True))


def test_a_hand_made_block_decodes_field_by_field() -> None:
    text = decode_text_block(hand_made_block())
    assert text == CITIZEN
    assert text.sex_name == "male" and text.ethnicity_name == "汉"


def test_a_wrong_check_digit_is_reported_not_refused() -> None:
    text = decode_text_block(hand_made_block(id="110105194912310021"))
    assert text.id_number == "110105194912310021" and not text.id_number_valid


def test_repr_and_masked_view_hide_personal_fields() -> None:
    shown = repr(decode_text_block(hand_made_block()))
    for secret in ("张三", "11010519491231002X", "19491231", "朝阳区某路"):
        assert secret not in shown
    assert "1101**********002X" in shown


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"sex": "5"}, TextBlockReason.FIELD_INVALID),
        ({"ethnicity": "77"}, TextBlockReason.FIELD_INVALID),
        ({"birth": "1949-12-"}, TextBlockReason.FIELD_INVALID),
        ({"to": "永远"}, TextBlockReason.FIELD_INVALID),
        ({"name": ""}, TextBlockReason.FIELD_INVALID),
        ({"reserved": " " * 14 + "I"}, TextBlockReason.OTHER_CARD_TYPE),
        ({"name": "张\n"}, TextBlockReason.NOT_UCS2),
    ],
)
def test_blocks_that_cannot_be_a_resident_card_are_refused(override, reason) -> None:
    with pytest.raises(TextBlockError) as err:
        decode_text_block(hand_made_block(**override))
    assert err.value.reason is reason


def test_an_unpaired_surrogate_is_refused() -> None:
    block = bytearray(hand_made_block())
    block[0:2] = b"\x00\xd8"
    with pytest.raises(TextBlockError) as err:
        decode_text_block(bytes(block))
    assert err.value.reason is TextBlockReason.NOT_UCS2


def test_wrong_size_is_refused() -> None:
    with pytest.raises(TextBlockError) as err:
        decode_text_block(bytes(255))
    assert err.value.reason is TextBlockReason.WRONG_SIZE


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=256, max_size=256))
def test_fuzzed_blocks_raise_only_text_block_errors(block: bytes) -> None:
    try:
        decode_text_block(block)
    except TextBlockError:
        pass


printable = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1)


@settings(max_examples=100, deadline=None)
@given(
    name=printable.filter(lambda s: len(s) <= 15),
    address=printable.filter(lambda s: len(s) <= 35),
    birth=st.dates().map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: len(s) == 8),
)
def test_encoded_blocks_decode_to_the_same_fields(name: str, address: str, birth: str) -> None:
    text = IdentityText(
        **(CITIZEN.as_dict() | {"name": name, "address": address, "birth_date": birth})
    )
    assert decode_text_block(encode_text_block(text)) == text


def test_base_info_splits_text_and_photo_by_their_declared_lengths() -> None:
    photo = bytes(range(256)) * 4
    contents = parse_base_info(b"\x01\x00\x04\x00" + hand_made_block() + photo)
    assert contents.text == CITIZEN and contents.photo == photo and contents.fingerprint is None
    assert "张三" not in repr(contents)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1400), st.booleans())
def test_fuzzed_base_info_raises_only_sam_errors(data: bytes, with_fingerprint: bool) -> None:
    try:
        parse_base_info(data, with_fingerprint)
    except SamError:
        pass


# --- the reader over a scripted wire ---


class ScriptedWire:
    """Answers each request with the next scripted bytes (b"" = silence)."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = deque(answers)
        self.requests: list[bytes] = []
        self._inbox = b""

    def write(self, data: bytes) -> None:
        self.requests.append(data)
        self._inbox = self.answers.popleft() if self.answers else b""

    def read(self, max_bytes: int, timeout: float) -> bytes:
        chunk, self._inbox = self._inbox[:max_bytes], self._inbox[max_bytes:]
        return chunk

    def discard_input(self) -> None:
        self._inbox = b""

    def close(self) -> None:
        pass


def reader(*answers: bytes) -> tuple[SamReader, ScriptedWire]:
    wire = ScriptedWire(*answers)
    return SamReader(wire, timeout=0.05, read_timeout=0.05), wire


def test_find_card_tells_card_from_no_card() -> None:
    sam, _ = reader(encode_response(0x9F, bytes(4)), encode_response(0x80))
    assert sam.find_card() is True
    assert sam.find_card() is False


def test_a_broken_then_good_answer_is_retried_transparently() -> None:
    good = encode_response(0x9F, bytes(4))
    sam, wire = reader(good[:-1] + b"\x00", good[:9], b"noise" + good)
    assert sam.find_card() is True
    assert len(wire.requests) == 3


def test_a_module_that_refuses_our_frame_gets_it_again() -> None:
    sam, wire = reader(encode_response(0x10), encode_response(0x90, bytes(8)))
    sam.select_card()
    assert len(wire.requests) == 2


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ((b"",), SamFailure.NO_RESPONSE),
        ((encode_response(0x90)[:9],) * 3, SamFailure.TRUNCATED),
        ((encode_response(0x9F, bytes(4)), encode_response(0x81)), SamFailure.SELECT_FAILED),
        ((encode_response(0x80),), SamFailure.NO_CARD),
        ((encode_response(0x9F), encode_response(0x90), encode_response(0x41)), SamFailure.READ_FAILED),
        ((encode_response(0x9F), encode_response(0x90), encode_response(0x21)), SamFailure.NOT_SUPPORTED),
        ((encode_response(0x9F), encode_response(0x90), encode_response(0x66)), SamFailure.SAM_FAULT),
        ((encode_response(0x9F), encode_response(0x90), encode_response(0x90, bytes(10))), SamFailure.MALFORMED),
    ],
)  # fmt: skip
def test_read_card_failures_carry_their_reason(answers, reason) -> None:
    sam, _ = reader(*answers)
    with pytest.raises(SamError) as err:
        sam.read_card()
    assert err.value.reason is reason


def test_read_with_fingerprint_and_new_address() -> None:
    photo, fingerprint = b"P" * 1024, b"F" * 1024
    lengths = b"\x01\x00\x04\x00\x04\x00"
    address = "广东省中山市东区某路2号".encode("utf-16-le").ljust(70, b"\x00")
    sam, wire = reader(
        encode_response(0x90, lengths + hand_made_block() + photo + fingerprint),
        encode_response(0x90, address),
        encode_response(0x91),
    )
    contents = sam.read_base(with_fingerprint=True)
    assert contents.fingerprint == fingerprint and contents.photo == photo
    assert sam.read_new_address() == "广东省中山市东区某路2号"
    assert sam.read_new_address() is None
    assert [r[7:9] for r in wire.requests] == [b"\x30\x10", b"\x30\x03", b"\x30\x03"]
