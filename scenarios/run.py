"""Runs one scripted citizen's scenario against the running kiosk app and sums it up: the
visits of `citizen` and the gallery of `gallery`, by name."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kivy.app import App

from scenarios.citizen import CITIZEN_SCENARIOS, Citizen, ScenarioFailed
from scenarios.gallery import run_gallery
from scenarios.gallery_hall import hall_gallery
from simulator.control_client import SimulatorClient


async def _gallery(c: Citizen) -> dict:
    return await run_gallery(c, c.out_dir / "gallery")


SCENARIOS = {**CITIZEN_SCENARIOS, "gallery": _gallery, "hall_gallery": hall_gallery}


async def run_scenario(
    app: App, name: str, control_url: str, out_dir: Path, started_at: float
) -> dict:
    """Runs one scenario against the running app and returns a summary (JSON-able)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    while not getattr(app, "ready", False) or app.root is None:
        await asyncio.sleep(0.02)
    attract_s = time.monotonic() - started_at
    async with SimulatorClient(control_url) as sim:
        citizen = Citizen(app, sim, out_dir)
        t0 = time.monotonic()
        summary: dict = {
            "scenario": name,
            "out_dir": str(out_dir.resolve()),
            "start_to_attract_s": round(attract_s, 3),
        }
        try:
            summary.update(await SCENARIOS[name](citizen))
            summary["ok"] = True
        except ScenarioFailed as exc:
            summary.update(ok=False, error=str(exc))
            citizen.screenshot("failure")
        except Exception as exc:    # e.g. the simulator stopped answering: still a summary
            summary.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            citizen.screenshot("failure")
        voice = getattr(app, "voice", None)
        summary.update(
            voice=list(voice.events) if voice is not None else [],
            transitions=list(getattr(app, "transitions", [])),
            scenario_s=round(time.monotonic() - t0, 2),
            screenshots=citizen.shots,
            screenshot_spans=citizen.shot_spans,
            screens_seen=citizen.seen,
            timeline=citizen.timeline,
        )
    return summary
