"""For each device and each fault: the fault shows in the device's health, the offered service
items change, and once the fault is cleared the device is back without restarting anything."""

from __future__ import annotations

import pytest

from kiosk.fleet_devices import wire_devices
from peripherals.device_manager import Availability, ServiceRequirements
from peripherals.errors import DeviceReason
from peripherals.health import (
    ConnectionState,
    DeviceEventKind,
    DeviceHealth,
    Supply,
    SupplyLevel,
    SupplyReading,
)
from wire.devices import Supply as WireSupply
from wire.devices import SupplyLevel as WireSupplyLevel

# Service items as the catalog would declare them.
PAY_BILL = ServiceRequirements(frozenset({"barcode_scanner"}), frozenset({"receipt_printer"}))
QUEUE_TICKET = ServiceRequirements(frozenset({"receipt_printer"}))
ISSUE_CERTIFICATE = ServiceRequirements(frozenset({"dispenser"}), frozenset({"receipt_printer"}))
ITEM_NEEDING = {"receipt_printer": QUEUE_TICKET, "dispenser": ISSUE_CERTIFICATE,
                "barcode_scanner": PAY_BILL}  # fmt: skip

H = DeviceHealth
R = DeviceReason
CASES = [
    ("receipt_printer", "paper_out", H.FAULT, R.PAPER_OUT),
    ("receipt_printer", "paper_near_end", H.DEGRADED, R.PAPER_NEAR_END),
    ("receipt_printer", "cover_open", H.FAULT, R.COVER_OPEN),
    ("receipt_printer", "cutter_error", H.FAULT, R.CUTTER_ERROR),
    ("receipt_printer", "silent", H.OFFLINE, R.DEVICE_SILENT),
    ("receipt_printer", "garbage", H.FAULT, R.GARBLED_RESPONSE),
    ("receipt_printer", "unplugged", H.OFFLINE, R.PRINTER_OFFLINE),
    ("dispenser", "jam", H.FAULT, R.JAM),
    ("dispenser", "stock_empty", H.FAULT, R.STOCK_EMPTY),
    ("dispenser", "bin_full", H.FAULT, R.BIN_FULL),
    ("dispenser", "silent", H.OFFLINE, R.DEVICE_SILENT),
    ("dispenser", "garbage", H.FAULT, R.GARBLED_RESPONSE),
    ("dispenser", "unplugged", H.OFFLINE, R.DEVICE_SILENT),
    ("barcode_scanner", "silent", H.OFFLINE, R.DEVICE_SILENT),
    ("barcode_scanner", "garbage", H.FAULT, R.GARBLED_RESPONSE),
    ("barcode_scanner", "unplugged", H.OFFLINE, R.DEVICE_SILENT),
]


def switch(sim, fault: str, on: bool) -> None:
    if fault == "unplugged":
        sim.unplug() if on else sim.plug()
    else:
        sim.set_fault(fault, on)


async def test_everything_is_healthy_at_start(rig):
    snapshot = rig.manager.snapshot()
    assert {name: s.health for name, s in snapshot.items()} == {
        "receipt_printer": H.OK,
        "dispenser": H.OK,
        "barcode_scanner": H.OK,
    }
    assert snapshot["dispenser"].supplies[Supply.CARD_STOCK].level is SupplyLevel.OK
    assert snapshot["receipt_printer"].supplies[Supply.PAPER].level is SupplyLevel.OK
    assert "CRT-591" in snapshot["dispenser"].identity
    for item in (PAY_BILL, QUEUE_TICKET, ISSUE_CERTIFICATE):
        assert rig.manager.availability(item) == Availability(True)


@pytest.mark.parametrize(("device", "fault", "health", "reason"), CASES,
                         ids=[f"{d}-{f}" for d, f, _, _ in CASES])  # fmt: skip
