"""The call's signalling messages: what one side writes the other reads, and anything else is
refused with a reason, never an exception of another kind."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire.videocall import (
    CallMessage,
    CallWireError,
    IceServer,
    ItemRef,
    MessageType,
    new_call_id,
    parse_message,
)


def test_every_field_round_trips():
    message = CallMessage(
        MessageType.TAKEN, new_call_id(), sdp="v=0\r\n", tracks={"camera": "0", "screen": "1"},
        reason="agent", item_code="442000-BM-0001", agent="王 芳",
        items=(ItemRef("442000-BM-0001", {"zh": "生活缴费", "en": "Pay a bill"}),),
        ice_servers=(IceServer(("turn:127.0.0.1:3478?transport=udp",), "1:k", "c2VjcmV0"),),
        recording=True, level="audio_only", seq=7, calls=({"call_id": "x", "since": 1.5},))
    assert parse_message(message.dumps()) == message


@pytest.mark.parametrize("change, reason", [
    ({"v": 2}, "version"),
    ({"type": "dial"}, "type"),
    ({"call_id": "../../etc"}, "call_id"),
    ({"sdp": "x" * 40_000}, "sdp"),
    ({"item_code": "a b"}, "item_code"),
    ({"agent": "bad\nname"}, "agent"),
    ({"seq": -1}, "seq"),
    ({"seq": True}, "seq"),
    ({"recording": "yes"}, "recording"),
    ({"ice_servers": [{"urls": ["http://x"]}]}, "ice_servers"),
    ({"items": [{"code": "A", "name": {"zh": 5}}]}, "items"),
])
def test_malformed_fields_are_refused_by_name(change, reason):
    data = {"v": 1, "type": "offer", **change}
    with pytest.raises(CallWireError) as refused:
        parse_message(json.dumps(data))
    assert refused.value.reason == reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["v", "type", "call_id", "sdp", "tracks", "reason", "item_code", "items",
                     "ice_servers", "recording", "agent", "level", "seq", "calls"]),
    json_values, max_size=8))
def test_any_json_object_parses_or_is_refused_with_a_reason(data):
    data.setdefault("v", 1)
    try:
        parse_message(json.dumps(data))
    except CallWireError as exc:
        assert exc.reason


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused(raw):
    try:
        parse_message(raw)
    except CallWireError:
        pass
