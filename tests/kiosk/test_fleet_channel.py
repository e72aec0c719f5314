"""The kiosk's fleet channel (kiosk.fleet_channel) on the real session, the real fleet link and
the real fleet server: the link connects as it starts and disconnects as it stops, so a village
agent can sign in exactly while a link runs; what the session reports reaches the fleet as an
event, and a listener that fails takes neither the report nor the citizen's screen with it."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from kiosk.app import start_fleet_link
from kiosk.run_state import RunRecord
from kiosk.viewmodel import ScreenId
from tests.fleet.fleetkit import Fleet, sqlite_config
from tests.kiosk.test_flow_engine import kiosk  # noqa: F401 - the fixture
from tests.reports_kit import listen

__all__ = ["kiosk"]
KIOSK = "KIOSK-CHANNEL-01"


async def enrolled_link(ctx, session, tmp_path):
    fleet = Fleet(sqlite_config(tmp_path / "fleet"))
    await fleet.start()
    keys = await fleet.enroll_kiosk(KIOSK)
    key = tmp_path / "device.key"
    key.write_bytes(keys.private_pem)
    ctx.config = dataclasses.replace(
        ctx.config, kiosk_id=KIOSK,
        fleet=dataclasses.replace(ctx.config.fleet, server_url=fleet.url,
                                  device_key_path=str(key), heartbeat_interval_s=0.3))
    link = start_fleet_link(ctx, session, lambda: None, RunRecord(ctx.config.state_dir).begin())
    assert link is not None
    return fleet, link


def sign_in_error(session, ctx) -> str:
    """The attract screen's discreet entry, pressed: what the sign-in screen says at once."""
    session.agent_entry()
    assert ctx.view.screen is ScreenId.AGENT_SIGN_IN
    error = ctx.view.entry_error_key
    session.agents.close_sign_in()
    return error


async def test_a_village_agent_signs_in_only_while_a_fleet_link_runs(kiosk, tmp_path):  # noqa: F811
    _, ctx, session = kiosk
    assert sign_in_error(session, ctx) == "agent.no_fleet"
    fleet, link = await enrolled_link(ctx, session, tmp_path)
    try:
        assert ctx.fleet_channel.connected
        assert sign_in_error(session, ctx) == ""          # asks for the agent's code or card
    finally:
        await link.stop()
        await fleet.close()
    assert not ctx.fleet_channel.connected
    assert sign_in_error(session, ctx) == "agent.no_fleet"


async def test_a_report_reaches_the_fleet_though_a_listener_fails(kiosk, tmp_path):  # noqa: F811
    _, ctx, session = kiosk

    class Broken:
        def problem(self, kind: str, reason: str) -> None:
            raise RuntimeError("a listener's own bug")

        def evaluation(self, report) -> None:
            raise RuntimeError("a listener's own bug")

        def changed(self) -> None:
            raise RuntimeError("a listener's own bug")

    ctx.fleet_channel.listen(Broken())
    heard = listen(ctx)
    fleet, link = await enrolled_link(ctx, session, tmp_path)
    try:
        session.touch_start()
        session.call_staff()                               # "呼叫工作人员" on the menu
        assert ctx.view.help_shown                         # the citizen's screen went on
        assert heard.problems == [("help_requested", "screen=menu;step=")]
        deadline = time.monotonic() + 10
        while not [e for e in await fleet.store.recent_events(KIOSK)
                   if e["reason"] == "help_requested:screen=menu;step="]:
            assert time.monotonic() < deadline, "the fleet never heard of the call for staff"
            await asyncio.sleep(0.1)
    finally:
        await link.stop()
        await fleet.close()
    session.call_staff()                                   # no link: heard here, not sent
    assert heard.problems[-1][0] == "help_requested" and not ctx.fleet_channel.connected
