"""A village kiosk on a 64 kbit/s line with 300 ms latency each way: the kiosk core in-process on
the simulator's devices, every backend behind the simulator's throttling link and the real fleet
server behind a second one, the kiosk's default intervals (catalog check 5 s, heartbeat 15 s).

catalog_full_s / catalog_full_bytes: the whole catalog fetched once (gzip) over the line.
catalog_check_s / catalog_check_bytes: one conditional check answered 304 (both directions).
heartbeat_bytes: one heartbeat and its answer, both directions (measured over the idle window).
idle_share: what an idle kiosk's background (catalog checks, heartbeats, an empty outbox) uses
  of the line's capacity in its busier direction, over --idle seconds.
bill_payment_s: a bill payment from the account typed to the result screen (the citizen pays on
  the phone at once; the kiosk polls the gateway at its default 2 s).
prereview_delivery_s / prereview_bytes: a pre-review accepted while the line was down, from the
  line's return to the backend's receipt of it (the upload of its scanned pages).

Usage: .venv/bin/python -m bench.badlink [--idle S]
Prints one line per measurement, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

VILLAGE_LINE = {"bandwidth_bps": 64_000, "latency_s": 0.3}


async def _until(check: Any, timeout: float = 300.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _traffic(link: Any) -> int:
    return int(link.counters.bytes_up + link.counters.bytes_down)


async def run(tmp: Path, idle_s: float) -> dict[str, Any]:
    from fleet.app import create_app
    from fleet.auth import new_secret_token
    from fleet.config import FleetConfig
    from fleet.services import SERVICES
    from kiosk.app import (
        build_context,
        build_session,
        close_context,
        start_fleet_link,
        start_outbox_delivery,
    )
    from kiosk.backends import CatalogClient
    from kiosk.config import load_config, simulator_overrides
    from kiosk.devices import build_manager
    from kiosk.fleet_enrollment import enroll, generate_device_key
    from kiosk.outbox import Outbox
    from kiosk.run_state import RunRecord
    from kiosk.viewmodel import ScreenId
    from simulator.reference import BILL_PAYMENT, CITIZEN_PHONE, MATERIALS_PREREVIEW, WATER_ACCOUNT
    from simulator.runtime import Simulator, SimulatorOptions
    from simulator.throttled_link import behind_link

    out: dict[str, Any] = {}
    fleet = web.AppRunner(create_app(FleetConfig(data_dir=tmp / "fleet")), access_log=None)
    await fleet.setup()
    await web.TCPSite(fleet, "127.0.0.1", 0).start()
    fleet_port = fleet.addresses[0][1]
    store = fleet.app[SERVICES].store
    token, hashed = new_secret_token()
    await store.create_enrollment_token(hashed, "bench", 600)
    private_pem, _ = generate_device_key()
    await enroll(f"http://127.0.0.1:{fleet_port}", token, private_pem, "VILLAGE-01", "village",
                 "bench")
    (tmp / "device.key").write_bytes(private_pem)
    sim = Simulator(SimulatorOptions(state_dir=tmp / "sim"))
    endpoints = await sim.start()
    backends_link = sim.links["backends"]
    fleet_link = await sim.add_link("fleet", "127.0.0.1", fleet_port)
    overrides = simulator_overrides(behind_link(endpoints, endpoints["backends_link_url"]))
    overrides.update(state_dir=str(tmp / "kiosk"), kiosk_id="VILLAGE-01",
                     fleet={"server_url": fleet_link.url,
                            "device_key_path": str(tmp / "device.key")})
    config = load_config(None, overrides)
    for link in (backends_link, fleet_link):
        link.configure(VILLAGE_LINE)

    # The catalog over the line: whole, then a check.
    client = CatalogClient(config.backends.catalog_url, 120.0)
    before, started = _traffic(backends_link), time.monotonic()
    fetched = await client.fetch()
    out["catalog_full_s"] = round(time.monotonic() - started, 2)
    out["catalog_full_bytes"] = _traffic(backends_link) - before
    before, started = _traffic(backends_link), time.monotonic()
    await client.fetch(fetched.validators)
    out["catalog_check_s"] = round(time.monotonic() - started, 2)
    out["catalog_check_bytes"] = _traffic(backends_link) - before
    await client.close()
    for name in ("catalog_full_s", "catalog_full_bytes", "catalog_check_s", "catalog_check_bytes"):
        print(f"{name}: {out[name]}", flush=True)

    ctx = build_context(config)
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    session.start()
    run_info = RunRecord(config.state_dir).begin()
    agent = start_fleet_link(ctx, session, restart_app=lambda: None, run=run_info)
    delivery = start_outbox_delivery(ctx, session)
    try:
        # Idle: what the background costs the line.
        await asyncio.sleep(20.0)  # past the first heartbeat's catch-up
        seen_before = (await store.get_kiosk("VILLAGE-01"))["last_seen"]
        counters = [(link.counters.bytes_up, link.counters.bytes_down)
                    for link in (backends_link, fleet_link)]
        await asyncio.sleep(idle_s)
        moved = [(link.counters.bytes_up - up, link.counters.bytes_down - down)
                 for link, (up, down) in zip((backends_link, fleet_link), counters, strict=True)]
        busier = max(sum(m[0] for m in moved), sum(m[1] for m in moved))
        out["idle_share"] = round(busier * 8 / idle_s / VILLAGE_LINE["bandwidth_bps"], 4)
        beats = max(1, round(idle_s / config.fleet.heartbeat_interval_s))
        out["heartbeat_bytes"] = sum(moved[1]) // beats
        seen_after = (await store.get_kiosk("VILLAGE-01"))["last_seen"]
        out["heartbeats_arrived"] = bool(seen_after and seen_after != seen_before)
        print(f"idle_share: {out['idle_share']}  heartbeat_bytes: {out['heartbeat_bytes']}",
              flush=True)

        # A bill payment.
        view = ctx.view
        started = time.monotonic()
        session.touch_start()
        session.choose_service(BILL_PAYMENT)
        await _until(lambda: view.screen is ScreenId.ENTER_ACCOUNT)
        for digit in WATER_ACCOUNT:
            session.key_press(digit)
        session.key_press("ok")
        await _until(lambda: view.screen is ScreenId.CONFIRM)
        session.choose_option("confirm")
        await _until(lambda: view.screen is ScreenId.PAY)
        sim.gateway.pay(code_url=view.qr_payload)
        await _until(lambda: view.screen is ScreenId.RESULT and not session.busy)
        out["bill_payment_s"] = round(time.monotonic() - started, 2)
        out["bill_payment_ok"] = bool(view.result_ok)
        session.finish()
        print(f"bill_payment_s: {out['bill_payment_s']} ok={out['bill_payment_ok']}", flush=True)

        # A pre-review accepted offline, delivered when the line returns.
        backends_link.configure({"down": True})
        await _until(lambda: not session.network_ok, 60)
        session.touch_start()
        session.choose_service(MATERIALS_PREREVIEW)
        await _until(lambda: view.screen is ScreenId.READ_IDCARD)
        sim.idcard_reader.insert()
        await _until(lambda: view.screen is ScreenId.SCAN_DOCUMENT)
        sim.document_composer.scene = "text_page"
        await _until(lambda: view.scan_index >= 2 or view.screen is not ScreenId.SCAN_DOCUMENT)
        sim.document_composer.scene = "form"
        await _until(lambda: view.screen is ScreenId.ENTER_ACCOUNT)
        for digit in CITIZEN_PHONE:
            session.key_press(digit)
        session.key_press("ok")
        await _until(lambda: view.screen is ScreenId.CONFIRM)
        session.choose_option("confirm")
        await _until(lambda: view.screen is ScreenId.RESULT and not session.busy)
        sim.idcard_reader.remove()
        sim.document_composer.scene = "empty"
        session.finish()
        before, started = backends_link.counters.bytes_up, time.monotonic()
        backends_link.configure({"down": False})
        await _until(lambda: bool(sim.backends.services.prereviews), 600)
        out["prereview_delivery_s"] = round(time.monotonic() - started, 2)
        out["prereview_bytes"] = backends_link.counters.bytes_up - before
        outbox = Outbox(config.state_dir)
        await _until(lambda: outbox.counts()["pending"] == 0, 60)
        outbox.close()
        print(f"prereview_delivery_s: {out['prereview_delivery_s']} "
              f"bytes={out['prereview_bytes']}", flush=True)
    finally:
        delivery.cancel()
        if agent is not None:
            await agent.stop(None)
        await close_context(ctx, session)
        await sim.stop()
        await fleet.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle window, seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(Path(tmp), args.idle))
    print(json.dumps({"line_bps": VILLAGE_LINE["bandwidth_bps"],
                      "latency_s": VILLAGE_LINE["latency_s"], **result}))


if __name__ == "__main__":
    main()
