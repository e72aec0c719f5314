"""The simulator's control API (HTTP on loopback) and its Python client for tests and scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from simulator import device_faults
from simulator.backends import add_backend_control_routes
from simulator.barcode_scanner import ScannerFault
from simulator.barcode_scanner import add_control_routes as add_scanner_routes
from simulator.camera import CameraServer
from simulator.camera.control import add_control_routes as add_camera_routes
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
from simulator.idcard_reader import IdCardFault
from simulator.idcard_reader import add_control_routes as add_idcard_routes
from simulator.ipp_printer import A4PrinterFault, IppPrinterSimulator
from simulator.throttled_link import add_link_routes

if TYPE_CHECKING:
    from simulator.runtime import Simulator

CHIP_SLOW = "slow"
CHIP_SLOW_S = 0.25  # per APDU when the chip's slow switch is on: a DG2 read takes seconds


def camera_panel(camera: CameraServer) -> CallbackPanel:
    """A camera's one switch: its cable."""

    def write(name: str, on: bool) -> Awaitable[None]:
        return camera.unplug() if on else camera.plug()

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
        SimDevice.DOCUMENT_CAMERA: camera_panel(sim.document_camera),
        SimDevice.CHIP: chip_panel(sim),
    })


def build_control_app(sim: Simulator) -> web.Application:
    routes = web.RouteTableDef()
    board = fault_board(sim)

    @routes.get("/state")
    async def state(request: web.Request) -> web.Response:
        return web.json_response(sim.state() | {"devices": board.describe_all()})

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

    @routes.post("/payment/settings")
    async def payment_settings(request: web.Request) -> web.Response:
        body = await request.json()
        if "micropay_confirm_s" in body:
            sim.gateway.micropay_confirm_s = float(body["micropay_confirm_s"])
        if "insufficient_funds_codes" in body:
            sim.gateway.insufficient_funds_codes = set(body["insufficient_funds_codes"])
        return web.json_response({"micropay_confirm_s": sim.gateway.micropay_confirm_s})

    @routes.put("/catalog")
    async def publish_catalog(request: web.Request) -> web.Response:
        sim.backends.catalog.published = await request.read()
        return web.json_response({"version": sim.backends.catalog.version()})

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


class SimulatorUnreachable(RuntimeError):
    """No simulator answers at the control URL (none runs, or it stopped)."""

    def __init__(self, base_url: str, cause: BaseException) -> None:
        super().__init__(f"no simulator answers at {base_url} ({cause.__class__.__name__})")
        self.base_url = base_url


