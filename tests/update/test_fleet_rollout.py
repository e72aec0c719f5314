"""A rollout from the fleet, end to end: the real fleet server, real bundles from the real
builder, two kiosk machines whose real fleet agents and update agents (tests/update/fleet_kiosk)
take the update command, and the real updater and slot guard on their files (run here the way
kiosk-update.path and kiosk.service run them).

The operator uploads a bundle (a forged one is refused with the reason), starts a rollout to
both kiosks, it goes live on the first, the operator pauses it before the second is seen, and
the second gets no update. A release that never becomes healthy is rolled back on the kiosk,
and the rollout and the alerts say so. The dashboard's rollout page is looked at in Chromium."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from tests.fleet.fleetkit import PASSWORD, Fleet
from tests.update.conftest import machine_at
from tests.update.fleet_kiosk import AgentKiosk
from tests.update.fleetops import part, post, reaches, until, upload
from tests.update.machine import Machine
from tests.update.test_refusals import rewrite
from wire.fleet import API_PREFIX
from wire.update.bundle import read_manifest

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = os.environ.get("KIOSK_SCREENSHOTS")


class Kiosks:
    """The kiosk machines of a test and their running agents (each stopped at the end)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.running: list[AgentKiosk] = []
        self.keys: dict[str, bytes] = {}

    async def enroll(self, kiosk_id: str, site: str) -> None:
        self.keys[kiosk_id] = (await self.fleet.enroll_kiosk(kiosk_id, site, "east")).private_pem

    def start(self, machine: Machine, kiosk_id: str) -> AgentKiosk:
        kiosk = AgentKiosk(machine, self.fleet.url, kiosk_id, self.keys[kiosk_id]).start()
        self.running.append(kiosk)
        return kiosk

    async def stop(self, kiosk: AgentKiosk) -> None:
        self.running.remove(kiosk)
        await kiosk.stop()


@pytest.fixture
async def kiosks(fleet):
    made = Kiosks(fleet)
    yield made
    for kiosk in list(made.running):
        await made.stop(kiosk)


async def restart_into_staged(kiosks: Kiosks, kiosk: AgentKiosk, kiosk_id: str) -> AgentKiosk:
    """The kiosk asked to restart (between citizens, in its window): the process stops, the
    guard runs before the next start (kiosk.service's ExecStartPre), the new process starts."""
    await until(lambda: asyncio.sleep(0, kiosk.restarts > 0), 20, "the kiosk asks to restart")
    machine = kiosk.machine
    await kiosks.stop(kiosk)
    await asyncio.to_thread(machine.guard, "boot")
    return kiosks.start(machine, kiosk_id)


async def test_a_rollout_goes_live_on_one_kiosk_and_is_paused_before_the_second(
        tmp_path, fleet, operator, kiosks, trusted, runtime_store, releases, machine):
    second = machine_at(tmp_path / "machine-2", trusted, runtime_store, releases)
    await kiosks.enroll("EAST-01", "hall-1")
    await kiosks.enroll("EAST-02", "hall-2")
    good = releases.get("1.1.0")

    # A bundle whose signature fails is refused at upload, with the reason; nothing is kept.
    body = dataclasses.replace(read_manifest(good.bundle), min_version="0.0.1")
    forged = rewrite(good.bundle, tmp_path / "forged.kbundle", body.to_bytes())
    status, refused = await upload(operator, fleet, forged)
    assert status == 422 and refused["reason"] == "bad_signature"
    assert "altered or forged" in refused["message"]
    assert await fleet.store.list_bundles() == []
    assert not list((tmp_path / "fleet/bundles").iterdir())

    status, bundle = await upload(operator, fleet, good.bundle)
    assert status == 201 and bundle["digest"] == good.digest and bundle["version"] == "1.1.0"
    status, rollout = await post(operator, fleet, "/rollouts",
                                 {"digest": good.digest, "region": "east", "percent": 100})
    assert status == 201 and rollout["state"] == "active"
    rollout_id = rollout["rollout_id"]
    assert {k["kiosk_id"]: k["status"] for k in rollout["kiosks"]} == {
        "EAST-01": "queued", "EAST-02": "queued"}

    # The first kiosk is seen: it gets the command and asks its updater for the bundle.
    first = kiosks.start(machine, "EAST-01")
    await reaches(fleet, rollout_id, "EAST-01", "requested")
    request = machine.json("var/lib/kiosk/update/request.json")
    assert request["url"] == f"{fleet.url}{API_PREFIX}/bundles/{good.digest}.kbundle"
    assert request["manifest_digest"] == good.digest
    # kiosk-update.path starts the updater: it downloads through the fleet and stages.
    state = await asyncio.to_thread(machine.run_updater)
    assert state["phase"] == "staged" and state["url"] == request["url"], state
    await reaches(fleet, rollout_id, "EAST-01", "staged")
    first = await restart_into_staged(kiosks, first, "EAST-01")
    assert machine.current_slot() == "b" and first.updates.version == "1.1.0"
    await reaches(fleet, rollout_id, "EAST-01", "trial")
    # The slot guard's timer keeps the version once the run is healthy (the fleet answered).
    await until(lambda: asyncio.sleep(0, first.updates.healthy), 10, "healthy")
    await asyncio.sleep(0.3)  # the health report is written off the loop
    await asyncio.to_thread(machine.guard, "check")
    live = await reaches(fleet, rollout_id, "EAST-01", "live")
    assert live["detail"] == "from 1.0.0" and live["from_version"] == "1.0.0"
    assert (await fleet.store.get_kiosk("EAST-01"))["software_version"] == "1.1.0"

    # Paused before the second kiosk was ever seen: its command is withdrawn.
    status, paused = await post(operator, fleet, f"/rollouts/{rollout_id}/pause")
    assert status == 200 and paused["withdrawn"] == 1
    assert paused["rollout"]["state"] == "paused"
    kiosk_2 = kiosks.start(second, "EAST-02")

    async def heard(n):
        return (await fleet.store.get_kiosk("EAST-02"))["heartbeats"] >= n

    await until(lambda: heard(4), 20, "EAST-02 beats")
    assert kiosk_2.commands == []
    assert not (second.root / "var/lib/kiosk/update/request.json").exists()
    waiting = await part(fleet, rollout_id, "EAST-02")
    assert (waiting["status"], waiting["detail"], waiting["command_id"]) == (
        "waiting", "rollout paused", None)
    commands = await fleet.store.list_commands("EAST-02")
    assert [(c["kind"], c["status"], c["ack_detail"]) for c in commands] == [
        ("update", "failed", "rollout paused")]
    assert (await fleet.store.get_kiosk("EAST-02"))["software_version"] == "1.0.0"
    await look_at_the_rollout_page(fleet, tmp_path, "rollout-paused.png",
                                   expect_rows={"EAST-01": "live", "EAST-02": "waiting"},
                                   first_update="Software 1.1.0 in slot b · last update: updated"
                                   " 1.1.0")


