"""Re-keying an enrolled kiosk: a token made for that kiosk replaces its key, and only its key.

On both store backends, against the running server: the old key stops verifying at once, the
kiosk keeps its history, and the audit log says which key replaced which.
"""

from __future__ import annotations

import pytest

from fleet.auth import new_secret_token
from fleet.store import NoSuchKiosk
from kiosk.fleet_enrollment import FleetError, enroll, generate_device_key
from tests.fleet.fleetkit import Kiosk
from wire.fleet import key_id, load_private_key


async def rekey_token(fleet, kiosk_id: str) -> str:
    token, hashed = new_secret_token()
    await fleet.store.create_enrollment_token(hashed, "test", 3600, rekey_kiosk_id=kiosk_id)
    return token


def kid_of(private_pem: bytes) -> str:
    return key_id(load_private_key(private_pem).public_key())


async def test_a_rekey_token_replaces_the_key_and_the_old_one_stops_verifying(fleet):
    old = await fleet.enroll_kiosk("K-A", site="hall-1", region="east")
    assert (await fleet.heartbeat(old))[0] == 200  # the verifier has the old key cached now

    new_pem, new_public = generate_device_key()
    answer = await enroll(
        fleet.url, await rekey_token(fleet, "K-A"), new_pem, "K-A", "hall-2", "east"
    )

    assert answer["key_id"] == kid_of(new_pem)
    assert answer["replaced_key_id"] == kid_of(old.private_pem)
    status, reply = await fleet.heartbeat(old)
    assert (status, reply["error"]) == (401, "unknown_key")
    new = Kiosk("K-A", new_pem, new_public, seq=old.seq)
    assert (await fleet.heartbeat(new))[0] == 200
    kiosk = await fleet.store.get_kiosk("K-A")
    assert kiosk["site"] == "hall-2" and kiosk["heartbeats"] == 2  # same kiosk, its history kept
    assert await fleet.store.kiosk_key(kid_of(old.private_pem)) is None
    (entry,) = [a for a in await fleet.store.list_audit() if a["action"] == "rekey"]
    assert entry["target"] == "K-A" and entry["outcome"] == "ok"
    assert entry["detail"]["old_key_id"] == kid_of(old.private_pem)
    assert entry["detail"]["key_id"] == kid_of(new_pem)


async def test_a_rekey_token_works_only_for_its_kiosk_and_only_once(fleet):
    await fleet.enroll_kiosk("K-A")
    await fleet.enroll_kiosk("K-B")
    token = await rekey_token(fleet, "K-A")
    other_pem, _ = generate_device_key()
    with pytest.raises(FleetError) as wrong:
        await enroll(fleet.url, token, other_pem, "K-B", "hall-1", "east")
    assert (wrong.value.status, wrong.value.code) == (403, "token_for_other_kiosk")
    with pytest.raises(FleetError) as fresh:
        await enroll(fleet.url, token, other_pem, "K-NEW", "hall-1", "east")
    assert fresh.value.code == "token_for_other_kiosk"  # nor does it enroll a new kiosk

    await enroll(fleet.url, token, other_pem, "K-A", "hall-1", "east")  # still unspent: works
    again_pem, _ = generate_device_key()
    with pytest.raises(FleetError) as spent:
        await enroll(fleet.url, token, again_pem, "K-A", "hall-1", "east")
    assert spent.value.code == "token_used"


async def test_an_ordinary_token_still_cannot_take_over_an_enrolled_kiosk(fleet):
    await fleet.enroll_kiosk("K-A")
    pem, _ = generate_device_key()
    with pytest.raises(FleetError) as taken:
        await enroll(fleet.url, await fleet.token(), pem, "K-A", "hall-1", "east")
    assert taken.value.code == "kiosk_exists"


async def test_a_rekey_to_the_same_key_is_refused(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    with pytest.raises(FleetError) as same:
        await enroll(
            fleet.url, await rekey_token(fleet, "K-A"), kiosk.private_pem, "K-A", "hall-1", "east"
        )
    assert same.value.code == "key_in_use"
    assert (await fleet.heartbeat(kiosk))[0] == 200


async def test_no_rekey_token_for_a_kiosk_the_fleet_does_not_have(fleet):
    _token, hashed = new_secret_token()
    with pytest.raises(NoSuchKiosk):
        await fleet.store.create_enrollment_token(hashed, "test", 3600, rekey_kiosk_id="K-NONE")
