"""Bundles and rollouts on the fleet server, with real bundles from the real builder: uploads
checked as a kiosk checks them, downloads that resume through the fleet, and rollouts that
choose kiosks by region, site, tag and stage, paused, resumed and aborted honestly."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.config import FleetConfig
from fleet.rollouts import in_stage
from fleet.store import Role
from kiosk.update.download import DownloadPolicy, download
from tests.fleet.fleetkit import Fleet
from tests.update.fleetops import part, post, upload
from wire.fleet import API_PREFIX, UpdateStatus

BOTH_STORES = pytest.mark.parametrize("fleet", ["sqlite", "postgresql"], indirect=True)
# What a kiosk that takes updates says of them on every heartbeat (kiosk.fleet_updates).
KNOWS_UPDATES = UpdateStatus("1.0.0", "a").to_json()
FLEET = 100  # kiosks in the staged rollout: 10% of them is never none (0.9^100)


@pytest.fixture
async def bundle(fleet, operator, releases) -> dict:
    status, uploaded = await upload(operator, fleet, releases.get("1.1.0").bundle)
    assert status == 201
    return uploaded


async def test_a_fleet_without_release_keys_refuses_uploads_and_says_why(tmp_path, releases):
    fleet = Fleet(FleetConfig(data_dir=tmp_path / "fleet"))
    await fleet.start()
    try:
        operator = await fleet.operator("olga", Role.OPERATOR)
        status, answer = await upload(operator, fleet, releases.get("1.1.0").bundle)
        await operator.close()
    finally:
        await fleet.close()
    assert status == 409 and answer["error"] == "no_release_keys"
    assert "--release-key" in answer["message"]


async def test_a_bundle_signed_by_another_key_or_not_a_bundle_is_refused(
        fleet, operator, releases, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.update.releases import build_release

    stranger = build_release(tmp_path / "other", Ed25519PrivateKey.generate(), "1.1.0")
    status, answer = await upload(operator, fleet, stranger.bundle)
    assert (status, answer["reason"]) == (422, "untrusted_key")
    garbage = tmp_path / "garbage.kbundle"
    garbage.write_bytes(b"not a bundle at all" * 100)
    status, answer = await upload(operator, fleet, garbage)
    assert (status, answer["reason"]) == (422, "not_a_bundle")
    assert await fleet.store.list_bundles() == []
    viewer = await fleet.operator("vic", Role.VIEWER)
    async with viewer.post(f"{fleet.url}{API_PREFIX}/bundles", data=b"x") as r:
        assert r.status == 403
    await viewer.close()


async def test_a_kiosk_download_through_the_fleet_resumes_where_it_stopped(
        fleet, bundle, releases, tmp_path):
    """The kiosk's own downloader: the link drops after a part; the next attempt asks for the
    rest with Range and If-Range, and the file is whole."""
    source = releases.get("1.1.0").bundle
    url = f"{fleet.url}{API_PREFIX}/bundles/{bundle['digest']}.kbundle"
    dest = tmp_path / "kiosk" / "b.kbundle"
    dest.parent.mkdir()
    cut = source.stat().st_size // 3

    class LinkDropped(Exception):
        pass

    def drop_after_a_third(have: int, total: int | None) -> None:
        if have >= cut:
            raise LinkDropped

    with pytest.raises(LinkDropped):
        await asyncio.to_thread(download, url, dest, DownloadPolicy(), drop_after_a_third)
    partial = dest.with_name(dest.name + ".part").stat().st_size
    assert cut <= partial < source.stat().st_size
    firsts: list[int] = []
    await asyncio.to_thread(download, url, dest, DownloadPolicy(),
                            lambda have, total: firsts.append(have))
    assert firsts[0] > partial  # the second request started where the first stopped
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(
        source.read_bytes()).digest()
    async with fleet.http.get(f"{fleet.url}{API_PREFIX}/bundles/{'0' * 64}.kbundle") as r:
        assert r.status == 404


@BOTH_STORES
async def test_a_rollout_chooses_kiosks_by_place_and_tag(fleet, operator, bundle):
    for kiosk_id, site, region in (("E-1", "hall-1", "east"), ("E-2", "hall-2", "east"),
                                   ("W-1", "hall-3", "west")):
        await fleet.enroll_kiosk(kiosk_id, site, region)
    await fleet.store.set_tags("W-1", ["pilot"], "test")
    chosen = {}
    for target in ({"region": "east"}, {"site": "hall-2"}, {"tag": "pilot"}, {}):
        status, rollout = await post(operator, fleet, "/rollouts",
                                     {"digest": bundle["digest"], **target})
        assert status == 201, rollout
        chosen[tuple(target.values())] = sorted(k["kiosk_id"] for k in rollout["kiosks"])
        await post(operator, fleet, f"/rollouts/{rollout['rollout_id']}/abort")
    assert chosen == {("east",): ["E-1", "E-2"], ("hall-2",): ["E-2"], ("pilot",): ["W-1"],
                      (): ["E-1", "E-2", "W-1"]}
    status, refused = await post(operator, fleet, "/rollouts", {"digest": "f" * 64})
    assert (status, refused["error"]) == (404, "no_such_bundle")
    status, refused = await post(operator, fleet, "/rollouts",
                                 {"digest": bundle["digest"], "percent": 0})
    assert status == 400


@given(st.text(min_size=1, max_size=12), st.lists(st.text(min_size=1, max_size=12), max_size=30),
       st.integers(1, 99))
def test_a_higher_stage_keeps_every_kiosk_of_the_lower(rollout_id, kiosk_ids, percent):
    for kiosk_id in kiosk_ids:
        if in_stage(rollout_id, kiosk_id, percent):
            assert in_stage(rollout_id, kiosk_id, percent + 1)
        assert in_stage(rollout_id, kiosk_id, 100)


@BOTH_STORES
async def test_stages_pause_resume_and_abort_say_what_happened_to_each_kiosk(
        fleet, operator, bundle):
    kiosks = {}
    for n in range(FLEET):
        kiosks[f"K-{n:03d}"] = await fleet.enroll_kiosk(f"K-{n:03d}", "hall-1", "east")
    status, rollout = await post(operator, fleet, "/rollouts",
                                 {"digest": bundle["digest"], "percent": 10})
    rollout_id = rollout["rollout_id"]
    first = {k["kiosk_id"] for k in rollout["kiosks"]}
    assert 1 < len(first) < FLEET // 4  # 10%, by a stable hash: about 10
    assert first == {k for k in kiosks if in_stage(rollout_id, k, 10)}
    # One chosen kiosk is seen: its command is delivered and no pause can take it back.
    seen, old = sorted(first)[:2]
    status_code, reply = await fleet.heartbeat(kiosks[seen], update=KNOWS_UPDATES)
    (command,) = reply["commands"]
    assert command["kind"] == "update"
    assert command["params"] == {"manifest_digest": bundle["digest"],
                                 "url": f"{fleet.url}{API_PREFIX}/bundles/{bundle['digest']}.kbundle"}
    status, paused = await post(operator, fleet, f"/rollouts/{rollout_id}/pause")
    assert paused["withdrawn"] == len(first) - 1
    after = {k["kiosk_id"]: k["status"] for k in paused["rollout"]["kiosks"]}
    assert after.pop(seen) == "queued" and set(after.values()) == {"waiting"}
    await fleet.heartbeat(kiosks[seen], update=KNOWS_UPDATES)  # the kiosk has it: "requested"
    assert (await part(fleet, rollout_id, seen))["status"] == "requested"
    status, staged = await post(operator, fleet, f"/rollouts/{rollout_id}/stage", {"percent": 100})
    assert staged["added"] == FLEET - len(first)
    assert {k["status"] for k in staged["rollout"]["kiosks"]} == {"waiting", "requested"}
    status, _ = await post(operator, fleet, f"/rollouts/{rollout_id}/stage", {"percent": 10})
    assert status == 409  # a stage only grows
    status, resumed = await post(operator, fleet, f"/rollouts/{rollout_id}/resume")
    assert resumed["sent"] == FLEET - 1
    other = sorted(set(kiosks) - {seen, old})[0]
    status_code, reply = await fleet.heartbeat(kiosks[other], update=KNOWS_UPDATES)
    assert [c["kind"] for c in reply["commands"]] == ["update"]
    # A kiosk whose software knows nothing of updates is not sent the command: its reply would
    # be refused whole. Its part fails with what to do instead.
    status_code, reply = await fleet.heartbeat(kiosks[old])
    assert status_code == 200 and reply["commands"] == []
    refused = await part(fleet, rollout_id, old)
    assert refused["status"] == "failed" and "kiosk-update install" in refused["detail"]
    status, aborted = await post(operator, fleet, f"/rollouts/{rollout_id}/abort")
    assert aborted["withdrawn"] == FLEET - 3
    statuses = {k["kiosk_id"]: k["status"] for k in aborted["rollout"]["kiosks"]}
    assert statuses.pop(seen) == "requested" and statuses.pop(other) == "queued"
    assert statuses.pop(old) == "failed"
    assert set(statuses.values()) == {"cancelled"}
    status, refused = await post(operator, fleet, f"/rollouts/{rollout_id}/resume")
    assert (status, refused["error"]) == (409, "aborted")
    audit = {a["action"] for a in await fleet.store.list_audit(limit=5000)}
    for action in ("bundle_upload", "rollout_create", "rollout_paused", "rollout_stage",
                   "rollout_active", "rollout_aborted"):
        assert action in audit
