"""Device faults as the citizen and the operators see them: the kiosk, in-process, with its
device manager watching the simulator's devices over their real transports. For each fault the
offered items change with a plain reason, and they come back by themselves once it is cleared."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.app import build_context, build_session, close_context
from kiosk.config import load_config, simulator_overrides
from kiosk.devices import build_manager
from kiosk.i18n import TEXTS
from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from simulator.reference import (
    BILL_PAYMENT,
    CERTIFICATE_PRINT,
    ENDORSEMENT,
    QUEUE_TICKET,
    WATER_ACCOUNT,
)
from simulator.runtime import Simulator, SimulatorOptions


@pytest.fixture
async def rig(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    endpoints = await sim.start()
    overrides = simulator_overrides(endpoints)
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["flow"] = {"payment_poll_s": 0.05}
    ctx = build_context(load_config(None, overrides))
    manager = build_manager(ctx.devices)
    await manager.start()
    session = build_session(ctx, manager)
    await session.refresh_catalog()
    yield sim, ctx, session, manager
    await close_context(ctx, session)
    await sim.stop()


def tiles(ctx):
    return {t.code: t for t in ctx.view.services}


async def settle(manager, device, usable, timeout=8.0):
    await manager.wait_until(lambda snap: snap[device].health.usable is usable, timeout)
    await asyncio.sleep(0.05)        # the menu refreshes on the manager's event


@pytest.mark.parametrize("fault", ["paper_out", "cover_open", "unplug"])
async def test_printer_fault_stops_tickets_warns_on_receipts_and_recovers(rig, fault):
    sim, ctx, session, manager = rig
    assert tiles(ctx)[QUEUE_TICKET].available
    if fault == "unplug":
        sim.printer.unplug()
    else:
        sim.printer.set_fault(fault, True)
    await settle(manager, "receipt_printer", False)
    t = tiles(ctx)
    assert not t[QUEUE_TICKET].available                        # a ticket needs paper
    assert t[QUEUE_TICKET].reason_key == "unavailable.device.receipt_printer"
    assert t[BILL_PAYMENT].available and t[BILL_PAYMENT].warning_key == "warning.no_receipt"
    assert t[ENDORSEMENT].available and t[ENDORSEMENT].warning_key == "warning.no_receipt"
    assert TEXTS[t[QUEUE_TICKET].reason_key]["zh"] and TEXTS["warning.no_receipt"]["zh"]
    if fault == "unplug":
        sim.printer.plug()
    else:
        sim.printer.set_fault(fault, False)
    await settle(manager, "receipt_printer", True)
    t = tiles(ctx)
    assert t[QUEUE_TICKET].available and t[BILL_PAYMENT].warning_key is None


async def test_idcard_reader_unplugged_pauses_identity_items_until_it_returns(rig):
    sim, ctx, session, manager = rig
    sim.idcard_reader.unplug()
    await settle(manager, "idcard_reader", False)
    t = tiles(ctx)
    for code in (ENDORSEMENT, CERTIFICATE_PRINT):
        assert not t[code].available and t[code].reason_key == "unavailable.device.idcard_reader"
    assert t[BILL_PAYMENT].available
    sim.idcard_reader.plug()
    await settle(manager, "idcard_reader", True)
    assert tiles(ctx)[ENDORSEMENT].available and tiles(ctx)[CERTIFICATE_PRINT].available


async def test_scanner_unplugged_is_seen_but_bill_payment_goes_on(rig):
    sim, ctx, session, manager = rig
    sim.scanner.unplug()
    await settle(manager, "barcode_scanner", False)
    assert tiles(ctx)[BILL_PAYMENT].available                   # the keypad still works
    sim.scanner.plug()
    await settle(manager, "barcode_scanner", True)


async def test_a_bill_paid_with_a_payment_code_at_the_scanner(rig):
    sim, ctx, session, manager = rig
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    while ctx.view.screen is not ScreenId.ENTER_ACCOUNT:
        await asyncio.sleep(0.02)
    sim.scanner.scan(WATER_ACCOUNT)                             # the bill's barcode
    while ctx.view.screen is not ScreenId.CONFIRM:
        await asyncio.sleep(0.02)
    session.choose_option("confirm")
    while ctx.view.screen is not ScreenId.PAY:
        await asyncio.sleep(0.02)
    sim.scanner.scan("134567890123456789")                      # the citizen's payment code
    while ctx.view.screen is not ScreenId.RESULT:
        await asyncio.sleep(0.02)
    assert ctx.view.result_ok
    tx = ctx.journal.recent()[0]
    assert tx.state is TxState.CLOSED and tx.paid_trade_no.endswith("M")
    paid = [o for o in sim.gateway.orders.values() if o.payments]
    assert len(paid) == 1 and paid[0].kind == "micropay"


async def test_paper_out_mid_bill_still_pays_once_and_says_no_receipt(rig):
    sim, ctx, session, manager = rig
    session.touch_start()
    session.choose_service(BILL_PAYMENT)
    while ctx.view.screen is not ScreenId.ENTER_ACCOUNT:
        await asyncio.sleep(0.02)
    for digit in WATER_ACCOUNT:
        session.key_press(digit)
    session.key_press("ok")
    while ctx.view.screen is not ScreenId.CONFIRM:
        await asyncio.sleep(0.02)
    session.choose_option("confirm")
    while ctx.view.screen is not ScreenId.PAY:
        await asyncio.sleep(0.02)
    sim.printer.set_fault("paper_out", True)                    # the roll ends now
    sim.gateway.pay(code_url=ctx.view.qr_payload)
    while ctx.view.screen is not ScreenId.RESULT:
        await asyncio.sleep(0.02)
    text = " ".join(line["zh"] for line in ctx.view.result_lines)
    assert ctx.view.result_ok and "凭条打印失败" in text
    assert ctx.journal.recent()[0].state is TxState.CLOSED
    assert len(sim.backends.services.bill_payments) == 1


async def start_prereview(sim, ctx, session):
    from simulator.reference import MATERIALS_PREREVIEW

    session.touch_start()
    session.choose_service(MATERIALS_PREREVIEW)
    while ctx.view.screen is not ScreenId.READ_IDCARD:
        await asyncio.sleep(0.02)
    sim.idcard_reader.insert()
    while ctx.view.screen is not ScreenId.SCAN_DOCUMENT:
        await asyncio.sleep(0.02)


async def test_each_material_is_scanned_in_turn_into_one_pdf(rig):
    sim, ctx, session, manager = rig
    await start_prereview(sim, ctx, session)
    sim.document_composer.scene = "text_page"
    while ctx.view.scan_index < 2 and ctx.view.screen is ScreenId.SCAN_DOCUMENT:
        await asyncio.sleep(0.02)
    sim.document_composer.scene = "form"
    while ctx.view.screen is not ScreenId.ENTER_ACCOUNT:   # the number for the text message
        await asyncio.sleep(0.02)
    for key in "13812345678":
        session.key_press(key)
    session.key_press("ok")
    while ctx.view.screen is not ScreenId.CONFIRM:
        await asyncio.sleep(0.02)
    session.choose_option("confirm")
    while ctx.view.screen is not ScreenId.RESULT:
        await asyncio.sleep(0.02)
    assert ctx.view.result_ok
    [review] = sim.backends.services.prereviews.values()
    assert review["pages"] == 2 and review["pdf_bytes"] > 10_000


async def test_no_page_on_the_camera_ends_with_a_plain_message(rig):
    import json

    from simulator.backends import reference_catalog

    sim, ctx, session, manager = rig
    catalog = json.loads(reference_catalog())
    for item in catalog["items"]:
        for spec in item.get("steps", []):
            if spec["step"] == "scan_materials":
                spec["params"].update(page_timeout_s=0.6, attempts=2)
    catalog["version"] += "-fast"
    sim.backends.catalog.published = json.dumps(catalog).encode()
    await session.refresh_catalog()
    await start_prereview(sim, ctx, session)          # the scan area stays empty
    while ctx.view.screen is not ScreenId.RESULT:
        await asyncio.sleep(0.05)
    text = " ".join(line["zh"] for line in ctx.view.result_lines)
    assert "未能扫描到材料" in text and "本次未扣费" in text
    assert sim.backends.services.prereviews == {}


async def test_without_a_serial_scanner_the_camera_reads_the_bill(tmp_path):
    sim = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    overrides = simulator_overrides(await sim.start())
    overrides["state_dir"] = str(tmp_path / "kiosk")
    overrides["devices"]["barcode_scanner_port"] = ""          # no serial scanner fitted
    ctx = build_context(load_config(None, overrides))
    session = build_session(ctx)
    await session.refresh_catalog()
    try:
        assert ctx.camera_scanner is not None
        session.touch_start()
        session.choose_service(BILL_PAYMENT)
        while ctx.view.screen is not ScreenId.ENTER_ACCOUNT:
            await asyncio.sleep(0.02)
        sim.face_composer.show_code(WATER_ACCOUNT, "code128")  # the bill held to the camera
        async with asyncio.timeout(20):
            while ctx.view.screen is not ScreenId.CONFIRM:
                await asyncio.sleep(0.05)
        assert ("***********89" in " ".join(v for _, v in ctx.view.confirm_lines))
        session.cancel()
    finally:
        sim.face_composer.hide_code()
        await close_context(ctx, session)
        await sim.stop()


async def test_technician_sees_devices_and_their_events_behind_the_pin(rig):
    import dataclasses

    from kiosk.pin import hash_pin

    sim, ctx, session, manager = rig
    ctx.config = dataclasses.replace(ctx.config, technician=dataclasses.replace(
        ctx.config.technician, pin_hash=hash_pin("864213")))
    for _ in range(4):
        session.technician_tap()
    assert ctx.view.screen is ScreenId.ATTRACT                  # four taps are not enough
    session.technician_tap()
    assert ctx.view.screen is ScreenId.TECHNICIAN_PIN
    for key in "111111":
        session.key_press(key)
    session.key_press("ok")
    assert ctx.view.screen is ScreenId.TECHNICIAN_PIN and ctx.view.entry_error_key == "tech.pin_wrong"
    for key in "864213":
        session.key_press(key)
    session.key_press("ok")
    assert ctx.view.screen is ScreenId.TECHNICIAN
    rows = {name: (health, reason) for name, health, reason, _ in ctx.view.device_rows}
    assert rows["receipt_printer"] == ("ok", "") and "idcard_reader" in rows
    sim.printer.set_fault("paper_out", True)
    await settle(manager, "receipt_printer", False)
    rows = {name: (health, reason) for name, health, reason, _ in ctx.view.device_rows}
    assert rows["receipt_printer"][1] == "paper_out"
    assert any("receipt_printer" in line and "paper_out" in line
               for line in ctx.view.device_events)
    session.technician_action("back")
    assert ctx.view.screen is ScreenId.ATTRACT


async def test_three_wrong_pins_lock_the_technician_out(rig):
    import dataclasses

    from kiosk.pin import hash_pin

    sim, ctx, session, manager = rig
    ctx.config = dataclasses.replace(ctx.config, technician=dataclasses.replace(
        ctx.config.technician, pin_hash=hash_pin("864213")))
    for _attempt in range(3):
        for _ in range(5):
            session.technician_tap()
        for key in "000000":
            session.key_press(key)
        session.key_press("ok")
    assert ctx.view.screen is ScreenId.ATTRACT
    for _ in range(5):
        session.technician_tap()
    for key in "864213":                                        # even the right PIN, for now
        session.key_press(key)
    session.key_press("ok")
    assert ctx.view.screen is ScreenId.TECHNICIAN_PIN and ctx.view.entry_error_key == "tech.locked"
