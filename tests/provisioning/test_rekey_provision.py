"""`kiosk-provision --rekey`: the same kiosk id ends enrolled with a new key the fleet knows, or the
run fails loudly and the kiosk keeps the key the fleet still accepts."""

from __future__ import annotations

from pathlib import Path

from tests.provisioning.provkit import PLACE, read_toml, run_cli, sim_argv
from wire.fleet import key_id, load_private_key


def kid_of(key_file: Path) -> str:
    return key_id(load_private_key(key_file.read_bytes()).public_key())


async def enrolled_kiosk(tmp_path, sim, fleet) -> str:
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", "--fleet-url", fleet.url),
        *("--enroll-token", await fleet.token(), *PLACE),
    )
    assert run.code == 0, run.out + run.err
    return read_toml(tmp_path)["kiosk_id"]


async def test_rekey_with_a_rekey_token_ends_enrolled_with_a_key_the_fleet_knows(
    tmp_path, sim, fleet
):
    kiosk_id = await enrolled_kiosk(tmp_path, sim, fleet)
    key_file = tmp_path / "etc" / "device.key"
    old_kid = kid_of(key_file)

    run = await run_cli(
        *sim_argv(tmp_path, sim, "--no-receipt", "--rekey", "--fleet-url", fleet.url),
        *("--enroll-token", await fleet.rekey_token(kiosk_id)),
        stdin="",
    )

    assert run.code == 0, run.out + run.err
    assert f"Fleet enrollment: rekeyed {fleet.url}" in run.out
    config = read_toml(tmp_path)
    new_kid = kid_of(key_file)
    assert config["kiosk_id"] == kiosk_id and new_kid != old_kid
    assert config["fleet"]["key_id"] == new_kid and config["fleet"]["enrolled_at"]
    assert (await fleet.store.kiosk_key(new_kid))["kiosk_id"] == kiosk_id
    assert await fleet.store.kiosk_key(old_kid) is None  # the old key no longer verifies


async def test_rekey_with_an_ordinary_token_fails_loudly_and_keeps_the_working_key(
    tmp_path, sim, fleet
):
    kiosk_id = await enrolled_kiosk(tmp_path, sim, fleet)
    key_file = tmp_path / "etc" / "device.key"
    key_before, fleet_before = key_file.read_bytes(), read_toml(tmp_path)["fleet"]

    run = await run_cli(
        *sim_argv(tmp_path, sim, "--no-receipt", "--rekey", "--fleet-url", fleet.url),
        *("--enroll-token", await fleet.token()),
        stdin="",
    )

    assert run.code == 1, run.out + run.err
    assert (
        f"  - enrollment: the fleet already has a kiosk {kiosk_id}; to give it a new key, ask the"
        f" operators for a re-key token (kiosk-fleet create-token --rekey {kiosk_id})"
    ) in run.out
    assert "NOT replaced: the fleet did not take the new key; the old one stays" in run.out
    assert key_file.read_bytes() == key_before  # the key the fleet knows is still on disk
    assert read_toml(tmp_path)["fleet"] == fleet_before
    assert (await fleet.store.kiosk_key(kid_of(key_file)))["kiosk_id"] == kiosk_id


async def test_a_replacement_machine_takes_over_a_kiosk_id_with_a_rekey_token(tmp_path, sim, fleet):
    kiosk_id = await enrolled_kiosk(tmp_path / "old", sim, fleet)
    old_kid = read_toml(tmp_path / "old")["fleet"]["key_id"]

    run = await run_cli(
        *sim_argv(tmp_path / "new", sim, "--pin-stdin", "--no-receipt", "--kiosk-id", kiosk_id),
        *("--fleet-url", fleet.url, "--enroll-token", await fleet.rekey_token(kiosk_id), *PLACE),
    )

    assert run.code == 0, run.out + run.err
    new_kid = kid_of(tmp_path / "new" / "etc" / "device.key")
    assert (await fleet.store.kiosk_key(new_kid))["kiosk_id"] == kiosk_id
    assert await fleet.store.kiosk_key(old_kid) is None
