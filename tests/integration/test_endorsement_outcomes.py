"""What a citizen meets when the permit is not right: each ends on a plain message, with no
order created and nothing charged. The kiosk core runs in-process against the real simulator
(chip behind pcscd, ID card on a pty, camera over HTTP, backends over HTTP)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from simulator.icao_chip import ChipFault, ChipShape
from simulator.idcard_reader import ResidentCard
from simulator.reference import ENDORSEMENT
from simulator.runtime import DEFAULT_HOLDER, Simulator, SimulatorOptions


@pytest.fixture
async def rig(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    endpoints = await sim.start()
    overrides = simulator_overrides(endpoints)
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"place_card_timeout_s": 10.0}
    ctx = build_context(load_config(None, overrides))
    session = build_session(ctx)
    await session.refresh_catalog()
    yield sim, ctx, session
    await close_context(ctx, session)
    await sim.stop()


async def until(view, screen, timeout=30.0):
    async def wait():
        while view.screen is not screen:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


async def present_permit(sim, ctx, session, **chip):
    session.touch_start()
    session.choose_service(ENDORSEMENT)
    await until(ctx.view, ScreenId.READ_IDCARD)
    sim.idcard_reader.insert()
    await until(ctx.view, ScreenId.PLACE_PERMIT)
    await sim.insert_card(**chip)
    await until(ctx.view, ScreenId.RESULT)
    await sim.remove_card()
    sim.idcard_reader.remove()
    return " ".join(line["zh"] for line in ctx.view.result_lines)


@pytest.mark.parametrize("chip,message", [
    ({"faults": frozenset({ChipFault.WRONG_KEY})}, "证件与身份信息不符"),
    ({"faults": frozenset({ChipFault.CORRUPT_DG2})}, "芯片校验未通过"),
    ({"faults": frozenset({ChipFault.FORGED_SOD})}, "芯片校验未通过"),
    # no EF.SOD: nothing to verify the chip's data against, and the kiosk requires it
    ({"shape": frozenset({ChipShape.NO_EF_SOD})}, "芯片校验未通过"),
    # a copy of a genuine permit's data onto another chip: passive authentication passes,
    # active authentication does not
    ({"shape": frozenset({ChipShape.ACTIVE_AUTH}), "faults": frozenset({ChipFault.CLONE})},
     "未能证明其真实性"),
    ({"holder": dataclasses.replace(DEFAULT_HOLDER, expiry_date="240101")}, "已过有效期"),
], ids=["wrong-mrz", "corrupt-dg2", "forged-sod", "no-ef-sod", "clone", "expired"])
async def test_a_permit_that_is_not_right_ends_plainly_without_charge(rig, chip, message,
                                                                       caplog):
    sim, ctx, session = rig
    caplog.set_level(logging.WARNING, logger="kiosk.steps")   # the operator's reason code
    if "holder" in chip:   # the backend's record of the permit matches the expired chip
        sim.backends.services.permits_by_id_number[ResidentCard().id_number]["expiry_date"] = (
            chip["holder"].expiry_date)
    text = await present_permit(sim, ctx, session, **chip)
    assert message in text and "本次未扣费" in text
    assert not ctx.view.result_ok
    assert sim.gateway.orders == {}
    assert ctx.journal.recent()[0].state is TxState.CANCELLED
    if chip.get("faults") == frozenset({ChipFault.CLONE}):   # the operator's reason code
        assert "chip_not_genuine" in {getattr(r, "reason", "") for r in caplog.records}


async def test_the_whole_endorsement_runs_in_process_too(rig):
    sim, ctx, session = rig
    session.touch_start()
    session.choose_service(ENDORSEMENT)
    await until(ctx.view, ScreenId.READ_IDCARD)
    sim.idcard_reader.insert()
    await until(ctx.view, ScreenId.PLACE_PERMIT)
    await sim.insert_card()
    await until(ctx.view, ScreenId.FACE)
    sim.face_composer.face_visible = True
    await until(ctx.view, ScreenId.CHOOSE)
    session.choose_option("HK_TOURIST_1")
    await until(ctx.view, ScreenId.PAY)
    sim.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    assert ctx.view.result_ok
    [application] = sim.backends.services.applications.values()
    assert application["endorsement"] == "HK_TOURIST_1"
    tx = ctx.journal.recent()[0]
    assert tx.state is TxState.CLOSED and tx.detail["passive_auth"] == "passed"
    await sim.remove_card()