class SimulatorRefused(RuntimeError):
    """The simulator answered the request with an error; `body` is its JSON answer."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"simulator {method} {path}: {status} {body}")
        self.status = status
        self.body = body


class SimulatorClient:
    """Async client of the control API: `async with SimulatorClient(url) as sim: await sim.insert_card()`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimulatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.request(method, self.base_url + path, json=body) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = await resp.text()
                if resp.status >= 400:
                    raise SimulatorRefused(method, path, resp.status, data)
                return data
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise SimulatorUnreachable(self.base_url, exc) from exc

    async def state(self) -> dict:
        return await self._call("GET", "/state")

    async def insert_card(self, slow_s: float | None = None) -> None:
        """Put the chip in the reader (`slow_s` not given: as the chip's switches say)."""
        await self._call("POST", "/card/insert", {} if slow_s is None else {"slow_s": slow_s})

    async def remove_card(self) -> None:
        await self._call("POST", "/card/remove")

    async def show_face(self) -> None:
        await self._call("POST", "/face/show")

    async def hide_face(self) -> None:
        await self._call("POST", "/face/hide")

    async def pay(self, *, code_url: str | None = None, out_trade_no: str | None = None) -> dict:
        return await self._call(
            "POST", "/payment/pay", {"code_url": code_url, "out_trade_no": out_trade_no}
        )

    async def orders(self) -> list[dict]:
        return (await self._call("GET", "/payment/orders"))["orders"]

    async def receipts(self) -> list[dict]:
        return (await self._call("GET", "/printer/receipts"))["receipts"]

    async def applications(self) -> list[dict]:
        return (await self._call("GET", "/exit-entry/applications"))["applications"]

    async def insert_idcard(self, card: dict | None = None) -> dict:
        return await self._call("POST", "/idcard/insert", {"card": card} if card else {})

    async def remove_idcard(self) -> dict:
        return await self._call("POST", "/idcard/remove")

    async def face_scene(self, scene: str) -> dict:
        return await self._call("POST", "/face/scene", {"scene": scene})

    async def devices(self) -> dict[str, dict]:
        """Every simulated device's fault switches: {name: {"plugged", "switches", "on"}}."""
        return (await self._call("GET", "/devices"))["devices"]

    async def device_faults(self, device: str) -> dict:
        """One device's fault switches, e.g. device_faults("receipt_printer")["on"]."""
        return await self._call("GET", f"/devices/{device}/faults")

    async def set_device_faults(self, device: str, **switches: bool) -> dict:
        """Flip switches, e.g. set_device_faults("dispenser", jam=True, unplugged=False)."""
        return await self._call("POST", f"/devices/{device}/faults", dict(switches))

    async def device(self, path: str, body: dict | None = None) -> dict:
        """Any device route, e.g. device("/printer/fault", {"fault": "paper_out", "on": True})."""
        return await self._call("POST", path, body or {})

    async def scan(self, data: str) -> dict:
        return await self._call("POST", "/scanner/scan", {"data": data})

    async def document_scene(self, scene: str) -> dict:
        return await self._call("POST", "/document/scene", {"scene": scene})

    async def ledgers(self) -> dict:
        return await self._call("GET", "/ledgers")

    async def backend_faults(self, backend: str, **faults: object) -> dict:
        return await self._call("POST", f"/backends/{backend}/faults", dict(faults))

    async def link(self, name: str = "backends") -> dict:
        return await self._call("GET", f"/links/{name}")

    async def set_link(self, name: str = "backends", **shape: object) -> dict:
        """Shape a link, e.g. set_link(bandwidth_bps=64_000, latency_s=0.3), down_for_s=600."""
        return await self._call("PUT", f"/links/{name}", dict(shape))

    async def add_link(self, name: str, upstream: str) -> dict:
        return await self._call("POST", "/links", {"name": name, "upstream": upstream})

    async def payment_settings(self, **settings: object) -> dict:
        return await self._call("POST", "/payment/settings", dict(settings))

    async def confirm_payment(self, out_trade_no: str) -> dict:
        """The citizen confirms a waiting micropay on the phone."""
        return await self._call("POST", "/payment/confirm", {"out_trade_no": out_trade_no})

    async def backend_calls(self) -> dict:
        return await self._call("GET", "/backends/calls")

    async def reset_backends(self) -> dict:
        return await self._call("POST", "/backends/reset")

    async def a4_jobs(self) -> list[str]:
        """Paths of the PDFs the A4 printer printed, oldest first."""
        return (await self._call("GET", "/a4/jobs"))["jobs"]

    # The service hall's backends (simulator.hall_control).
    async def advance_clock(self, seconds: float) -> float:
        return (await self._call("POST", "/hall/advance", {"seconds": seconds}))["now"]

    async def sms_messages(self) -> list[dict]:
        return (await self._call("GET", "/hall/sms"))["messages"]

    async def hall_ledgers(self) -> dict:
        return await self._call("GET", "/hall/ledgers")

    async def add_appointment(self, appointment_no: str, id_number: str, category: str = "A",
                              in_s: float = 0.0) -> dict:
        return await self._call("POST", "/hall/appointment", {
            "appointment_no": appointment_no, "id_number": id_number, "category": category,
            "in_s": in_s})

    async def publish_catalog(self, raw: bytes) -> dict:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.put(self.base_url + "/catalog", data=raw) as resp:
            return await resp.json()
