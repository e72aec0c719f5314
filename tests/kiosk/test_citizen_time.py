"""The citizen's time and ways out: progress counts as activity, each step's time comes from the
catalog (doubled in elder mode) with at least 30 s of warning, back only where nothing is lost,
exit asks first, call staff reaches the fleet with nothing personal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

from kiosk.catalog import parse_catalog
from kiosk.citizen_time import CitizenClock
from kiosk.config import FlowConfig, KioskConfig, UiConfig
from kiosk.journal import TxState
from kiosk.step_library import STEP_LIBRARY
from kiosk.viewmodel import CallPhase, ScreenId, SessionView
from simulator.backends import reference_catalog
from simulator.reference import BILL_PAYMENT, ENDORSEMENT, WATER_ACCOUNT
from tests.kiosk.test_flow_engine import kiosk, until  # noqa: F401 - the fixture
from tests.reports_kit import listen

CATALOG = parse_catalog(reference_catalog(), STEP_LIBRARY)


def clock_for(ui: UiConfig, view: SessionView, flow: FlowConfig | None = None) -> CitizenClock:
    config = KioskConfig(ui=ui, flow=flow or FlowConfig())
    return CitizenClock(lambda: config, view, flow_running=lambda: True)


def test_a_citizen_busy_with_cards_is_never_asked_if_still_there():
    view = SessionView(screen=ScreenId.CHOOSE)
    clock = clock_for(UiConfig(idle_prompt_s=0.3, idle_timeout_s=0.3), view)
    statuses = ["idcard.instruction", "idcard.reading", "permit.instruction", "permit.reading",
                "face.hint.no_face", "face.hint.move_closer", "face.hint.ok", "face.captured"]
    deadline = time.monotonic() + 1.5          # 2.5 allowances long, no touch at all
    i = 0
    while time.monotonic() < deadline:
        view.update(status_key=statuses[i % len(statuses)])
        i += 1
        time.sleep(0.1)
        assert clock.tick() == "" and not view.idle_prompt
    time.sleep(0.35)                            # then nothing moves: asked, then let go
    assert clock.tick() == "" and view.idle_prompt and view.idle_seconds_left >= 1
    time.sleep(0.3)
    assert clock.tick() == "timeout"


def test_a_citizen_on_a_video_call_is_never_asked_if_still_there_but_one_left_at_the_consent_is():
    view = SessionView(screen=ScreenId.ENTER_ACCOUNT)
    clock = clock_for(UiConfig(idle_prompt_s=0.2, idle_timeout_s=0.2), view)
    for phase in (CallPhase.RINGING, CallPhase.CONNECTING, CallPhase.IN_CALL):
        view.update(call_phase=phase)         # kiosk.videocall's desk, as the call goes on
        time.sleep(0.3)                       # longer than the whole allowance, no touch
        assert clock.tick() == "" and not view.idle_prompt
    view.update(call_phase=CallPhase.CONSENT)   # asked, and nobody answers the consent
    time.sleep(0.3)
    assert clock.tick() == "" and view.idle_prompt
    time.sleep(0.2)
    assert clock.tick() == "timeout"


def test_each_step_time_comes_from_the_catalog_and_elder_mode_doubles_it():
    view = SessionView()
    clock = clock_for(UiConfig(), view)
    clock.item = CATALOG.item(ENDORSEMENT)
    spec = next(s for s in clock.item.steps if s.step == "read_permit")
    standard = clock.allowance(ScreenId.PLACE_PERMIT)
    assert standard.total_s == spec.timeout_s and standard.warning_s >= 30
    view.update(elder=True)
    elder = clock.allowance(ScreenId.PLACE_PERMIT)
    assert elder.total_s == 2 * standard.total_s and elder.warning_s >= 30
    assert elder.prompt_after_s == 2 * standard.total_s - elder.warning_s


def test_documents_placed_are_remembered_for_the_reminder():
    view = SessionView()
    clock_for(UiConfig(), view)
    for status in ("idcard.instruction", "idcard.reading", "permit.reading", "permit.reading"):
        view.update(status_key=status)
    assert view.documents == ("doc.idcard", "doc.permit")


def test_the_progress_bar_follows_the_screens():
    view = SessionView()
    clock = clock_for(UiConfig(), view)
    clock.item = CATALOG.item(ENDORSEMENT)
    from kiosk.viewmodel import stages_of
    view.update(stages=stages_of([s.step for s in clock.item.steps]))
    assert view.stages == ("stage.idcard", "stage.permit", "stage.face", "stage.choose",
                           "stage.pay", "stage.done")
    for screen, index in ((ScreenId.READ_IDCARD, 0), (ScreenId.FACE, 2), (ScreenId.PAY, 4),
                          (ScreenId.PROCESSING, 4), (ScreenId.RESULT, 5)):
        view.update(screen=screen)
        assert view.stage_index == index, screen


async def test_back_from_the_check_screen_restarts_the_bill_and_from_the_first_step_leaves(
        kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    session.touch_start()
    assert ctx.view.can_go_back                       # menu -> attract
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(ctx.view, ScreenId.CONFIRM)
    assert ctx.view.can_go_back
    session.go_back()
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    assert ctx.view.entry == "" and ctx.view.stage_index == 0
    session.go_back()
    await until(ctx.view, ScreenId.MENU)
    assert [tx.state for tx in ctx.journal.recent()] == [TxState.CANCELLED, TxState.CANCELLED]
    assert backends.gateway.orders == {}


async def test_no_way_back_once_paying_and_exit_asks_first(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    await until(ctx.view, ScreenId.CONFIRM)
    session.choose_option("confirm")
    await until(ctx.view, ScreenId.PAY)
    assert not ctx.view.can_go_back
    session.go_back()
    await asyncio.sleep(0.1)
    assert ctx.view.screen is ScreenId.PAY
    session.ask_exit()
    assert ctx.view.exit_prompt and ctx.view.screen is ScreenId.PAY
    session.dismiss_exit()
    assert not ctx.view.exit_prompt and ctx.view.screen is ScreenId.PAY
    assert ctx.view.countdown_s == 0 or ctx.view.countdown_s <= 3


async def test_call_staff_tells_the_fleet_where_without_anything_personal(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    problems = listen(ctx).problems
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.call_staff()
    assert ctx.view.help_shown
    assert problems == [("help_requested", "screen=enter_account;step=stage.account")]
    assert WATER_ACCOUNT not in json.dumps(problems)
    session.close_help()
    assert not ctx.view.help_shown and ctx.view.entry == WATER_ACCOUNT


async def test_elder_mode_and_sound_last_for_the_visit_only(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    ctx.config = dataclasses.replace(ctx.config, ui=dataclasses.replace(
        ctx.config.ui, elder_time_multiplier=2.0))
    session.set_elder(True)
    session.cycle_volume()
    session.touch_start()
    flags = [t.elder_first for t in ctx.view.menu_tiles()]
    assert flags == sorted(flags, reverse=True) and flags[0]     # elder-first items lead
    session.choose_service(BILL_PAYMENT)
    await until(ctx.view, ScreenId.ENTER_ACCOUNT)
    assert ctx.view.elder and ctx.view.volume.value == "low"
    session.cancel()
    await until(ctx.view, ScreenId.ATTRACT)
    assert not ctx.view.elder and ctx.view.volume.value == "normal"


def test_elder_mode_puts_the_catalog_s_elder_first_items_at_the_top():
    from kiosk.viewmodel import ServiceTile

    # The menu's tiles are the items the kiosk runs (guide-only ones reach it through guides).
    runs = [i for i in CATALOG.items if i.steps]
    tiles = tuple(ServiceTile(i.code, i.name, i.summary, True, elder_first=i.elder_first)
                  for i in runs)
    view = SessionView(services=tiles)
    assert view.menu_tiles()[0].code == ENDORSEMENT              # the catalog's own order
    view.update(elder=True)
    first = [t.service for t in runs if t.elder_first]
    assert first and [CATALOG.item(t.code).service for t in view.menu_tiles()[:len(first)]] \
        == first


def test_the_same_status_written_again_is_not_progress():
    # The face camera's callback writes its hint on every frame; with nobody in front of the
    # camera that must not keep the visit alive (nor repeat the spoken hint).
    view = SessionView(screen=ScreenId.FACE)
    clock = clock_for(UiConfig(idle_timeout_s=0.2, consent_notice_s=0.0), view,
                      FlowConfig(face_timeout_s=0.4))
    seen = []
    view.subscribe(seen.append)
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        view.update(status_key="".join(["face.hint.", "no_face"]))   # a new, equal string
        time.sleep(0.05)
    assert len(seen) == 1                   # the first write only
    assert clock.tick() == "timeout"


async def test_the_citizen_s_time_is_looked_at_only_when_something_is_due(kiosk):  # noqa: F811
    """No polling: on the attract screen the clock is never looked at; on the menu, once when
    the citizen arrives, then when the warning is due (not on a tick after it), when its
    countdown reaches the end, and the citizen gone, the kiosk goes home."""
    backends, ctx, session = kiosk
    ctx.config = dataclasses.replace(ctx.config, ui=dataclasses.replace(
        ctx.config.ui, idle_prompt_s=1.3, idle_timeout_s=0.6))
    looks: list[tuple[float, ScreenId, bool]] = []
    tick = session.clock.tick

    def looked_at() -> str:
        verdict = tick()
        looks.append((time.monotonic(), ctx.view.screen, ctx.view.idle_prompt))
        return verdict

    session.clock.tick = looked_at
    session.start()
    await asyncio.sleep(1.2)            # nothing can run out on the attract screen
    assert [screen for _, screen, _ in looks] in ([], [ScreenId.ATTRACT])
    looks.clear()
    session.touch_start()               # the menu: warned after 1.3 s, home after 1.9 s
    arrived = time.monotonic()
    await until(ctx.view, ScreenId.MENU)
    await until(ctx.view, ScreenId.ATTRACT, timeout=10)
    warned = [at - arrived for at, screen, prompt in looks if prompt and screen is ScreenId.MENU]
    assert warned and 1.3 <= warned[0] < 1.3 + 0.25     # at its time, not a tick later
    on_menu = [at for at, screen, _ in looks if screen is ScreenId.MENU]
    assert len(looks) <= 4 and len(on_menu) <= 3     # arrival, warning, end (0.5 s ticks: 4+)
