"""Test helpers: a real fleet server on port 0, a throwaway PostgreSQL cluster, signed kiosks."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from fleet.app import create_app, open_store
from fleet.auth import hash_password, new_secret_token
from fleet.config import FleetConfig
from fleet.devcluster import PG_BIN, free_port, postgres_cluster  # noqa: F401 (re-exported)
from fleet.services import SERVICES, FleetServices
from fleet.store import FleetStore, Role
from kiosk.fleet_enrollment import enroll, generate_device_key
from wire.fleet import API_PREFIX, WIRE_VERSION, CommandKind, sign_request

PASSWORD = "correct horse battery"


async def fresh_postgres_database(dsn_template: str) -> str:
    import asyncpg

    name = "fleet_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(dsn_template.format(db="postgres"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return dsn_template.format(db=name)


@dataclass
class Kiosk:
    kiosk_id: str
    private_pem: bytes
    public_pem: bytes
    seq: int = 0


@dataclass
class Fleet:
    """A running fleet server and what a test needs to talk to it."""

    config: FleetConfig
    runner: web.AppRunner | None = None
    url: str = ""
    port: int = 0
    http: aiohttp.ClientSession | None = None
    kiosks: dict[str, Kiosk] = field(default_factory=dict)

    @property
    def services(self) -> FleetServices:
        assert self.runner is not None
        return self.runner.app[SERVICES]

    @property
    def store(self) -> FleetStore:
        return self.services.store

    async def start(self, port: int = 0) -> None:
        self.runner = web.AppRunner(create_app(self.config), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"
        if self.http is None:
            self.http = aiohttp.ClientSession()

    async def stop_server(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def close(self) -> None:
        await self.stop_server()
        if self.http is not None:
            await self.http.close()

    async def add_user(self, username: str, role: Role, password: str = PASSWORD) -> None:
        await self.store.create_user(username, hash_password(password), role)

    async def operator(self, username: str, role: Role) -> aiohttp.ClientSession:
        """A signed-in operator's HTTP session (its own cookie jar)."""
        await self.add_user(username, role)
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with session.post(
            f"{self.url}{API_PREFIX}/session", json={"username": username, "password": PASSWORD}
        ) as r:
            assert r.status == 200, await r.text()
        return session

    async def token(self) -> str:
        token, hashed = new_secret_token()
        await self.store.create_enrollment_token(hashed, "test", 3600)
        return token

    async def enroll_kiosk(
        self, kiosk_id: str, site: str = "hall-1", region: str = "east"
    ) -> Kiosk:
        private_pem, public_pem = generate_device_key()
        await enroll(self.url, await self.token(), private_pem, kiosk_id, site, region)
        kiosk = Kiosk(kiosk_id, private_pem, public_pem)
        self.kiosks[kiosk_id] = kiosk
        return kiosk

    async def signed_post(
        self,
        kiosk: Kiosk,
        path: str,
        payload: Any,
        *,
        now: float | None = None,
        nonce: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, Any]:
        assert self.http is not None
        raw = body if body is not None else json.dumps(payload).encode()
        full_path = API_PREFIX + path
        signed = headers or sign_request(
            kiosk.private_pem, "POST", full_path, raw, time.time() if now is None else now, nonce
        )
        async with self.http.post(self.url + full_path, data=raw, headers=signed) as r:
            return r.status, await r.json()

    async def ask_for_logs(self, kiosk: Kiosk, **heartbeat: Any) -> str:
        """An operator's upload_logs command, delivered on the kiosk's next heartbeat (with
        `heartbeat`'s fields); its id."""
        command = await self.store.queue_command(
            kiosk.kiosk_id, CommandKind.UPLOAD_LOGS, {}, "test"
        )
        status, reply = await self.heartbeat(kiosk, **heartbeat)
        assert status == 200 and command.command_id in [c["command_id"] for c in reply["commands"]]
        return command.command_id

    async def heartbeat(
        self, kiosk: Kiosk, wire_version: int = WIRE_VERSION, **fields: Any
    ) -> tuple[int, Any]:
        kiosk.seq += 1
        hb = {
            "wire_version": wire_version,
            "kiosk_id": kiosk.kiosk_id,
            "seq": kiosk.seq,
            "sent_at": time.time(),
            "interval_s": fields.pop("interval_s", 15.0),
            "software_version": "1.0.0",
            "catalog_version": "2024.1",
            **fields,
        }
        return await self.signed_post(kiosk, f"/kiosks/{kiosk.kiosk_id}/heartbeat", hb)


def sqlite_config(tmp_path: Path, **kwargs: Any) -> FleetConfig:
    return FleetConfig(data_dir=tmp_path / "fleet", **kwargs)


async def config_for(backend: str, tmp_path: Path, pg_dsn: str | None, **kwargs: Any):
    config = sqlite_config(tmp_path, **kwargs)
    if backend == "postgresql":
        assert pg_dsn is not None
        config = replace(config, database_url=await fresh_postgres_database(pg_dsn))
    return config


async def open_test_store(config: FleetConfig) -> FleetStore:
    return await open_store(config)


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


HEALTHY_DEVICES = [
    {
        "device": "printer",
        "health": "ok",
        "supplies": [{"name": "paper", "level": "ok", "remaining": 400}],
    },
    {"device": "card_reader", "health": "ok"},
]
