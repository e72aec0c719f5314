"""Low disk warns the fleet long before it stops the kiosk: the kiosk core (bill payments on the
simulated backends over real HTTP) heartbeats to the real fleet server with its disk as the
device "storage"; below the warning mark the operators get a supply alert while the kiosk still
serves, below the stop mark a device fault and the kiosk is out of service."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from kiosk.app import start_fleet_link
from kiosk.retention import start_housekeeping
from kiosk.run_state import RunRecord
from kiosk.viewmodel import ScreenId
from tests.fleet.fleetkit import Fleet, sqlite_config
from tests.kiosk.test_flow_engine import kiosk  # noqa: F401 - the fixture

__all__ = ["kiosk"]
KIOSK = "KIOSK-DISK-01"


async def until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def with_disk_marks(config, warn_mb, stop_mb):
    retention = dataclasses.replace(config.retention, disk_warn_free_mb=warn_mb,
                                    disk_stop_free_mb=stop_mb, disk_check_s=0.1)
    return dataclasses.replace(config, retention=retention)


async def test_low_disk_alerts_the_fleet_while_serving_and_a_full_one_stops_the_kiosk(
    kiosk, tmp_path  # noqa: F811
):
    backends, ctx, session = kiosk
    fleet = Fleet(sqlite_config(tmp_path / "fleet"))
    await fleet.start()
    enrolled = await fleet.enroll_kiosk(KIOSK)
    key = tmp_path / "device.key"
    key.write_bytes(enrolled.private_pem)
    fleet_config = dataclasses.replace(
        ctx.config.fleet, server_url=fleet.url, device_key_path=str(key), heartbeat_interval_s=0.3
    )
    ctx.config = with_disk_marks(
        dataclasses.replace(ctx.config, kiosk_id=KIOSK, fleet=fleet_config), 1e12, 0.0
    )
    keeper = start_housekeeping(ctx, session)
    record = RunRecord(ctx.config.state_dir)
    link = start_fleet_link(ctx, session, lambda: None, record.begin(), housekeeper=keeper)

    async def alerts_on(subject):
        return [a for a in await fleet.store.list_alerts() if a["subject"] == subject]

    try:
        [low] = await until(lambda: alerts_on("storage/disk_space"))
        assert "low" in repr(low)
        assert ctx.view.screen is ScreenId.ATTRACT  # warned, still serving
        assert not await alerts_on("storage")

        keeper.config = ctx.config = with_disk_marks(ctx.config, 1e12, 1e12)
        await until(lambda: alerts_on("storage"))
        assert ctx.view.screen is ScreenId.OUT_OF_SERVICE
        assert ctx.view.out_of_service_key == "oos.disk_full"
    finally:
        await keeper.stop()
        await link.stop()
        await fleet.close()