async def test_a_rollback_on_the_kiosk_shows_in_the_rollout_and_raises_an_alert(
        tmp_path, fleet, operator, kiosks, releases, machine):
    await kiosks.enroll("EAST-01", "hall-1")
    broken = releases.get("1.1.0", broken="crash_at_import")
    status, _ = await upload(operator, fleet, broken.bundle)
    assert status == 201
    status, rollout = await post(operator, fleet, "/rollouts", {"digest": broken.digest,
                                                                "site": "hall-1", "percent": 100})
    rollout_id = rollout["rollout_id"]
    kiosk = kiosks.start(machine, "EAST-01")
    await reaches(fleet, rollout_id, "EAST-01", "requested")
    assert (await asyncio.to_thread(machine.run_updater))["phase"] == "staged"
    await until(lambda: asyncio.sleep(0, kiosk.restarts > 0), 20, "the kiosk asks to restart")
    await kiosks.stop(kiosk)
    # The new version dies at every start (crash_at_import); the guard counts the starts and
    # goes back to the old slot when they are used up.
    for _ in range(machine.start_tries):
        await asyncio.to_thread(machine.guard, "boot")
        assert machine.current_slot() == "b"
        code = await asyncio.to_thread(start_current, machine)
        assert code == 1
        await asyncio.to_thread(machine.guard, "stopped", env={
            "SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": str(code)})
    await asyncio.to_thread(machine.guard, "boot")
    assert machine.current_slot() == "a"
    assert machine.boot_state()["last_result"]["outcome"] == "rolled_back"
    kiosks.start(machine, "EAST-01")  # the old version, back
    back = await reaches(fleet, rollout_id, "EAST-01", "rolled_back")
    assert back["detail"].startswith("start_failed: ")

    async def alert():
        found = [a for a in await fleet.store.list_alerts(kiosk_id="EAST-01")
                 if a["kind"] == "update_rolled_back"]
        return found

    (raised,) = await until(alert, 20, "the rollback alert")
    assert raised["subject"] == "1.1.0" and raised["detail"].startswith("rolled back: start_failed")
    events = await fleet.store.recent_events("EAST-01")
    rollbacks = [e for e in events if e["kind"] == "update_result"
                 and e["detail"]["outcome"] == "rolled_back"]
    assert len(rollbacks) == 1 and rollbacks[0]["severity"] == "warning"
    assert (await fleet.store.get_kiosk("EAST-01"))["software_version"] == "1.0.0"


def start_current(machine: Machine) -> int:
    """kiosk.service's ExecStart: the kiosk of the slot `current` points at; its exit status."""
    kiosk = machine.root / "opt/kiosk/current/venv/bin/kiosk"
    proc = subprocess.run([str(kiosk), "--config", str(machine.config)], capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" in proc.stderr, proc.stderr[-2000:]  # dies while its modules load
    return proc.returncode


async def look_at_the_rollout_page(fleet: Fleet, tmp_path: Path, name: str,
                                   expect_rows: dict[str, str], first_update: str) -> Path:
    """The dashboard's rollout page in headless Chromium, as an operator sees it."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / name
    first_kiosk = next(iter(expect_rows))

    def browse() -> None:
        from playwright.sync_api import expect, sync_playwright

        from tests.fleet.test_dashboard import ARGS

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(fleet.url + "/")
            page.fill("#username", "olga")
            page.fill("#password", PASSWORD)
            page.click("#sign-in-form button")
            page.click("#views button[data-view=rollouts]")
            rows = page.locator("#rollout-kiosks tbody tr")
            expect(rows).to_have_count(len(expect_rows))
            for kiosk_id, status in expect_rows.items():
                expect(page.locator(f"#rollout-kiosks tr.rkiosk.{status}")).to_contain_text(
                    kiosk_id)
            expect(page.locator("#rollout-resume")).to_be_visible()
            expect(page.locator("#rollout-pause")).to_be_hidden()
            page.screenshot(path=str(path), full_page=True)
            # The kiosk's own page says what its heartbeats said of updates.
            page.click("#views button[data-view=fleet]")
            page.click(f"text={first_kiosk}")
            expect(page.locator("#detail-update")).to_contain_text(first_update)
            browser.close()

    await asyncio.to_thread(browse)
    return path
