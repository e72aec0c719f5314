"""The simulator's control API (HTTP on loopback); simulator.control_client is its Python
client for tests and scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from aiohttp import web

from simulator import device_faults
from simulator.backends import add_backend_control_routes
from simulator.barcode_scanner import ScannerFault
from simulator.barcode_scanner import add_control_routes as add_scanner_routes
from simulator.camera import CameraServer
from simulator.camera.control import add_control_routes as add_camera_routes
from simulator.camera.data_page import PageFault
from simulator.device_faults import (
    UNPLUGGED,
    CablePanel,
    CallbackPanel,
    FaultBoard,
    SimDevice,
    enum_switches,
)
from simulator.dispenser import DispenserFault
from simulator.dispenser import add_control_routes as add_dispenser_routes
from simulator.escpos_printer import PrinterFault
from simulator.escpos_printer import add_control_routes as add_printer_routes
from simulator.hall_control import add_hall_control_routes
from simulator.icao_chip import ChipFault, ChipShape
from simulator.icao_chip.mrz import MrzLayout
from simulator.idcard_reader import IdCardFault
from simulator.idcard_reader import add_control_routes as add_idcard_routes
from simulator.ipp_printer import A4PrinterFault, IppPrinterSimulator
from simulator.throttled_link import add_link_routes

if TYPE_CHECKING:
    from simulator.runtime import Simulator

CHIP_SLOW = "slow"
CHIP_SLOW_S = 0.25  # per APDU when the chip's slow switch is on: a DG2 read takes seconds


def camera_panel(camera: CameraServer, *more_streams: CameraServer) -> CallbackPanel:
    """A camera's one switch: its cable (which cuts every stream it serves)."""

    async def write(name: str, on: bool) -> None:
        for stream in (camera, *more_streams):
            await (stream.unplug() if on else stream.plug())

    return CallbackPanel(lambda: {UNPLUGGED: not camera.plugged}, write)


def chip_panel(sim: Simulator) -> CallbackPanel:
    """The travel-permit chip's faults, slowness and shape (what it lacks: `no_sfi`,
    `no_extended_length`, `no_ef_com`, `no_dg2`, `no_ef_sod`), carried by the next card."""

    def read() -> dict[str, bool]:
        return (
            enum_switches(sim.chip_faults, ChipFault)
            | enum_switches(sim.chip_shape, ChipShape)
            | {CHIP_SLOW: sim.chip_slow_s > 0}
        )

    def write(name: str, on: bool) -> None:
        if name == CHIP_SLOW:
            sim.chip_slow_s = CHIP_SLOW_S if on else 0.0
        elif name in {lack.value for lack in ChipShape}:
            if on:
                sim.chip_shape.add(ChipShape(name))
            else:
                sim.chip_shape.discard(ChipShape(name))
        elif on:
            sim.chip_faults.add(ChipFault(name))
        else:
            sim.chip_faults.discard(ChipFault(name))

    return CallbackPanel(read, write)


def a4_printer_panel(printer: IppPrinterSimulator) -> CallbackPanel:
    """The A4 printer's cable and faults; each switch talks to ippeveprinter, off the loop."""

    def read() -> dict[str, bool]:
        return {UNPLUGGED: not printer.plugged} | enum_switches(printer.faults, A4PrinterFault)

    def write(name: str, on: bool) -> Awaitable[None]:
        if name == UNPLUGGED:
            return asyncio.to_thread(printer.unplug) if on else printer.aplug()
        return asyncio.to_thread(printer.set_fault, name, on)

    return CallbackPanel(read, write)


def fault_board(sim: Simulator) -> FaultBoard:
    """Every simulated device of `sim` on the uniform fault surface."""
    extra = {SimDevice.A4_PRINTER: a4_printer_panel(sim.a4_printer)} \
        if sim.a4_printer is not None else {}
    return FaultBoard({
        **extra,
        SimDevice.RECEIPT_PRINTER: CablePanel(sim.printer, PrinterFault),
        SimDevice.DISPENSER: CablePanel(sim.dispenser, DispenserFault),
        SimDevice.IDCARD_READER: CablePanel(sim.idcard_reader, IdCardFault),
        SimDevice.BARCODE_SCANNER: CablePanel(sim.scanner, ScannerFault),
        SimDevice.FACE_CAMERA: camera_panel(sim.face_camera),
        SimDevice.DOCUMENT_CAMERA: camera_panel(sim.document_camera, sim.document_camera_full),
        SimDevice.CHIP: chip_panel(sim),
    })


def build_control_app(sim: Simulator) -> web.Application:
    routes = web.RouteTableDef()
    board = fault_board(sim)

    @routes.get("/state")
    async def state(request: web.Request) -> web.Response:
        return web.json_response(sim.state() | {"devices": board.describe_all()})

    _add_device_routes(routes, sim)
    _add_data_page_route(routes, sim)
    _add_payment_routes(routes, sim)
    _add_backend_routes(routes, sim)
    add_backend_control_routes(routes, sim.backends)
    add_hall_control_routes(routes, sim.backends)
    add_idcard_routes(routes, sim.idcard_reader)
    add_printer_routes(routes, sim.printer)
    add_dispenser_routes(routes, sim.dispenser)
    add_scanner_routes(routes, sim.scanner)
    add_camera_routes(routes, sim.face_composer, sim.document_composer)
    device_faults.add_control_routes(routes, board)
    add_link_routes(routes, sim.links, sim.add_link)
    app = web.Application()
    app.add_routes(routes)
    return app


