"""The help button and the video call, on the real session and the real fleet server: "呼叫工作人员"
still tells the fleet where the citizen is stuck; where the site allows calls the help panel's
"视频连线" asks for consent first (nothing rings, the camera stays off); where it does not,
nothing is offered; a visit's end takes its call (asked, ringing) with it."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from fleet.call_store import CallPolicy
from fleet.signalling import CALL_HUB
from kiosk.app import build_session
from kiosk.viewmodel import CallPhase, ScreenId
from tests.fleet.fleetkit import Fleet, sqlite_config
from tests.kiosk.test_flow_engine import kiosk  # noqa: F401 - the fixture
from tests.reports_kit import listen

SITE = "village-3"


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        await asyncio.sleep(0.02)


async def enrolled(kiosk_fixture, tmp_path, allowed: bool):
    """The kiosk enrolled with a running fleet whose site allows calls (or has no policy)."""
    _, ctx, _ = kiosk_fixture
    fleet = Fleet(sqlite_config(tmp_path / "fleet"))
    await fleet.start()
    keys = await fleet.enroll_kiosk("VIL-03", site=SITE)
    if allowed:
        await fleet.runner.app[CALL_HUB].store.set_policy(  # type: ignore[union-attr]
            SITE, CallPolicy(calls_allowed=True, recording=True), "test", time.time())
    key = tmp_path / "device.key"
    key.write_bytes(keys.private_pem)
    ctx.config = dataclasses.replace(
        ctx.config, kiosk_id="VIL-03",
        fleet=dataclasses.replace(ctx.config.fleet, server_url=fleet.url,
                                  device_key_path=str(key)),
        call=dataclasses.replace(ctx.config.call, policy_interval_s=0.5))
    # The enrolled kiosk's own session: its desk comes with it, as in kiosk.app.begin.
    session = build_session(ctx, video_calls=True)
    await session.refresh_catalog()
    desk = session.calls
    assert desk is not None
    desk.start()
    return fleet, session, desk, listen(ctx).problems


async def ended(fleet, session, desk) -> None:
    await desk.stop()
    await session.stop()
    await session.catalog_client.close()
    await fleet.close()


async def test_help_offers_the_video_call_where_the_site_allows_it_consent_first(
        kiosk, tmp_path):  # noqa: F811
    _, ctx, _ = kiosk
    fleet, session, desk, problems = await enrolled(kiosk, tmp_path, allowed=True)
    try:
        await until(lambda: ctx.view.call_available, "the site's policy")
        session.touch_start()
        session.call_staff()
        # The help panel as before: shown, and the fleet told where (the menu, no step).
        assert ctx.view.help_shown
        assert problems == [("help_requested", "screen=menu;step=")]
        session.start_video_call()
        assert not ctx.view.help_shown
        assert ctx.view.call_phase is CallPhase.CONSENT and ctx.view.call_recording
        await asyncio.sleep(0.3)
        assert desk.media is None                       # the camera is not on, nothing rang
        hub = fleet.runner.app[CALL_HUB]  # type: ignore[union-attr]
        assert await hub.store.open_calls_of("VIL-03") == []
        session.hang_up()                               # "不用了"
        assert ctx.view.call_phase is CallPhase.IDLE
        assert problems == [("help_requested", "screen=menu;step=")]   # one, not two
    finally:
        await ended(fleet, session, desk)


async def test_without_the_site_s_consent_the_help_panel_offers_only_the_hotline(
        kiosk, tmp_path):  # noqa: F811
    _, ctx, _ = kiosk
    fleet, session, desk, problems = await enrolled(kiosk, tmp_path, allowed=False)
    try:
        await asyncio.sleep(1.0)                        # the policy asked, at least once
        assert not ctx.view.call_available
        session.touch_start()
        session.call_staff()
        assert ctx.view.help_shown and problems[0][0] == "help_requested"
        session.start_video_call()                      # no button for it; nothing happens
        assert ctx.view.call_phase is CallPhase.IDLE
    finally:
        await ended(fleet, session, desk)


async def test_the_end_of_a_visit_ends_its_call(kiosk, tmp_path):  # noqa: F811
    _, ctx, _ = kiosk
    fleet, session, desk, _ = await enrolled(kiosk, tmp_path, allowed=True)
    hub = fleet.runner.app[CALL_HUB]  # type: ignore[union-attr]
    try:
        await until(lambda: ctx.view.call_available, "the site's policy")
        # Asked, then the citizen leaves: the consent goes with them.
        session.touch_start()
        session.call_staff()
        session.start_video_call()
        assert ctx.view.call_phase is CallPhase.CONSENT
        session.cancel()
        assert ctx.view.screen is ScreenId.ATTRACT and ctx.view.call_phase is CallPhase.IDLE
        # Ringing, then the citizen leaves: the call is hung up at the fleet too.
        session.touch_start()
        session.call_staff()
        session.start_video_call()
        session.accept_call_consent()
        await until(lambda: ctx.view.call_phase is CallPhase.RINGING, "ringing")
        await until(lambda: desk.figures.call_id != "", "the call's id")
        call_id = desk.figures.call_id

        async def rung() -> bool:
            return await hub.store.call(call_id) is not None
        deadline = time.monotonic() + 10
        while not await rung():
            assert time.monotonic() < deadline, "the fleet never heard the ring"
            await asyncio.sleep(0.05)
        session.cancel()
        await until(lambda: ctx.view.call_phase in (CallPhase.ENDED, CallPhase.IDLE), "the end")
        assert desk.figures.ended_reason == "citizen"
        row = await hub.store.call(call_id)
        assert row is not None and row.state.value == "ended"
    finally:
        await ended(fleet, session, desk)


async def test_no_restart_or_update_while_a_citizen_s_call_is_asked_for_or_on(
        kiosk, tmp_path):  # noqa: F811
    # What the fleet agent's commands and the update agent wait for (kiosk/fleet_link.py,
    # kiosk/app.py): a citizen on the menu talking to the hall runs no transaction, but a
    # restart would cut their call.
    _, ctx, _ = kiosk
    fleet, session, desk, _ = await enrolled(kiosk, tmp_path, allowed=True)
    try:
        await until(lambda: ctx.view.call_available, "the site's policy")
        session.touch_start()
        assert not session.busy and not session.must_not_restart
        session.call_staff()
        session.start_video_call()
        assert not session.busy and session.must_not_restart          # the consent is up
        session.accept_call_consent()
        await until(lambda: ctx.view.call_phase is CallPhase.RINGING, "ringing")
        assert not session.busy and session.must_not_restart
        session.hang_up()
        await until(lambda: ctx.view.call_phase in (CallPhase.ENDED, CallPhase.IDLE), "the end")
        assert not session.must_not_restart
    finally:
        await ended(fleet, session, desk)
