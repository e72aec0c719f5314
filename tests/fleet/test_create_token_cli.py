"""`kiosk-fleet create-token`: sane lifetimes, expiry as a date, re-key tokens for enrolled kiosks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime

import pytest

from fleet.app import open_store
from fleet.auth import new_secret_token, token_hash
from fleet.config import FleetConfig
from kiosk.fleet_enrollment import generate_device_key
from wire.fleet import key_id, load_private_key

CLI = [sys.executable, "-m", "fleet.cli", "create-token"]


def create_token(data, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--data", str(data), *extra], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("ttl", ["-5", "0", "nan", "inf", "100000", "soon"])
def test_a_lifetime_that_is_not_a_sane_number_of_hours_is_refused(tmp_path, ttl):
    made = create_token(tmp_path, f"--ttl-hours={ttl}")
    assert made.returncode == 2
    assert "--ttl-hours" in made.stderr and made.stdout == ""


def test_the_expiry_prints_as_a_date(tmp_path):
    before = time.time()
    made = create_token(tmp_path, "--ttl-hours", "2")
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    expires = datetime.fromisoformat(printed["expires_at"])
    assert expires.tzinfo is not None  # a date with its offset, not a bare epoch number
    assert before + 2 * 3600 - 5 < expires.timestamp() < time.time() + 2 * 3600 + 5


async def test_a_rekey_token_is_made_only_for_an_enrolled_kiosk(tmp_path):
    refused = create_token(tmp_path, "--rekey", "K-NONE")
    assert refused.returncode == 2 and "no kiosk 'K-NONE' is enrolled" in refused.stderr

    store = await open_store(FleetConfig(data_dir=tmp_path))
    try:
        token, hashed = new_secret_token()
        await store.create_enrollment_token(hashed, "test", 3600)
        private_pem, public_pem = generate_device_key()
        kid = key_id(load_private_key(private_pem).public_key())
        await store.enroll(hashed, "K-A", public_pem.decode(), kid, "hall-1", "east", 15.0)
    finally:
        await store.close()

    made = create_token(tmp_path, "--rekey", "K-A", "--created-by", "ada")
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    assert printed["rekey_kiosk_id"] == "K-A"
    store = await open_store(FleetConfig(data_dir=tmp_path))
    try:
        new_pem, new_public = generate_device_key()
        new_kid = key_id(load_private_key(new_pem).public_key())
        enrolled = await store.enroll(
            token_hash(printed["token"]), "K-A", new_public.decode(), new_kid, "hall-1", "east", 15
        )
        assert enrolled.replaced_key_id == kid
        audit = await store.list_audit()
        (made_entry,) = [a for a in audit if a["actor"] == "ada"]
        assert made_entry["action"] == "create_enrollment_token"
        assert made_entry["detail"] == {"rekey": "K-A"}
    finally:
        await store.close()


async def test_a_token_bound_to_a_kiosk_and_site_records_the_binding(tmp_path):
    made = create_token(tmp_path, "--kiosk-id", "ZS-HALL-07", "--site", "city-hall")
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    assert (printed["kiosk_id"], printed["site"]) == ("ZS-HALL-07", "city-hall")
    store = await open_store(FleetConfig(data_dir=tmp_path))
    try:
        row = await store.db.fetchrow(
            "SELECT for_kiosk_id, for_site FROM enrollment_tokens WHERE token_hash = $1",
            token_hash(printed["token"]),
        )
    finally:
        await store.close()
    assert row == {"for_kiosk_id": "ZS-HALL-07", "for_site": "city-hall"}
