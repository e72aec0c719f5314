"""What the update tests do on the fleet server: an operator's uploads and requests, a kiosk's
part in a rollout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.fleet.fleetkit import Fleet
from wire.fleet import API_PREFIX


async def until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not met in {timeout:.0f} s")


async def upload(operator: aiohttp.ClientSession, fleet: Fleet, bundle: Path) -> tuple[int, dict]:
    async with operator.post(f"{fleet.url}{API_PREFIX}/bundles", data=bundle.read_bytes(),
                             headers={"Content-Type": "application/octet-stream"}) as r:
        return r.status, await r.json()


async def post(operator, fleet, path: str, body: dict | None = None) -> tuple[int, dict]:
    async with operator.post(f"{fleet.url}{API_PREFIX}{path}", json=body or {}) as r:
        return r.status, await r.json()


async def part(fleet: Fleet, rollout_id: str, kiosk_id: str) -> dict:
    rollout = await fleet.store.get_rollout(rollout_id)
    assert rollout is not None
    (found,) = [k for k in rollout["kiosks"] if k["kiosk_id"] == kiosk_id]
    return found


async def reaches(fleet: Fleet, rollout_id: str, kiosk_id: str, status: str,
                  timeout: float = 30.0) -> dict:
    async def there():
        found = await part(fleet, rollout_id, kiosk_id)
        return found if found["status"] == status else None

    return await until(there, timeout, f"{kiosk_id} {status}")
