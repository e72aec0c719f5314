"""`kiosk-fleet`: an operator and a token from the command line, then a kiosk enrolls and beats."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp

from kiosk.fleet_agent import enroll, generate_device_key
from tests.fleet.fleetkit import free_port


async def test_cli_serves_and_bootstraps_an_operator_and_a_token(tmp_path):
    data = str(tmp_path / "fleet")
    cli = [sys.executable, "-m", "fleet.cli"]
    added = subprocess.run(
        [*cli, "add-user", "--data", data, "--username", "ada", "--role", "admin"],
        input="long enough password\n",
        text=True,
        capture_output=True,
    )
    assert added.returncode == 0, added.stderr
    short = subprocess.run(
        [*cli, "add-user", "--data", data, "--username", "bob"],
        input="short\n",
        text=True,
        capture_output=True,
    )
    assert short.returncode == 2
    made = subprocess.run([*cli, "create-token", "--data", data], capture_output=True, text=True)
    token = json.loads(made.stdout)["token"]
    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--data", data, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for _ in range(100):
                try:
                    async with http.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            private_pem, _ = generate_device_key()
            answer = await enroll(url, token, private_pem, "K-CLI", "hall", "east")
            assert answer["kiosk_id"] == "K-CLI"
            async with http.post(
                url + "/api/v1/session",
                json={"username": "ada", "password": "long enough password"},
            ) as r:
                assert r.status == 200 and (await r.json())["role"] == "admin"
            async with http.get(url + "/api/v1/kiosks") as r:
                assert [k["kiosk_id"] for k in (await r.json())["kiosks"]] == ["K-CLI"]
    finally:
        server.terminate()
        server.wait(timeout=10)