async def test_fault_appears_changes_the_offer_and_clears(rig, device, fault, health, reason):
    manager = rig.manager
    switch(rig.sim(device), fault, True)
    snap = await manager.wait_until(
        lambda s: (s[device].health, s[device].reason) == (health, reason), timeout=5
    )
    if fault == "unplugged":
        assert snap[device].connection is ConnectionState.DISCONNECTED
    item = manager.availability(ITEM_NEEDING[device])
    if health.usable:
        assert item == Availability(True, None, (reason,))
    else:
        assert item == Availability(False, reason, device=device)
    if device == "receipt_printer":
        # Items whose receipt is optional are still offered, with the warning said up front.
        without = () if health.usable else ("receipt_printer",)
        assert manager.availability(ISSUE_CERTIFICATE) == Availability(
            True, None, (reason,), without=without)
    assert any(e.device == device and e.status.reason is reason for e in rig.events)
    if health is H.OFFLINE:
        assert any(e.device == device and e.kind is DeviceEventKind.LOST for e in rig.events)

    switch(rig.sim(device), fault, False)
    await manager.wait_until(lambda s: s[device].health is H.OK, timeout=5)
    assert manager.availability(ITEM_NEEDING[device]) == Availability(True)
    if not health.usable:
        assert rig.events[-1].device == device
        assert rig.events[-1].kind is DeviceEventKind.RECOVERED


async def test_required_device_unknown_to_the_manager_is_not_offered(rig):
    item = ServiceRequirements(frozenset({"document_camera"}))
    assert rig.manager.availability(item) == Availability(
        False, R.NOT_SUPPORTED, device="document_camera", fitted=False)


async def test_low_stock_is_degraded_and_a_supply_event(rig):
    rig.dispenser_sim.load_stock(3)
    await rig.manager.wait_until(lambda s: s["dispenser"].reason is R.STOCK_LOW, timeout=5)
    assert rig.manager.availability(ISSUE_CERTIFICATE) == Availability(True, None, (R.STOCK_LOW,))
    assert any(e.kind is DeviceEventKind.SUPPLY_LOW for e in rig.events)


async def test_self_test_reports_every_device(rig):
    results = await rig.manager.self_test()
    assert set(results) == {"receipt_printer", "dispenser", "barcode_scanner"}
    assert all(result.passed for result in results.values())
    rig.printer_sim.cover_open = True
    assert not (await rig.manager.self_test())["receipt_printer"].passed


WL = WireSupplyLevel
SUPPLY_CASES = [
    ("receipt_printer", "paper_out", Supply.PAPER, SupplyLevel.OUT, WL.EMPTY),
    ("receipt_printer", "paper_near_end", Supply.PAPER, SupplyLevel.LOW, WL.LOW),
    ("receipt_printer", "unplugged", Supply.PAPER, SupplyLevel.UNKNOWN, WL.UNKNOWN),
    ("dispenser", "stock_empty", Supply.CARD_STOCK, SupplyLevel.OUT, WL.EMPTY),
    ("dispenser", "bin_full", Supply.RETAIN_BIN, SupplyLevel.OUT, WL.EMPTY),
]


@pytest.mark.parametrize(("device", "fault", "supply", "level", "on_the_wire"), SUPPLY_CASES,
                         ids=[f"{d}-{f}" for d, f, *_ in SUPPLY_CASES])  # fmt: skip
async def test_a_supply_level_is_an_enum_from_the_device_to_the_fleet_wire(
        rig, device, fault, supply, level, on_the_wire):
    switch(rig.sim(device), fault, True)
    await rig.manager.wait_until(
        lambda s: supply in s[device].supplies and s[device].supplies[supply].level is level,
        timeout=5)
    [wired] = [d for d in wire_devices(rig.manager)() if d.device == device]
    assert WireSupply(supply.value, on_the_wire) in wired.supplies
    switch(rig.sim(device), fault, False)
    await rig.manager.wait_until(
        lambda s: s[device].supplies.get(supply, SupplyReading(SupplyLevel.UNKNOWN)).level
        is SupplyLevel.OK, timeout=5)
