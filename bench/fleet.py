"""Heartbeats per second the fleet server sustains, beside a bare aiohttp handler.

SQLite (the default): one `kiosk-fleet serve` process against a bare aiohttp handler, both their
own process on this machine; one load generator drives each in turn with the same signed
heartbeats of many simulated kiosks, a fixed number in flight. The two are measured in
alternating rounds, so a neighbour's load on a shared machine weighs on both alike. The bare
handler reads the body and answers a small JSON object: the ceiling for this machine, client and
HTTP stack. The fleet figure includes signature checks, replay protection (a nonce insert) and the
heartbeat transaction. Last line: {"heartbeats_per_s", "p99_ms", "bare_aiohttp_per_s", "ratio", ...}.

`--store postgresql`: a throwaway PostgreSQL cluster (fsync on, as in production), and for each
worker count of `--workers` (default 1,2,4) that many `kiosk-fleet serve` processes behind
Debian's HAProxy with the shipped configuration, all in the same run. Per count: heartbeats/s,
p99, and CPU per heartbeat of the workers, of PostgreSQL (postmaster and backends) and of HAProxy,
read from /proc before and after the measured window. Other arguments go to `kiosk-fleet serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from fleet.auth import new_secret_token
from fleet.config import FleetConfig
from fleet.devcluster import (
    fleet_workers,
    free_port,
    haproxy_in_front,
    postgres_cluster,
    postmaster_pid,
)
from kiosk.fleet_enrollment import enroll, generate_device_key
from wire.fleet import sign_request

KIOSKS = 300
IN_FLIGHT = 32
WARMUP_S = 1.5
ROUNDS = 3
ROUND_S = 3.0
HEARTBEAT_S = 15.0
TICKS = os.sysconf("SC_CLK_TCK")

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


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(400):
            try:
                async with s.get(url + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} did not come up")


async def _prepare_tokens(config: FleetConfig, n: int) -> list[str]:
    from fleet.app import open_store

    store = await open_store(config)
    tokens = []
    for _ in range(n):
        token, hashed = new_secret_token()
        await store.create_enrollment_token(hashed, "bench", 3600)
        tokens.append(token)
    await store.close()
    return tokens


async def _enroll_all(url: str, tokens: list[str]) -> list[tuple[str, bytes]]:
    kiosks = []
    for i, token in enumerate(tokens):
        private_pem, _ = generate_device_key()
        kiosk_id = f"BENCH-{i:05d}"
        await enroll(url, token, private_pem, kiosk_id, f"site-{i % 20}", f"region-{i % 4}")
        kiosks.append((kiosk_id, private_pem))
    return kiosks


class Load:
    """Signed heartbeats round-robin over `kiosks`, `IN_FLIGHT` at a time, to one URL."""

    def __init__(self, kiosks: list[tuple[str, bytes]]) -> None:
        self.kiosks = kiosks
        self.seqs = dict.fromkeys((k for k, _ in kiosks), 0)
        self.counter = 0

    async def run(self, url: str, seconds: float, warmup_s: float = 0.0) -> dict[str, Any]:
        latencies: list[float] = []
        errors = 0
        measuring = False
        stop_at = time.monotonic() + warmup_s + seconds
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                nonlocal errors
                while time.monotonic() < stop_at:
                    kiosk_id, key = self.kiosks[self.counter % len(self.kiosks)]
                    self.counter += 1
                    self.seqs[kiosk_id] += 1
                    seq = self.seqs[kiosk_id]
                    body = json.dumps(
                        {
                            "wire_version": 1,
                            "kiosk_id": kiosk_id,
                            "seq": seq,
                            "sent_at": time.time(),
                            "interval_s": HEARTBEAT_S,
                            "software_version": "1.0.0",
                            "catalog_version": "2024.11",
                            "in_service": True,
                            "devices": DEVICES,
                            "counters": {"transactions_completed": seq // 10},
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

            tasks = [asyncio.create_task(worker()) for _ in range(IN_FLIGHT)]
            await asyncio.sleep(warmup_s)
            measuring = True
            t_start = time.monotonic()
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - t_start
        return {"n": len(latencies), "s": elapsed, "latencies": latencies, "errors": errors}


def _summary(runs: Iterable[dict]) -> dict[str, float]:
    runs = list(runs)
    latencies = sorted(x for r in runs for x in r["latencies"])
    n, s = len(latencies), sum(r["s"] for r in runs)
    return {
        "per_s": n / s,
        "n": n,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (n - 1))],
        "errors": sum(r["errors"] for r in runs),
    }


def _cpu_s(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return total / TICKS


def _children(parent: int) -> list[int]:
    found = [parent]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                found.append(int(entry.name))
    return found


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def sqlite_main(serve_args: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fleet"
        tokens = await _prepare_tokens(FleetConfig(data_dir=data), KIOSKS)
        port, bare_port = free_port(), free_port()
        server = _start(
            [sys.executable, "-m", "fleet.cli", "serve", "--data", str(data)]
            + ["--port", str(port), "--log-level", "WARNING", *serve_args]
        )
        bare = _start([sys.executable, "-c", BARE, str(bare_port)])
        try:
            url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            await _wait_up(url)
            await _wait_up(bare_url)
            load = Load(await _enroll_all(url, tokens))
            await load.run(url, 0.0, WARMUP_S)
            await load.run(bare_url, 0.0, WARMUP_S)
            fleet_runs, bare_runs = [], []
            for _ in range(ROUNDS):  # alternating, so both see the same neighbours
                fleet_runs.append(await load.run(url, ROUND_S))
                bare_runs.append(await load.run(bare_url, ROUND_S))
        finally:
            for proc in (server, bare):
                proc.terminate()
                proc.wait(timeout=10)
    fleet, ceiling = _summary(fleet_runs), _summary(bare_runs)
    per_s = fleet["per_s"]
    return {
        "heartbeats_per_s": round(per_s, 1),
        "p99_ms": round(fleet["p99_ms"], 2),
        "bare_aiohttp_per_s": round(ceiling["per_s"], 1),
        "ratio": round(per_s / ceiling["per_s"], 3),
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


async def _postgres_one(
    dsn: str, n_workers: int, tmp: Path, serve_args: list[str], pg_pids: list[int]
) -> dict[str, float]:
    """A fresh database, `n_workers` workers behind HAProxy, and the measured load."""
    import asyncpg

    name = f"bench_{n_workers}w"
    admin = await asyncpg.connect(dsn.format(db="postgres"))
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    database_url = dsn.format(db=name)
    config = replace(FleetConfig(data_dir=tmp / name), database_url=database_url)
    tokens = await _prepare_tokens(config, KIOSKS)
    with fleet_workers(database_url, tmp / name, n_workers, serve_args) as workers:
        with haproxy_in_front([w.port for w in workers]) as lb:  # type: ignore[attr-defined]
            load = Load(await _enroll_all(lb, tokens))
            await load.run(lb, 0.0, WARMUP_S)
            haproxy = [p for p in _children(os.getpid()) if _is_haproxy(p)]
            app_pids, pg_all = [w.pid for w in workers], _children(pg_pids[0])
            probe = await asyncpg.connect(database_url)
            wal_before = await probe.fetchval("SELECT pg_current_wal_lsn()")
            before = (_cpu_s(app_pids), _cpu_s(pg_all), _cpu_s(haproxy))
            runs = [await load.run(lb, ROUND_S) for _ in range(ROUNDS)]
            after = (_cpu_s(app_pids), _cpu_s(pg_all), _cpu_s(haproxy))
            wal_bytes = await probe.fetchval(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", wal_before
            )
            await probe.close()
    result = _summary(runs)
    n = result["n"] or 1
    app_ms, pg_ms, lb_ms = (1000 * (a - b) / n for a, b in zip(after, before, strict=True))
    return {
        "heartbeats_per_s": round(result["per_s"], 1),
        "p99_ms": round(result["p99_ms"], 2),
        "p50_ms": round(result["p50_ms"], 2),
        "errors": result["errors"],
        "app_cpu_ms_per_heartbeat": round(app_ms, 3),
        "postgresql_cpu_ms_per_heartbeat": round(pg_ms, 3),
        "haproxy_cpu_ms_per_heartbeat": round(lb_ms, 3),
        # Includes the requests of the rounds' last moments not counted as measured.
        "wal_bytes_per_heartbeat": round(float(wal_bytes) / n),
    }


def _is_haproxy(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "haproxy"
    except OSError:
        return False


async def postgres_main(workers: list[int], serve_args: list[str]) -> dict[str, object]:
    per_count: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp_name, postgres_cluster(durable=True) as dsn:
        tmp = Path(tmp_name)
        pg = [postmaster_pid(dsn)]
        bare_port = free_port()
        bare = _start([sys.executable, "-c", BARE, str(bare_port)])
        try:
            bare_url = f"http://127.0.0.1:{bare_port}"
            await _wait_up(bare_url)
            for n in workers:
                per_count[str(n)] = await _postgres_one(dsn, n, tmp, serve_args, pg)
            private_pem, _ = generate_device_key()
            bare_load = Load([("BARE-00000", private_pem)])
            bare_result = _summary([await bare_load.run(bare_url, ROUND_S, WARMUP_S)])
        finally:
            bare.terminate()
            bare.wait(timeout=10)
    return {
        "store": "postgresql",
        "workers": per_count,
        "bare_aiohttp_per_s": round(bare_result["per_s"], 1),
        "cores": os.cpu_count(),
        "kiosks_simulated": KIOSKS,
        "in_flight": IN_FLIGHT,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="bench.fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--workers", default="1,2,4", help="PostgreSQL: worker counts to measure (1,2,4)"
    )
    args, serve_args = parser.parse_known_args(argv)
    if args.store == "postgresql":
        counts = [int(n) for n in args.workers.split(",")]
        return asyncio.run(postgres_main(counts, serve_args))
    return asyncio.run(sqlite_main(serve_args))


if __name__ == "__main__":
    print(json.dumps(main()))
