"""Heartbeats per second one fleet server (SQLite) sustains, beside a bare aiohttp handler.

Both servers run as their own process on this machine; one load generator drives each in turn
with the same signed heartbeats of many simulated kiosks, a fixed number in flight, for a fixed
time. The bare handler reads the body and answers a small JSON object: the ceiling for this
machine, client and HTTP stack. The fleet figure includes signature checks, replay protection
(a nonce insert), and the heartbeat transaction. Prints
{"heartbeats_per_s": ..., "p99_ms": ..., "bare_aiohttp_per_s": ...} (plus details) last.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from fleet.auth import new_secret_token
from fleet.config import FleetConfig
from kiosk.fleet_agent import enroll, generate_device_key
from kiosk.fleet_wire import sign_request

KIOSKS = 300
IN_FLIGHT = 32
WARMUP_S = 1.5
MEASURE_S = 8.0
HEARTBEAT_S = 15.0
EXTRA = sys.argv[1:]

BARE = r"""
import sys
from aiohttp import web
async def beat(request):
    await request.read()
    return web.json_response({"wire_version": 1, "server_time": 0.0, "interval_s": 15.0,
                              "commands": [], "acked": []})
app = web.Application()
app.router.add_post("/api/v1/kiosks/{kiosk_id}/heartbeat", beat)
app.router.add_get("/healthz", lambda r: web.json_response({"ok": True}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

DEVICES = [
    {
        "device": "printer",
        "health": "ok",
        "supplies": [{"name": "paper", "level": "ok", "remaining": 350}],
    },
    {"device": "card_reader", "health": "ok", "supplies": []},
    {"device": "face_camera", "health": "ok", "supplies": []},
    {
        "device": "dispenser",
        "health": "ok",
        "supplies": [{"name": "blank_cards", "level": "ok", "remaining": 120}],
    },
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.get(url + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} did not come up")


async def _prepare_tokens(data: Path, n: int) -> list[str]:
    from fleet.app import open_store

    store = await open_store(FleetConfig(data_dir=data))
    tokens = []
    for _ in range(n):
        token, hashed = new_secret_token()
        await store.create_enrollment_token(hashed, "bench", 3600)
        tokens.append(token)
    await store.close()
    return tokens


async def _load(url: str, kiosks: list[tuple[str, bytes]]) -> dict[str, float]:
    """Drive `url` with heartbeats round-robin over `kiosks`; returns throughput and latency."""
    seqs = dict.fromkeys((k for k, _ in kiosks), 0)
    latencies: list[float] = []
    errors = 0
    measuring = False
    stop_at = 0.0
    counter = 0
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal counter, errors
            while time.monotonic() < stop_at:
                kiosk_id, key = kiosks[counter % len(kiosks)]
                counter += 1
                seqs[kiosk_id] += 1
                body = json.dumps(
                    {
                        "wire_version": 1,
                        "kiosk_id": kiosk_id,
                        "seq": seqs[kiosk_id],
                        "sent_at": time.time(),
                        "interval_s": HEARTBEAT_S,
                        "software_version": "1.0.0",
                        "catalog_version": "2024.11",
                        "in_service": True,
                        "devices": DEVICES,
                        "counters": {"transactions_completed": seqs[kiosk_id] // 10},
                    }
                ).encode()
                path = f"/api/v1/kiosks/{kiosk_id}/heartbeat"
                headers = sign_request(key, "POST", path, body, time.time())
                headers["Content-Type"] = "application/json"
                t0 = time.perf_counter()
                async with session.post(url + path, data=body, headers=headers) as r:
                    await r.read()
                    ok = r.status == 200
                if measuring:
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1

        stop_at = time.monotonic() + WARMUP_S + MEASURE_S
        tasks = [asyncio.create_task(worker()) for _ in range(IN_FLIGHT)]
        await asyncio.sleep(WARMUP_S)
        measuring = True
        t_start = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t_start
    latencies.sort()
    return {
        "per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "errors": errors,
    }


async def main() -> dict[str, float]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fleet"
        tokens = await _prepare_tokens(data, KIOSKS)
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet.cli",
                "serve",
                "--data",
                str(data),
                "--port",
                str(port),
                "--log-level",
                "WARNING",
                *EXTRA,
            ],
            env=env,
        )
        bare_port = _free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], env=env)
        try:
            url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            await _wait_up(url)
            await _wait_up(bare_url)
            kiosks = []
            for i, token in enumerate(tokens):
                private_pem, _ = generate_device_key()
                kiosk_id = f"BENCH-{i:05d}"
                await enroll(url, token, private_pem, kiosk_id, f"site-{i % 20}", f"region-{i % 4}")
                kiosks.append((kiosk_id, private_pem))
            fleet = await _load(url, kiosks)
            ceiling = await _load(bare_url, kiosks)
        finally:
            for proc in (server, bare):
                proc.terminate()
                proc.wait(timeout=10)
    per_s = fleet["per_s"]
    return {
        "heartbeats_per_s": round(per_s, 1),
        "p99_ms": round(fleet["p99_ms"], 2),
        "bare_aiohttp_per_s": round(ceiling["per_s"], 1),
        "p50_ms": round(fleet["p50_ms"], 2),
        "bare_p99_ms": round(ceiling["p99_ms"], 2),
        "errors": fleet["errors"],
        "kiosks_simulated": KIOSKS,
        "in_flight": IN_FLIGHT,
        # One server's capacity at a 15 s heartbeat, flat out, and with half kept in reserve for
        # the dashboard, events, bursts after an outage, and the offline sweep.
        "max_kiosks_at_15s": int(per_s * HEARTBEAT_S),
        "kiosks_at_15s_with_headroom": int(per_s * HEARTBEAT_S * 0.5),
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    print(json.dumps(result))
