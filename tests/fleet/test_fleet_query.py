"""Finding kiosks over HTTP, on SQLite and PostgreSQL: search, filters, tags, paging, counts."""

from __future__ import annotations

import time

from fleet.store import Role
from tests.fleet.fleetkit import HEALTHY_DEVICES
from wire.fleet import API_PREFIX

API = "/api/v1"
JAM = [{"device": "printer", "health": "fault", "reason": "paper_jam", "supplies": []}]


async def _fleet_of_six(fleet):
    """Six kiosks in two cities, two software versions, one jammed, one out of service, one
    silent since enrollment."""
    plan = [
        ("ZS-HALL-01", "city-hall", "zhongshan", "1.4.0", HEALTHY_DEVICES, True),
        ("ZS-HALL-02", "city-hall", "zhongshan", "1.4.0", JAM, True),
        ("ZS-PORT-01", "port", "zhongshan", "1.3.2", HEALTHY_DEVICES, True),
        ("BT-VIL-07", "village-7", "baotou", "1.3.2", HEALTHY_DEVICES, True),
        ("BT-CTY-01", "county", "baotou", "1.4.0", HEALTHY_DEVICES, False),
    ]
    for kiosk_id, site, region, version, devices, serving in plan:
        k = await fleet.enroll_kiosk(kiosk_id, site=site, region=region)
        await fleet.heartbeat(
            k, software_version=version, devices=devices, in_service=serving, started_at=1.0
        )
    await fleet.enroll_kiosk("BT-CTY-02", site="county", region="baotou")


async def _ids(op, fleet, **query):
    async with op.get(f"{fleet.url}{API}/kiosks", params=query) as r:
        assert r.status == 200, await r.text()
        data = await r.json()
    return [k["kiosk_id"] for k in data["kiosks"]], data["total"]


async def test_search_and_every_filter_narrow_the_list_on_the_server(fleet):
    await _fleet_of_six(fleet)
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        assert (await _ids(op, fleet))[1] == 6
        assert await _ids(op, fleet, search="hall-0") == (["ZS-HALL-01", "ZS-HALL-02"], 2)
        assert await _ids(op, fleet, search="VILLAGE") == (["BT-VIL-07"], 1)
        assert await _ids(op, fleet, search="100%_") == ([], 0)  # LIKE wildcards are literal
        assert (await _ids(op, fleet, region="baotou"))[1] == 3
        assert await _ids(op, fleet, site="port") == (["ZS-PORT-01"], 1)
        assert await _ids(op, fleet, software_version="1.3.2") == (
            ["BT-VIL-07", "ZS-PORT-01"],
            2,
        )
        assert await _ids(op, fleet, state="degraded") == (["ZS-HALL-02"], 1)
        assert await _ids(op, fleet, state="down") == (["BT-CTY-01"], 1)
        assert await _ids(op, fleet, state="offline") == (["BT-CTY-02"], 1)
        assert await _ids(op, fleet, alert="device_fault") == (["ZS-HALL-02"], 1)
        assert await _ids(op, fleet, alert="any") == (["ZS-HALL-02"], 1)
        assert await _ids(op, fleet, region="zhongshan", state="up") == (
            ["ZS-HALL-01", "ZS-PORT-01"],
            2,
        )
        async with op.get(f"{fleet.url}{API}/kiosks", params={"state": "sideways"}) as r:
            assert (r.status, (await r.json())["reason"]) == (400, "state")
        async with op.get(f"{fleet.url}{API}/fleet", params={"region": "zhongshan"}) as r:
            summary = await r.json()
        assert summary["counts"] == {"up": 2, "degraded": 1, "down": 0, "offline": 0}
        assert summary["software_versions"] == ["1.3.2", "1.4.0"]
    finally:
        await op.close()


async def test_pages_cover_the_list_once_in_order(fleet):
    await _fleet_of_six(fleet)
    op = await fleet.operator("olga", Role.OPERATOR)
    try:
        seen = []
        for offset in (0, 4):
            ids, total = await _ids(op, fleet, limit="4", offset=str(offset))
            assert total == 6
            seen += ids
        assert seen == [
            "BT-CTY-01",
            "BT-CTY-02",
            "BT-VIL-07",
            "ZS-HALL-01",
            "ZS-HALL-02",
            "ZS-PORT-01",
        ]
    finally:
        await op.close()


async def test_tags_are_set_audited_and_filter_the_list(fleet):
    await _fleet_of_six(fleet)
    op = await fleet.operator("olga", Role.OPERATOR)
    viewer = await fleet.operator("victor", Role.VIEWER)
    try:
        url = f"{fleet.url}{API}/kiosks/ZS-HALL-01/tags"
        async with viewer.put(url, json={"tags": ["pilot"]}) as r:
            assert r.status == 403
        async with op.put(url, json={"tags": ["has space"]}) as r:
            assert r.status == 400
        async with op.put(url, json={"tags": ["pilot", "lobby", "pilot"]}) as r:
            assert (await r.json())["tags"] == ["lobby", "pilot"]
        async with op.put(f"{fleet.url}{API}/kiosks/BT-VIL-07/tags", json={"tags": ["pilot"]}) as r:
            assert r.status == 200
        assert await _ids(op, fleet, tag="pilot") == (["BT-VIL-07", "ZS-HALL-01"], 2)
        assert await _ids(op, fleet, tag="lobby") == (["ZS-HALL-01"], 1)
        async with op.get(f"{fleet.url}{API}/kiosks/ZS-HALL-01") as r:
            assert (await r.json())["kiosk"]["tags"] == ["lobby", "pilot"]
        async with op.get(f"{fleet.url}{API}/fleet") as r:
            assert (await r.json())["tags"] == ["lobby", "pilot"]
        tagged = {
            a["target"]: a["detail"]
            for a in await fleet.store.list_audit()
            if (a["actor"], a["action"]) == ("olga", "set_tags")
        }
        assert tagged == {
            "ZS-HALL-01": {"after": ["lobby", "pilot"], "before": []},
            "BT-VIL-07": {"after": ["pilot"], "before": []},
        }
    finally:
        await op.close()
        await viewer.close()


async def test_heartbeat_brings_systemd_restart_count_to_the_fleet(fleet):
    kiosk = await fleet.enroll_kiosk("K-A")
    await fleet.heartbeat(kiosk, restarts=3, started_at=time.time())
    row = await fleet.store.get_kiosk("K-A")
    assert row["restarts"] == 3
    op = await fleet.operator("olga", Role.VIEWER)
    try:
        async with op.get(f"{fleet.url}{API_PREFIX}/kiosks/K-A") as r:
            assert (await r.json())["kiosk"]["restarts"] == 3  # per kiosk in the API, not /metrics
    finally:
        await op.close()
