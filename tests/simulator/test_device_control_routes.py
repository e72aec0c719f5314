"""The control routes of the printer, dispenser and scanner simulators drive their switches."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from simulator import barcode_scanner, dispenser, escpos_printer


@pytest.fixture
async def rig(tmp_path: Path):
    printer = escpos_printer.EscposPrinterSimulator(tmp_path / "r", serial_link=tmp_path / "p")
    disp = dispenser.DispenserSimulator(tmp_path / "d")
    scanner = barcode_scanner.BarcodeScannerSimulator(tmp_path / "s")
    routes = web.RouteTableDef()
    escpos_printer.add_control_routes(routes, printer)
    dispenser.add_control_routes(routes, disp)
    barcode_scanner.add_control_routes(routes, scanner)
    app = web.Application()
    app.add_routes(routes)
    for sim in (printer, disp, scanner):
        await sim.start()
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, printer, disp, scanner
    await client.close()
    for sim in (printer, disp, scanner):
        await sim.stop()


async def post(client, path, body=None, status=200):
    resp = await client.post(path, json=body)
    assert resp.status == status, await resp.text()
    return await resp.json()


@pytest.mark.parametrize("fault", [f.value for f in escpos_printer.PrinterFault])
async def test_printer_fault_route(rig, fault):
    client, printer, _, _ = rig
    await post(client, "/printer/fault", {"fault": fault, "on": True})
    assert getattr(printer, fault)
    await post(client, "/printer/fault", {"fault": fault, "on": False})
    assert not getattr(printer, fault)


async def test_printer_plug_paper_and_bad_fault(rig):
    client, printer, _, _ = rig
    assert not (await post(client, "/printer/unplug"))["plugged"]
    assert not Path(printer.endpoint["serial_port"]).exists()
    assert (await post(client, "/printer/plug"))["plugged"]
    assert Path(printer.endpoint["serial_port"]).exists()
    state = await post(client, "/printer/paper", {"mm": 0})
    assert state["paper_out"] and state["paper_remaining_mm"] == 0
    assert not (await post(client, "/printer/paper"))["paper_out"]
    await post(client, "/printer/fault", {"fault": "on_fire"}, status=400)
    assert (await (await client.get("/printer/state")).json())["receipts"] == 0


@pytest.mark.parametrize("fault", [f.value for f in dispenser.DispenserFault])
async def test_dispenser_fault_route(rig, fault):
    client, _, disp, _ = rig
    state = await post(client, "/dispenser/fault", {"fault": fault, "on": True})
    assert fault in state["faults"] and dispenser.DispenserFault(fault) in disp.faults
    state = await post(client, "/dispenser/fault", {"fault": fault, "on": False})
    assert state["faults"] == []


async def test_dispenser_card_and_supply_routes(rig):
    client, _, disp, _ = rig
    assert (await post(client, "/dispenser/insert"))["card_position"] == "mouth"
    await post(client, "/dispenser/insert", status=409)  # the mouth is taken
    assert (await post(client, "/dispenser/take"))["card_position"] == "none"
    assert (await post(client, "/dispenser/stock", {"cards": 3}))["stock"] == 3
    disp.bin_count = 5
    assert (await post(client, "/dispenser/empty-bin"))["bin_count"] == 0
    assert not (await post(client, "/dispenser/unplug"))["plugged"]
    assert (await post(client, "/dispenser/plug"))["plugged"]


async def test_scanner_routes(rig):
    client, _, _, scanner = rig
    assert (await post(client, "/scanner/scan", {"data": "123456"}))["scans_sent"] == 1
    await post(client, "/scanner/fault", {"fault": "silent", "on": True})
    await post(client, "/scanner/scan", {"data": "123456"}, status=409)
    await post(client, "/scanner/fault", {"fault": "silent", "on": False})
    await post(client, "/scanner/fault", {"fault": "garbage", "on": True})
    assert "garbage" in scanner.faults
    assert not (await post(client, "/scanner/unplug"))["plugged"]
    await post(client, "/scanner/scan", {"data": "1"}, status=409)
    assert (await post(client, "/scanner/plug"))["plugged"]
