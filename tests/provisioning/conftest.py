"""Fixtures for kiosk-provision: the running simulator, a real fleet server, a PIN on stdin."""

from __future__ import annotations

import io
import sys

import pytest

from simulator.runtime import Simulator, SimulatorOptions
from tests.provisioning.provkit import PIN


@pytest.fixture
async def sim(tmp_path):
    simulator = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def pin_on_stdin(monkeypatch):
    def feed(pin: str = PIN) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(pin + "\n"))

    feed()
    return feed


@pytest.fixture
async def fleet(tmp_path):
    """The fleet server on port 0, and ways to mint one-time enrollment and re-key tokens."""
    from aiohttp import web

    from fleet.app import create_app, open_store
    from fleet.auth import new_secret_token
    from fleet.config import FleetConfig

    config = FleetConfig(data_dir=tmp_path / "fleet")
    store = await open_store(config)
    runner = web.AppRunner(create_app(config, store), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    class Fleet:
        url = f"http://127.0.0.1:{port}"

        def __init__(self) -> None:
            self.store = store

        async def token(self) -> str:
            token, hashed = new_secret_token()
            await store.create_enrollment_token(hashed, "test", 3600)
            return token

        async def rekey_token(self, kiosk_id: str) -> str:
            token, hashed = new_secret_token()
            await store.create_enrollment_token(hashed, "test", 3600, rekey_kiosk_id=kiosk_id)
            return token

    yield Fleet()
    await runner.cleanup()
    await store.close()