def _add_device_routes(routes: web.RouteTableDef, sim: Simulator) -> None:
    """The chip in the reader, the face before the camera, what the printers printed."""

    @routes.post("/card/insert")
    async def card_insert(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        slow_s = body.get("slow_s")  # not given: the chip's slow switch decides
        await sim.insert_card(slow_s=None if slow_s is None else float(slow_s))
        return web.json_response({"inserted": True})

    @routes.post("/card/remove")
    async def card_remove(request: web.Request) -> web.Response:
        await sim.remove_card()
        return web.json_response({"inserted": False})

    @routes.post("/face/{action:show|hide}")
    async def face(request: web.Request) -> web.Response:
        sim.face_composer.face_visible = request.match_info["action"] == "show"
        return web.json_response({"face_visible": sim.face_composer.face_visible})

    @routes.get("/printer/receipts")
    async def receipts(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "receipts": [
                    {
                        "index": r.index,
                        "text": r.text,
                        "txt_path": str(r.txt_path),
                        "png_path": str(r.png_path),
                        "qr_payloads": list(r.qr_payloads),
                    }
                    for r in sim.printer.receipts
                ]
            }
        )

    @routes.get("/a4/jobs")
    async def a4_jobs(request: web.Request) -> web.Response:
        printer = sim.a4_printer
        return web.json_response({"jobs": [str(p) for p in printer.jobs()] if printer else []})


def _add_data_page_route(routes: web.RouteTableDef, sim: Simulator) -> None:
    """A travel document's data page on the document camera, its chip for the next card."""

    @routes.post("/document/data-page")
    async def data_page(request: web.Request) -> web.Response:
        """A travel document's data page on the document camera (and its chip for the next
        card): {"holder"?: "default"|"visitor", "layout"?: "td1"|"td2"|"td3", "fault"?:
        "clean"|"glare"|"blur"|"tilt"|"occlusion", "seed"?: n}."""
        try:
            body = await request.json() if request.can_read_body else {}
            holder = str(body.get("holder", "default"))
            layout = MrzLayout(body.get("layout", MrzLayout.TD1.value))
            fault = PageFault(body.get("fault", PageFault.CLEAN.value))
            seed = int(body.get("seed", 0))
            if holder not in sim.data_page_holders:
                raise ValueError(holder)
        except (AttributeError, TypeError, ValueError):   # not an object, or a bad value
            return web.json_response({"error": "bad data page", "holders": sim.data_page_holders,
                                      "layouts": [v.value for v in MrzLayout],
                                      "faults": [f.value for f in PageFault]}, status=400)
        await sim.show_data_page(holder, layout, fault, seed)
        return web.json_response({"scene": sim.document_composer.scene, "holder": holder,
                                  "layout": layout.value, "fault": fault.value})


def _add_backend_routes(routes: web.RouteTableDef, sim: Simulator) -> None:
    """The government backends' records and faults, and the catalog they publish."""

    @routes.get("/exit-entry/applications")
    async def applications(request: web.Request) -> web.Response:
        return web.json_response(
            {"applications": list(sim.backends.services.applications.values())}
        )

    @routes.get("/ledgers")
    async def ledgers(request: web.Request) -> web.Response:
        """Everything the backends recorded, for reconciliation checks."""
        services = sim.backends.services
        return web.json_response(
            {
                "orders": [
                    dict(o.as_json(), payments=o.payments) for o in sim.gateway.orders.values()
                ],
                "refunds": [r.as_json() for r in sim.gateway.refunds.values()],
                "applications": services.applications,
                "bill_payments": services.bill_payments,
                "certificates": services.certificates,
                "tickets": services.tickets,
            }
        )

    @routes.post("/backends/{name}/faults")
    async def backend_faults(request: web.Request) -> web.Response:
        faults = sim.backends.faults.get(request.match_info["name"])
        if faults is None:
            return web.json_response({"error": "UNKNOWN_BACKEND"}, status=404)
        faults.update(await request.json())
        return web.json_response(faults.as_json())

    @routes.put("/catalog")
    async def publish_catalog(request: web.Request) -> web.Response:
        sim.backends.catalog.published = await request.read()
        return web.json_response({"version": sim.backends.catalog.version()})


def _add_payment_routes(routes: web.RouteTableDef, sim: Simulator) -> None:
    """The payment gateway: a citizen paying, its orders, and how it behaves."""

    @routes.post("/payment/pay")
    async def pay(request: web.Request) -> web.Response:
        body = await request.json()
        from simulator.payment_gateway import GatewayError

        try:
            order = sim.gateway.pay(
                out_trade_no=body.get("out_trade_no"), code_url=body.get("code_url")
            )
        except GatewayError as exc:
            return web.json_response({"error": exc.code}, status=exc.status)
        return web.json_response(order.as_json())

    @routes.get("/payment/orders")
    async def orders(request: web.Request) -> web.Response:
        return web.json_response({"orders": [o.as_json() for o in sim.gateway.orders.values()]})

    @routes.post("/payment/settings")
    async def payment_settings(request: web.Request) -> web.Response:
        body = await request.json()
        if "micropay_confirm_s" in body:
            sim.gateway.micropay_confirm_s = float(body["micropay_confirm_s"])
        if "insufficient_funds_codes" in body:
            sim.gateway.insufficient_funds_codes = set(body["insufficient_funds_codes"])
        return web.json_response({"micropay_confirm_s": sim.gateway.micropay_confirm_s})
