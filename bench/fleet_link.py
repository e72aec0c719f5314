"""How fast the fleet hears of a kiosk: the real kiosk core (its own process, on the simulator's
devices) against the real fleet server (SQLite), with the kiosk's default heartbeat interval.

fault_to_event_s / fault_to_alert_s: the simulated receipt printer unplugged -> the fleet has the
  device-fault event / an open device-fault alert for it.
command_to_state_s: an operator's out-of-service (then back-in-service) -> the command is "done",
  i.e. the kiosk's heartbeat showed the state applied (commands ride on heartbeats: this is
  bounded by the interval).
kill_to_offline_s / kill_to_alert_s: SIGKILL of the kiosk process -> the fleet judges it offline /
  opens the offline alert (offline_multiple x interval, then the next sweep).
restart_to_crash_alert_s: the killed kiosk started again -> the crash alert its start raises.
stop_to_offline_s: SIGTERM (a clean stop) -> offline (the kiosk's goodbye).

Usage: .venv/bin/python -m bench.fleet_link [--interval S] [--rounds N]
Prints one line per measurement, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

TIMEOUT_S = 240.0


async def child(overrides: dict[str, Any]) -> None:
    """The kiosk core as kiosk.app runs it headless, until SIGTERM (or SIGKILL)."""
    from kiosk.app import _end_run, close_context, prepare, start_fleet_link
    from kiosk.config import load_config
    from kiosk.run_state import RunRecord

    config = load_config(None, overrides)
    record = RunRecord(config.state_dir)
    run = record.begin()
    ctx, session = await prepare(config)
    session.start()
    link = start_fleet_link(ctx, session, restart_app=lambda: None, run=run)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await _end_run(record, run, link, None)
    await close_context(ctx, session)


async def until(check: Callable[[], Awaitable[Any]], step: float = 0.02) -> float:
    """Seconds until `check()` is truthy (polled every `step`)."""
    started = time.monotonic()
    while time.monotonic() - started < TIMEOUT_S:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(step)
    raise TimeoutError("condition not met")


class Bench:
    def __init__(self, tmp: Path, interval: float) -> None:
        self.tmp = tmp
        self.interval = interval
        self.proc: subprocess.Popen[bytes] | None = None

    async def setup(self) -> None:
        from fleet.app import create_app
        from fleet.auth import new_secret_token
        from fleet.config import FleetConfig
        from fleet.services import SERVICES
        from kiosk.config import simulator_overrides
        from kiosk.fleet_enrollment import enroll, generate_device_key
        from simulator.runtime import Simulator, SimulatorOptions

        self.runner = web.AppRunner(create_app(FleetConfig(data_dir=self.tmp / "fleet")))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.store = self.runner.app[SERVICES].store
        token, hashed = new_secret_token()
        await self.store.create_enrollment_token(hashed, "bench", 600)
        private_pem, _ = generate_device_key()
        await enroll(url, token, private_pem, "BENCH-01", "hall", "bench")
        key = self.tmp / "device.key"
        key.write_bytes(private_pem)
        self.sim = Simulator(SimulatorOptions(state_dir=self.tmp / "sim"))
        self.overrides = simulator_overrides(await self.sim.start())
        self.overrides.update(
            state_dir=str(self.tmp / "kiosk"),
            kiosk_id="BENCH-01",
            fleet={
                "server_url": url,
                "device_key_path": str(key),
                "heartbeat_interval_s": self.interval,
            },
        )

    async def start_kiosk(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fleet_link", "--child", json.dumps(self.overrides)],
            stdout=subprocess.PIPE,
            stderr=open(self.tmp / "kiosk.log", "ab"),  # noqa: SIM115 - the child's
        )
        assert self.proc.stdout is not None
        await asyncio.to_thread(self.proc.stdout.readline)  # "ready"
        started = time.time()
        await until(lambda: self._row(lambda r: (r["started_at"] or 0) >= started - 60))

    async def _row(self, cond: Callable[[dict[str, Any]], bool]) -> bool:
        row = await self.store.get_kiosk("BENCH-01")
        return bool(row and row["last_seen"] and cond(row))

    async def _alert(self, kind: str, subject: str | None = None) -> bool:
        return any(
            a["kind"] == kind and (subject is None or a["subject"] == subject)
            for a in await self.store.list_alerts()
        )

    async def _event(self, kind: str, since: float) -> bool:
        return any(
            e["kind"] == kind and e["received_at"] >= since
            for e in await self.store.recent_events("BENCH-01", 20)
        )

    async def fault(self) -> dict[str, float]:
        await until(lambda: self._row(_printer_ok))
        await asyncio.sleep(self.interval * 0.37)  # any phase of the heartbeat
        since = time.time()
        started = time.monotonic()
        self.sim.printer.unplug()
        event = await until(lambda: self._event("device_fault", since))
        alert = await until(lambda: self._alert("device_fault", "receipt_printer"))
        elapsed = time.monotonic() - started
        self.sim.printer.plug()
        await until(lambda: _not(self._alert("device_fault", "receipt_printer")))
        return {
            "fault_to_event_s": event,
            "fault_to_alert_s": elapsed,
            "alert_after_event_s": alert,
        }

    async def command(self) -> dict[str, float]:
        from wire.fleet import CommandKind

        out: dict[str, float] = {}
        for kind, serving in (
            (CommandKind.OUT_OF_SERVICE, False),
            (CommandKind.BACK_IN_SERVICE, True),
        ):
            await asyncio.sleep(self.interval * 0.41)
            command = await self.store.queue_command("BENCH-01", kind, {}, "bench")
            out[f"{kind.value}_s"] = await until(lambda c=command.command_id: self._done(c))
            assert await self._row(lambda r, s=serving: r["in_service"] is s)
        return out

    async def _done(self, command_id: str) -> bool:
        commands = await self.store.list_commands("BENCH-01")
        return any(c["command_id"] == command_id and c["status"] == "done" for c in commands)

    async def kill(self) -> dict[str, float]:
        assert self.proc is not None
        await asyncio.sleep(self.interval * 0.53)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        offline = await until(lambda: self._row(lambda r: r["connectivity"] == "offline"), 0.2)
        alert = await until(lambda: self._alert("offline"), 0.2) + offline
        restarted = time.monotonic()
        await self.start_kiosk()
        crash = await until(lambda: self._alert("crash"))
        return {
            "kill_to_offline_s": offline,
            "kill_to_alert_s": alert,
            "restart_to_crash_alert_s": time.monotonic() - restarted,
            "restart_to_crash_alert_after_up_s": crash,
        }

    async def stop(self) -> dict[str, float]:
        assert self.proc is not None
        await asyncio.sleep(self.interval * 0.29)
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        offline = await until(lambda: self._row(lambda r: r["connectivity"] == "offline"))
        await asyncio.to_thread(self.proc.wait)
        return {"stop_to_offline_s": offline, "elapsed": time.monotonic() - started}

    async def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        await self.sim.stop()
        await self.runner.cleanup()


def _printer_ok(row: dict[str, Any]) -> bool:
    return any(d["device"] == "receipt_printer" and d["health"] == "ok" for d in row["devices"])


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.mean(values), 3), "max": round(max(values), 3)}


async def run(tmp: Path, interval: float, rounds: int) -> dict[str, Any]:
    bench = Bench(tmp, interval)
    await bench.setup()
    samples: dict[str, list[float]] = {}

    def keep(result: dict[str, float]) -> None:
        print(json.dumps({k: round(v, 3) for k, v in result.items()}), flush=True)
        for k, v in result.items():
            samples.setdefault(k, []).append(v)

    try:
        await bench.start_kiosk()
        for _ in range(rounds):
            keep(await bench.fault())
            keep(await bench.command())
        keep(await bench.kill())
        keep(await bench.stop())
    finally:
        await bench.close()
    return {k: _summary(v) for k, v in samples.items() if k != "elapsed"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.fleet_link")
    parser.add_argument("--interval", type=float, default=15.0, help="kiosk heartbeat (15 s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        asyncio.run(child(json.loads(args.child)))
        return 0
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-link-") as tmp:
        results = asyncio.run(run(Path(tmp), args.interval, args.rounds))
    print(json.dumps({"interval_s": args.interval, "rounds": args.rounds, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
