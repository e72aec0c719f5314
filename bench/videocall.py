"""Video help from the hall, measured: the real kiosk (Kivy under Xvfb, the simulator's 640x480
MJPEG face camera at its 15 fps, aiortc) calls through the real fleet server; Debian's Chromium
with fake devices (640x480 camera, a tone) answers as the agent; all on localhost, direct (no TURN).

connect_s       the agent's click on Answer -> both ends' peer connections connected (median of
                `--calls` calls; ringing and the citizen's consent are not in it)
kiosk_fps_rx    the agent's video frames the kiosk decoded, per second, over `--seconds`
agent_fps_rx    the kiosk's camera frames the agent's browser decoded, per second
agent_screen_fps_rx  the kiosk's masked screen frames the browser decoded, per second
cpu_share_call  the kiosk process's CPU time over wall time during the call (1.0 = one core)
cpu_share_idle  the same on the same screen with no call
loop_lag_ms_p95_idle / _call  how late a 20 ms sleep on the kiosk's loop wakes (the UI's
                smoothness: Kivy draws on that loop), 95th percentile
screen_render_ms  the masked screen render, per frame, on the UI's thread

The kiosk's window is 540x960 by default (half its 1080x1920): Xvfb's software GL draws a full
window slowly enough on a shared machine to swamp what is measured here; --full-size for 1080x1920.

Usage: .venv/bin/python -m bench.videocall [--calls N] [--seconds S] [--full-size]
Prints one line per measurement, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from fleet.call_store import CallPolicy
from fleet.signalling import CALL_HUB
from fleet.store import Role
from simulator.xvfb import virtual_display
from tests.fleet.fleetkit import Fleet, sqlite_config
from tests.videocall.callkit import CHROMIUM, CHROMIUM_ARGS, KioskProcess, agent_page, agent_stats

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system time of a process, all its threads (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def cpu_share(kiosk: KioskProcess, seconds: float) -> float:
    assert kiosk.proc is not None
    c0, t0 = cpu_seconds(kiosk.proc.pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(kiosk.proc.pid) - c0) / (time.monotonic() - t0)


async def connect(kiosk: KioskProcess, page) -> float:
    """One call from the consent to connected; the seconds from the agent's click."""
    await kiosk.ask_for_video()
    await asyncio.sleep(0.5)
    await kiosk.post("/tap", {"id": "call.consent.accept"})
    answer = page.locator("#calls tbody tr button.answer")
    await answer.wait_for()
    clicked = time.monotonic()
    await answer.click()
    while True:
        state = await kiosk.state()
        if state["call_phase"] == "in_call" and (await agent_stats(page))["connected"]:
            return time.monotonic() - clicked
        if time.monotonic() - clicked > 30:
            raise RuntimeError(f"the call did not connect: {state}")
        await asyncio.sleep(0.02)


async def hang_up(kiosk: KioskProcess, page) -> None:
    await page.click("#hang-up")
    await kiosk.until(lambda s: s["call_phase"] == "idle", "the call to end", 15)


async def run(calls: int, seconds: float, full_size: bool) -> dict:
    from playwright.async_api import async_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-videocall-"))
    fleet = Fleet(sqlite_config(tmp))
    await fleet.start()
    keys = await fleet.enroll_kiosk("BENCH-VIL-01", site="village-1", region="bench")
    await fleet.runner.app[CALL_HUB].store.set_policy(  # type: ignore[union-attr]
        "village-1", CallPolicy(True, False), "bench", time.time())
    await fleet.add_user("agent", Role.AGENT)
    (tmp / "kiosk").mkdir()
    ui = {} if full_size else {"width": 540, "height": 960}
    figures: dict = {}
    with virtual_display() as env:
        kiosk = KioskProcess(tmp / "kiosk", "BENCH-VIL-01", fleet.url, keys.private_pem, env,
                             ui=ui)
        try:
            await kiosk.start()
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                   args=CHROMIUM_ARGS)
                page = await agent_page(browser, fleet.url, "agent")
                await kiosk.until(lambda s: s["call_available"], "the call policy")
                await kiosk.post("/intent", {"name": "touch_start"})
                await kiosk.until(lambda s: s["screen"] == "menu", "the menu")
                await asyncio.sleep(3)
                idle = await cpu_share(kiosk, seconds)
                idle_lag = (await kiosk.state())["loop_lag_ms_p95"]
                print(f"idle: cpu {idle:.3f}, loop lag p95 {idle_lag} ms", flush=True)
                connects = []
                for n in range(calls):
                    connects.append(await connect(kiosk, page))
                    print(f"call {n + 1}: connected in {connects[-1]:.3f} s", flush=True)
                    if n < calls - 1:
                        await hang_up(kiosk, page)
                await asyncio.sleep(3)        # past the encoders' start
                a0, k0 = await agent_stats(page), (await kiosk.state())["figures"]
                t0 = time.monotonic()
                busy = await cpu_share(kiosk, seconds)
                a1, state = await agent_stats(page), await kiosk.state()
                span = time.monotonic() - t0
                k1 = state["figures"]
                figures = {
                    "connect_s": round(statistics.median(connects), 3),
                    "kiosk_fps_rx": round((k1["agent_video_frames"]
                                           - k0["agent_video_frames"]) / span, 1),
                    "agent_fps_rx": round((a1["camera"] - a0["camera"]) / span, 1),
                    "agent_screen_fps_rx": round((a1["screen"] - a0["screen"]) / span, 1),
                    "camera_fps_in": round((k1["camera_in"] - k0["camera_in"]) / span, 1),
                    "camera_fps_sent": round((k1["camera_sent"] - k0["camera_sent"]) / span, 1),
                    "agent_camera_width": a1["camera_width"],
                    "cpu_share_call": round(busy, 3),
                    "cpu_share_idle": round(idle, 3),
                    "loop_lag_ms_p95_idle": idle_lag,
                    "loop_lag_ms_p95_call": state["loop_lag_ms_p95"],
                    "screen_render_ms": state["screen_render_ms"],
                    "window": state["window"],
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
                print(f"call: {figures}", flush=True)
                await hang_up(kiosk, page)
                await browser.close()
        finally:
            await kiosk.stop()
            await fleet.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--full-size", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(run(args.calls, args.seconds, args.full_size))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
