"""The IPP codec: RFC 8010 layouts, a round trip, collections, and fuzzing (only IppError)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ipp import (
    IppError,
    IppFailure,
    Message,
    Operation,
    Tag,
    decode,
    encode,
    supply_levels,
)


def attribute(tag: int, name: bytes, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(name)) + name + struct.pack(">H", len(value)) + value


def test_a_request_encodes_as_rfc_8010_lays_it_out():
    message = Message(Operation.GET_PRINTER_ATTRIBUTES, 7, ((Tag.OPERATION, {
        "attributes-charset": ["utf-8"], "requested-attributes": ["printer-state", "media-ready"],
    }),))
    raw = encode(message, {"attributes-charset": Tag.CHARSET,
                           "requested-attributes": Tag.KEYWORD})
    assert raw[:8] == bytes([2, 0, 0, 0x0B, 0, 0, 0, 7])
    assert raw[8] == Tag.OPERATION
    body = raw[9:]
    first = attribute(Tag.CHARSET, b"attributes-charset", b"utf-8")
    assert body.startswith(first)
    rest = body[len(first):]
    # The second value of a 1setOf has an empty name (RFC 8010 §3.1.5).
    assert rest == attribute(Tag.KEYWORD, b"requested-attributes", b"printer-state") + \
        attribute(Tag.KEYWORD, b"", b"media-ready") + bytes([Tag.END])


def test_a_response_with_a_collection_and_document_data_decodes():
    member = attribute(Tag.MEMBER_NAME, b"", b"media-size-name") + \
        attribute(Tag.KEYWORD, b"", b"iso_a4_210x297mm")
    raw = (bytes([2, 0, 0, 0, 0, 0, 0, 1, Tag.PRINTER])
           + attribute(Tag.ENUM, b"printer-state", struct.pack(">i", 3))
           + attribute(Tag.KEYWORD, b"printer-state-reasons", b"media-empty-report")
           + attribute(Tag.KEYWORD, b"", b"toner-low-report")
           + attribute(Tag.BOOLEAN, b"printer-is-accepting-jobs", b"\x01")
           + attribute(Tag.BEGIN_COLLECTION, b"media-col-ready", b"") + member
           + attribute(Tag.END_COLLECTION, b"", b"")
           + bytes([Tag.END]) + b"%PDF")
    message = decode(raw)
    assert message.ok and message.data == b"%PDF"
    printer = message.group(Tag.PRINTER)
    assert printer["printer-state"] == [3]
    assert printer["printer-state-reasons"] == ["media-empty-report", "toner-low-report"]
    assert printer["media-col-ready"] == [{"media-size-name": ["iso_a4_210x297mm"]}]
    assert printer["printer-is-accepting-jobs"] == [True]


def test_supply_levels_are_read_from_printer_supply():
    assert supply_levels([b"index=1;type=wasteToner;level=25;", b"index=2;type=toner;level=3;",
                          b"junk", "type=ink"]) == {"wasteToner": 25, "toner": 3}


@pytest.mark.parametrize("raw", [
    b"", b"\x02\x00", bytes([2, 0, 0, 0, 0, 0, 0, 1]),                 # no end tag
    bytes([2, 0, 0, 0, 0, 0, 0, 1, 0x21, 0, 1]),                       # a value outside a group
    bytes([2, 0, 0, 0, 0, 0, 0, 1, 1]) + attribute(0x21, b"", b"\0\0\0\1") + b"\x03",
    bytes([2, 0, 0, 0, 0, 0, 0, 1, 1]) + attribute(0x21, b"x", b"\0\0\1") + b"\x03",
])
def test_broken_messages_are_refused_as_malformed(raw):
    with pytest.raises(IppError) as error:
        decode(raw)
    assert error.value.failure is IppFailure.MALFORMED


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_ipp_errors(raw):
    try:
        decode(raw)
    except IppError:
        pass


@settings(max_examples=200, deadline=None)
@given(head=st.sampled_from([bytes([2, 0, 0, 0, 0, 0, 0, 1, 4])]),
       tail=st.lists(st.tuples(st.sampled_from([0x21, 0x22, 0x23, 0x34, 0x37, 0x41, 0x44, 0x4A,
                                                0x30, 0x31, 0x32, 0x33, 0x13, 0x04, 0x03]),
                               st.binary(max_size=6), st.binary(max_size=9)), max_size=12))
def test_plausible_attribute_streams_raise_only_ipp_errors(head, tail):
    raw = head + b"".join(attribute(t, n, v) for t, n, v in tail)
    try:
        decode(raw)
    except IppError:
        pass
