"""`kiosk-fleet`: an operator and a token from the command line, then a kiosk enrolls and beats."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import aiohttp

from fleet.status import Thresholds
from kiosk.fleet_enrollment import enroll, generate_device_key
from tests.fleet.fleetkit import free_port
from wire.fleet import sign_request

CLI = [sys.executable, "-m", "fleet.cli"]


def _add_user(data, *args, password="long enough password\n"):
    return subprocess.run(
        [*CLI, "add-user", "--data", data, *args], input=password, text=True, capture_output=True
    )


async def _wait_up(http, url):
    for _ in range(100):
        try:
            async with http.get(url + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    raise AssertionError("server did not start")


async def test_cli_serves_and_bootstraps_an_operator_and_a_token(tmp_path):
    data = str(tmp_path / "fleet")
    added = _add_user(data, "--username", "ada", "--role", "admin")
    assert added.returncode == 0, added.stderr
    assert _add_user(data, "--username", "bob", password="short\n").returncode == 2
    made = subprocess.run([*CLI, "create-token", "--data", data], capture_output=True, text=True)
    token = json.loads(made.stdout)["token"]
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - the server's, closed below
    # --offline-multiple alone: it must take effect (it used to need --late-multiple too).
    server = subprocess.Popen(
        [*CLI, "serve", "--data", data, "--port", str(port), "--offline-multiple", "2.6"],
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await _wait_up(http, url)
            private_pem, _ = generate_device_key()
            answer = await enroll(url, token, private_pem, "K-CLI", "hall", "east")
            assert answer["kiosk_id"] == "K-CLI"
            body = json.dumps(
                {"kiosk_id": "K-CLI", "seq": 1, "sent_at": time.time(), "interval_s": 0.5}
            ).encode()
            path = "/api/v1/kiosks/K-CLI/heartbeat"
            headers = sign_request(private_pem, "POST", path, body, time.time())
            async with http.post(url + path, data=body, headers=headers) as r:
                assert r.status == 200
            async with http.post(
                url + "/api/v1/session",
                json={"username": "ada", "password": "long enough password"},
            ) as r:
                assert r.status == 200 and (await r.json())["role"] == "admin"
            # 2 s of silence is 4 intervals: late with the default 5, offline with 2.6.
            await asyncio.sleep(2.0)
            async with http.get(url + "/api/v1/kiosks") as r:
                (kiosk,) = (await r.json())["kiosks"]
            assert (kiosk["kiosk_id"], kiosk["connectivity"]) == ("K-CLI", "offline")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    assert any(f"listening on http://127.0.0.1:{port}" in line for line in lines)
    assert any("kiosk enrolled" in line and "kiosk=K-CLI" in line for line in lines)


def test_add_user_refuses_an_existing_user_unless_told_to_reset_the_password(tmp_path):
    data = str(tmp_path / "fleet")
    assert _add_user(data, "--username", "ada", "--role", "admin").returncode == 0
    again = _add_user(data, "--username", "ada", "--role", "viewer", password="another password\n")
    assert again.returncode == 1 and "--reset-password" in again.stderr
    reset = _add_user(data, "--username", "ada", "--reset-password", password="new password!!\n")
    assert reset.returncode == 0, reset.stderr
    assert _add_user(data, "--username", "zed", "--reset-password").returncode == 1

    async def audited():
        from fleet.app import open_store
        from fleet.config import FleetConfig

        store = await open_store(FleetConfig(data_dir=tmp_path / "fleet"))
        try:
            user = await store.get_user("ada")
            rows = [(a["action"], a["outcome"]) for a in await store.list_audit()]
            return user, rows
        finally:
            await store.close()

    user, rows = asyncio.run(audited())
    from fleet.auth import verify_password

    assert user["role"] == "admin" and verify_password("new password!!", user["password_hash"])
    assert ("reset_password", "ok") in rows and ("create_user", "user_exists") in rows


def test_serve_help_shows_the_real_defaults_and_bad_thresholds_are_refused(tmp_path):
    shown = subprocess.run([*CLI, "serve", "--help"], capture_output=True, text=True).stdout
    defaults = Thresholds()
    assert f"(default {defaults.late_multiple})" in shown
    assert f"(default {defaults.offline_multiple})" in shown
    refused = subprocess.run(
        [*CLI, "serve", "--data", str(tmp_path), "--offline-multiple", "2"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "offline_multiple must be greater" in refused.stderr
