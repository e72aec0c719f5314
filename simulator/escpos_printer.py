"""The far side of a receipt printer's wire: one simulated printer on TCP, serial and USB.

`EscposPrinterSimulator` is one printer mechanism (a paper roll that runs down, a cover, a
cutter) reachable over TCP port 9100, over a serial pty (optional) and as a USB printer through
`usb_backend` (a pyusb backend). Each connection runs its own `EscposInterpreter`; every cut
receipt is rendered to `receipt-NNNN.txt` / `.png` and kept in `receipts`.

Fault switches (`set_fault` or the properties): paper_out, paper_near_end, cover_open,
cutter_error (the sensors the status replies are built from), silent (bytes are taken, nothing
is answered or printed: a hung printer) and garbage (status replies are noise). `unplug()`
takes the printer off every transport at once; `plug()` brings it back.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.escpos_interpreter import EscposInterpreter
from simulator.escpos_page import Page
from simulator.escpos_render import DOTS_PER_MM, render_page
from simulator.escpos_status import PaperSensors
from simulator.serial_pty import PtySerialDevice
from simulator.usb_backend import SimulatedUsbPrinterBackend

log = logging.getLogger(__name__)

ROLL_MM = 50_000  # a 50 m roll of 80 mm thermal paper
NEAR_END_MM = 1_500  # where the near-end sensor trips, about 20 receipts before the end
CUT_MARGIN_MM = 5  # paper fed past the cutter with each cut


class PrinterFault(StrEnum):
    PAPER_OUT = "paper_out"
    PAPER_NEAR_END = "paper_near_end"
    COVER_OPEN = "cover_open"
    CUTTER_ERROR = "cutter_error"
    SILENT = "silent"
    GARBAGE = "garbage"


@dataclass(frozen=True)
class RenderedReceipt:
    """One cut receipt as the simulator wrote it to disk."""

    index: int
    text: str
    txt_path: Path
    png_path: Path
    qr_payloads: tuple[str, ...]
    length_mm: float = 0.0


ReceiptCallback = Callable[[RenderedReceipt], object]


class EscposPrinterSimulator:
    """A receipt printer: ESC/POS over TCP (and serial, and USB), every receipt rendered.

    A receipt cut while the printer cannot print (no paper, cover open, cutter jammed, hung) is
    lost, as on the real machine, and counted in `receipts_lost`. `on_receipt` may be a plain
    function or a coroutine function.
    """

    def __init__(
        self,
        output_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        font_path: Path | str | None = None,
        on_receipt: ReceiptCallback | None = None,
        *,
        serial_link: Path | None = None,
        roll_mm: float = ROLL_MM,
        near_end_mm: float = NEAR_END_MM,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.host = host
        self.port = port
        self.font_path = Path(font_path) if font_path else None
        self.on_receipt = on_receipt
        self.roll_mm = roll_mm
        self.near_end_mm = near_end_mm
        self.paper_remaining_mm = roll_mm
        self.faults: set[PrinterFault] = set()
        self.plugged = True
        self.receipts: list[RenderedReceipt] = []
        self.receipts_lost = 0
        self.cuts = 0
        self._rng = random.Random(9100)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._publishing: set[asyncio.Task[None]] = set()
        self._changed: asyncio.Condition | None = None
        self._publish_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_index = 1
        self._serial = PtySerialDevice(serial_link, self._serial_data) if serial_link else None
        self._serial_interpreter = EscposInterpreter(self.sensors)
        self._usb_interpreter = EscposInterpreter(self.sensors)
        self.usb_backend = SimulatedUsbPrinterBackend(self._usb_data)

    # -- sensors and fault switches ---------------------------------------------------------

    def sensors(self) -> PaperSensors:
        return PaperSensors(self.paper_out, self.paper_near_end, self.cover_open, self.cutter_error)

    def set_fault(self, fault: PrinterFault | str, on: bool) -> None:
        fault = PrinterFault(fault)
        if fault is PrinterFault.PAPER_OUT and not on and self.paper_remaining_mm <= 0:
            self.load_paper()  # clearing "out of paper" means a new roll went in
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)

    def load_paper(self, mm: float | None = None) -> None:
        self.paper_remaining_mm = self.roll_mm if mm is None else mm

    @property
    def paper_out(self) -> bool:
        return PrinterFault.PAPER_OUT in self.faults or self.paper_remaining_mm <= 0

    @paper_out.setter
    def paper_out(self, on: bool) -> None:
        self.set_fault(PrinterFault.PAPER_OUT, on)

    @property
    def paper_near_end(self) -> bool:
        return PrinterFault.PAPER_NEAR_END in self.faults or (
            0 < self.paper_remaining_mm <= self.near_end_mm
        )

    @paper_near_end.setter
    def paper_near_end(self, on: bool) -> None:
        self.set_fault(PrinterFault.PAPER_NEAR_END, on)

    @property
    def cover_open(self) -> bool:
        return PrinterFault.COVER_OPEN in self.faults

    @cover_open.setter
    def cover_open(self, on: bool) -> None:
        self.set_fault(PrinterFault.COVER_OPEN, on)

    @property
    def cutter_error(self) -> bool:
        return PrinterFault.CUTTER_ERROR in self.faults

    @cutter_error.setter
    def cutter_error(self, on: bool) -> None:
        self.set_fault(PrinterFault.CUTTER_ERROR, on)

    @property
    def silent(self) -> bool:
        return PrinterFault.SILENT in self.faults

    @property
    def garbage(self) -> bool:
        return PrinterFault.GARBAGE in self.faults

    @property
    def endpoint(self) -> dict[str, Any]:
        described: dict[str, Any] = {"host": self.host, "port": self.port}
        if self._serial is not None:
            described["serial_port"] = self._serial.path
        described["usb"] = {
            "vendor_id": self.usb_backend.vendor_id,
            "product_id": self.usb_backend.product_id,
        }
        return described

    def state(self) -> dict[str, Any]:
        return {
            "plugged": self.plugged,
            "faults": sorted(self.faults),
            "paper_remaining_mm": round(self.paper_remaining_mm, 1),
            "paper_out": self.paper_out,
            "paper_near_end": self.paper_near_end,
            "receipts": len(self.receipts),
            "receipts_lost": self.receipts_lost,
            "cuts": self.cuts,
            "endpoint": self.endpoint,
        }

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        await self._listen()
        if self._serial is not None:
            await self._serial.start()
        log.info("escpos printer simulator listening", extra={"device": f"tcp:{self.port}"})

    async def stop(self) -> None:
        """Stop listening and hang up on every connected host."""
        await self._close_tcp()
        if self._serial is not None:
            await self._serial.stop()
        self.usb_backend.unplug()
        if self._publishing:
            await asyncio.wait(list(self._publishing), timeout=10.0)

    def unplug(self) -> None:
        """Pull the cable: TCP stops answering, the pty goes away, the USB device disappears."""
        self.plugged = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.close()
        if self._serial is not None:
            self._serial.unplug()
        self.usb_backend.unplug()

    def plug(self) -> None:
        if self.plugged:
            return
        assert self._loop is not None, "start() first"
        self.plugged = True
        # Bind synchronously: connections queue in the backlog until the server takes them.
        sock = socket.create_server((self.host, self.port))
        task = self._loop.create_task(self._listen(sock))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)
        if self._serial is not None:
            self._serial_interpreter = EscposInterpreter(self.sensors)
            self._serial.plug()
        self._usb_interpreter = EscposInterpreter(self.sensors)
        self.usb_backend.plug()

    async def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[RenderedReceipt]:
        """Wait until at least `count` receipts have been rendered; return them all."""
        assert self._changed is not None, "start() first"
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.receipts) >= count), timeout
            )
        return list(self.receipts)

    # -- transports -------------------------------------------------------------------------

    async def _listen(self, sock: socket.socket | None = None) -> None:
        if sock is not None:
            self._server = await asyncio.start_server(self._serve, sock=sock)
        else:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close_tcp(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.close()  # the handler then reads EOF and ends by itself
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5.0)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        interpreter = EscposInterpreter(self.sensors)  # one state machine per connection
        try:
            while data := await reader.read(65536):
                reply = self._answer(interpreter.feed(data))
                if reply:  # status answers go out at once, before any rendering
                    writer.write(reply)
                    await writer.drain()
                for page in interpreter.take_pages():
                    await self._publish(page)
        except ConnectionError:
            pass  # the host hung up; what was not cut is not printed
        finally:
            self._connections.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _serial_data(self, data: bytes) -> None:
        assert self._serial is not None
        reply = self._answer(self._serial_interpreter.feed(data))
        if reply:
            self._serial.write(reply)
        for page in self._serial_interpreter.take_pages():
            self._spawn_publish(page)

    def _usb_data(self, data: bytes) -> bytes:
        """Bulk OUT, called on the host's thread: answer now, print on the loop."""
        reply = self._answer(self._usb_interpreter.feed(data))
        pages = self._usb_interpreter.take_pages()
        if pages and self._loop is not None:
            for page in pages:
                self._loop.call_soon_threadsafe(self._spawn_publish, page)
        return reply

    def _answer(self, reply: bytes) -> bytes:
        """What goes back on the wire: nothing from a hung printer, noise from a broken one."""
        if not reply or self.silent:
            return b""
        if self.garbage:
            # Bit 7 set: no valid ESC/POS status byte has it.
            return bytes(0x80 | self._rng.randrange(128) for _ in range(len(reply) + 1))
        return reply

    # -- printing ---------------------------------------------------------------------------

    def _spawn_publish(self, page: Page) -> None:
        task = asyncio.get_running_loop().create_task(self._publish(page))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, page: Page) -> None:
        async with self._publish_lock:  # receipts come off the roll in the order they were cut
            await self._publish_in_order(page)

    async def _publish_in_order(self, page: Page) -> None:
        self.cuts += 1
        if self.sensors().offline or self.silent:
            self.receipts_lost += 1
            log.warning("receipt lost: printer offline", extra={"device": f"tcp:{self.port}"})
            return
        index = self._next_index
        self._next_index += 1
        receipt = await asyncio.to_thread(self._write_receipt, index, page)
        self.paper_remaining_mm = max(0.0, self.paper_remaining_mm - receipt.length_mm)
        assert self._changed is not None
        async with self._changed:
            self.receipts.append(receipt)
            self._changed.notify_all()
        if self.on_receipt is not None:
            result = self.on_receipt(receipt)
            if inspect.isawaitable(result):
                await result

    def _write_receipt(self, index: int, page: Page) -> RenderedReceipt:
        text = "\n".join(page.text_lines)
        txt_path = self.output_dir / f"receipt-{index:04d}.txt"
        png_path = self.output_dir / f"receipt-{index:04d}.png"
        txt_path.write_text(text + "\n", encoding="utf-8")
        image = render_page(page, self.font_path)
        image.save(png_path, compress_level=1)   # fast: it is written at every receipt
        length_mm = image.height / DOTS_PER_MM + CUT_MARGIN_MM
        return RenderedReceipt(index, text, txt_path, png_path, page.qr_payloads, length_mm)


def add_control_routes(routes: web.RouteTableDef, sim: EscposPrinterSimulator) -> None:
    """POST /printer/fault {"fault", "on"}, /printer/unplug, /printer/plug, /printer/paper
    {"mm"?} (load a roll), GET /printer/state."""

    @routes.post("/printer/fault")
    async def printer_fault(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sim.set_fault(body["fault"], bool(body.get("on", True)))
        except (KeyError, ValueError):
            return web.json_response(
                {"error": "unknown fault", "faults": [f.value for f in PrinterFault]}, status=400
            )
        return web.json_response(sim.state())

    @routes.post("/printer/unplug")
    async def printer_unplug(request: web.Request) -> web.Response:
        sim.unplug()
        return web.json_response(sim.state())

    @routes.post("/printer/plug")
    async def printer_plug(request: web.Request) -> web.Response:
        sim.plug()
        return web.json_response(sim.state())

    @routes.post("/printer/paper")
    async def printer_paper(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        mm = body.get("mm")
        sim.load_paper(None if mm is None else float(mm))
        return web.json_response(sim.state())

    @routes.get("/printer/state")
    async def printer_state(request: web.Request) -> web.Response:
        return web.json_response(sim.state())
