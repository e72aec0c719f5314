"""The shared wire schema: round trips, signatures, and parsers that never crash on bad input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.fleet_enrollment import generate_device_key
from wire.fleet import (
    HEADER_SIGNATURE,
    Command,
    CommandKind,
    DeviceHealth,
    DeviceStatus,
    EnrollmentRequest,
    Event,
    EventBatch,
    EventKind,
    Heartbeat,
    HeartbeatReply,
    Supply,
    SupplyLevel,
    UpdateStatus,
    WireError,
    WireErrorReason,
    canonical_string,
    key_id,
    load_private_key,
    sign_request,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
HB_KEYS = [
    "kiosk_id",
    "seq",
    "sent_at",
    "interval_s",
    "devices",
    "counters",
    "acks",
    "attention",
    "in_service",
    "wire_version",
    "update",
]
near_heartbeats = st.fixed_dictionaries(
    {},
    optional={k: json_values for k in HB_KEYS},
)


@pytest.mark.parametrize(
    "parser",
    [
        Heartbeat.from_json,
        EventBatch.from_json,
        HeartbeatReply.from_json,
        EnrollmentRequest.from_json,
        UpdateStatus.from_json,
    ],
)
@settings(max_examples=150, deadline=None)
@given(data=json_values | near_heartbeats)
def test_parsers_answer_bad_input_with_a_wire_error(parser, data):
    try:
        parser(data)
    except WireError as exc:
        assert isinstance(exc.reason, WireErrorReason)


def test_heartbeat_round_trips():
    hb = Heartbeat(
        kiosk_id="K-1",
        seq=7,
        sent_at=1.5,
        interval_s=15.0,
        software_version="1.0",
        devices=(
            DeviceStatus(
                "printer", DeviceHealth.FAULT, "jam", (Supply("paper", SupplyLevel.LOW, 3),)
            ),
        ),
        counters={"transactions_completed": 4},
    )
    assert Heartbeat.from_json(hb.to_json()) == hb
    event = Event.new(EventKind.DEVICE_FAULT, 2.0, device="printer", detail={"code": 3})
    assert EventBatch.from_json(EventBatch("K-1", (event,)).to_json()).events == (event,)
    reply = HeartbeatReply(3.0, 15.0, (Command("cmd-1", CommandKind.REBOOT, 1.0),), ("cmd-0",))
    assert HeartbeatReply.from_json(reply.to_json()) == reply


def test_update_status_round_trips_from_the_agents_own_status(tmp_path):
    """The heartbeat's update status as the update agent's status() gives it (its watch loop's
    snapshot over the updater's and the guard's files, written by the updater itself)."""
    from kiosk.config import load_config
    from kiosk.journal import Journal
    from kiosk.update.agent import UpdateAgent
    from kiosk.update.guard import write_json

    config = load_config(None, {"state_dir": str(tmp_path / "kiosk"), "update": {
        "slots_root": str(tmp_path / "opt"), "state_dir": str(tmp_path / "upd")}})
    journal = Journal(config.journal_path, "K-1")
    agent = UpdateAgent(config, lambda: False, journal, lambda: None, fleet_expected=True)
    layout = agent.layout
    layout.state_dir.mkdir(parents=True)
    write_json(layout.updater_file, {
        "phase": "refused", "request_id": "cmd-1", "target_version": "1.1.0",
        "last_result": {"id": "f" * 32, "outcome": "refused", "version": "1.1.0",
                        "reason": "bad_signature", "detail": "altered or forged", "at": 5.0}})
    agent._snapshot = agent._take_snapshot(agent.read_files())
    journal.close()
    status = UpdateStatus.from_agent(agent.status())
    assert (status.phase, status.request_id, status.target_version) == ("refused", "cmd-1", "1.1.0")
    assert status.last_result is not None and status.last_result.reason == "bad_signature"
    hb = Heartbeat("K-1", 1, 1.0, 15.0, software_version=status.running_version, update=status)
    assert Heartbeat.from_json(hb.to_json()) == hb
    garbage = {**status.to_json(), "last_result": {**status.last_result.to_json(), "id": "a b"}}
    with pytest.raises(WireError):
        UpdateStatus.from_json(garbage)


def test_unknown_wire_version_and_bad_identifiers_are_refused():
    data = Heartbeat("K-1", 1, 1.0, 15.0).to_json()
    with pytest.raises(WireError) as version:
        Heartbeat.from_json({**data, "wire_version": 99})
    assert version.value.reason is WireErrorReason.UNSUPPORTED_VERSION
    with pytest.raises(WireError) as ident:
        Heartbeat.from_json({**data, "kiosk_id": "../etc"})
    assert ident.value.reason is WireErrorReason.BAD_VALUE
    with pytest.raises(WireError):
        Heartbeat.from_json({**data, "counters": {"tx": -1}})
    with pytest.raises(WireError):
        Heartbeat.from_json({**data, "seq": True})


def test_signature_covers_method_path_time_nonce_and_body():
    private_pem, _ = generate_device_key()
    key = load_private_key(private_pem)
    headers = sign_request(private_pem, "POST", "/api/v1/x", b"body", 100.0, "n1")
    import base64

    sig = base64.b64decode(headers[HEADER_SIGNATURE])
    kid = key_id(key.public_key())
    import hashlib

    digest = hashlib.sha256(b"body").hexdigest()
    key.public_key().verify(
        sig, canonical_string("POST", "/api/v1/x", "100.000", "n1", digest, kid)
    )
    from cryptography.exceptions import InvalidSignature

    for changed in [
        ("GET", "/api/v1/x", "100.000", "n1", digest),
        ("POST", "/api/v1/y", "100.000", "n1", digest),
        ("POST", "/api/v1/x", "101.000", "n1", digest),
        ("POST", "/api/v1/x", "100.000", "n2", digest),
        ("POST", "/api/v1/x", "100.000", "n1", hashlib.sha256(b"other").hexdigest()),
    ]:
        with pytest.raises(InvalidSignature):
            key.public_key().verify(sig, canonical_string(*changed, kid))
    assert (
        sign_request(private_pem, "POST", "/p", b"", time.time())["X-Kiosk-Nonce"]
        != sign_request(private_pem, "POST", "/p", b"", time.time())["X-Kiosk-Nonce"]
    )


def test_version_2_round_trips_and_talks_to_a_version_1_kiosk():
    from tests.fleet import wire_v1
    from wire.fleet import ServiceOrder, ServiceState

    hb = Heartbeat(
        "K-1",
        3,
        1.5,
        15.0,
        service_state=ServiceState.OUT_OF_SERVICE,
        service_revision=4,
        started_at=1000.5,
        boot_id="0b6f3c2e-1d2a-4a57-9d8e-2f5a1c3b4d6e",
        restarts=2,
    )
    assert Heartbeat.from_json(hb.to_json()) == hb
    reply = HeartbeatReply(3.0, 15.0, (), ("cmd-0",), ServiceOrder(ServiceState.OUT_OF_SERVICE, 4))
    assert HeartbeatReply.from_json(reply.to_json()) == reply
    # What a v1 kiosk sends, the server reads; what the server answers it, the v1 kiosk reads.
    old = wire_v1.Heartbeat("K-1", 3, 1.5, 15.0, in_service=False).to_json()
    parsed = Heartbeat.from_json(old)
    assert (parsed.wire_version, parsed.in_service, parsed.restarts) == (1, False, None)
    answer = reply.to_json(parsed.wire_version)
    assert "service" not in answer
    assert wire_v1.HeartbeatReply.from_json(answer).acked == ("cmd-0",)
    with pytest.raises(wire_v1.WireError):
        wire_v1.HeartbeatReply.from_json(reply.to_json())  # why the version matters
