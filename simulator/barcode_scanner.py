"""The far side of a serial barcode / QR scanner: it "scans" on command.

`scan(data)` sends the symbol's data and the suffix (CR by default), as the scanner does when
a code is held under it. It answers the Honeywell-style menu query `SYN M CR REVINF.` with
`REVINF<model>ACK.` and unknown menu commands with ENQ. Fault switches: silent (no answers and
no scans reach the wire), garbage (noise instead of data). `unplug()` / `plug()` pull and
reinsert the USB-CDC cable.
"""

from __future__ import annotations

import random
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.serial_pty import PtySerialDevice

SYN, ACK, ENQ = 0x16, 0x06, 0x05
MENU_START = bytes([SYN]) + b"M\r"
MAX_MENU = 256


class ScannerFault(StrEnum):
    SILENT = "silent"
    GARBAGE = "garbage"


class BarcodeScannerSimulator:
    """A scanner on a pty at `link_path`."""

    def __init__(
        self, link_path: Path, suffix: bytes = b"\r", model: str = "HSM-3320-SIM 1.00"
    ) -> None:
        self.suffix = suffix
        self.model = model
        self.faults: set[ScannerFault] = set()
        self.scans_sent = 0
        self.queries_answered = 0
        self._port = PtySerialDevice(link_path, self._on_data)
        self._buffer = bytearray()
        self._rng = random.Random(3320)

    @property
    def endpoint(self) -> dict[str, Any]:
        return {"port": self._port.path, "suffix": self.suffix.decode("ascii")}

    @property
    def plugged(self) -> bool:
        return self._port.plugged

    async def start(self) -> None:
        await self._port.start()

    async def stop(self) -> None:
        await self._port.stop()

    def unplug(self) -> None:
        self._port.unplug()
        self._buffer.clear()

    def plug(self) -> None:
        self._port.plug()

    def set_fault(self, fault: ScannerFault | str, on: bool) -> None:
        fault = ScannerFault(fault)
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)

    def scan(self, data: str | bytes) -> bool:
        """A code under the scanner; False when nothing could reach the host."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if not self.plugged or ScannerFault.SILENT in self.faults:
            return False
        self._send(payload + self.suffix)
        self.scans_sent += 1
        return True

    def state(self) -> dict[str, Any]:
        return {
            "plugged": self.plugged,
            "faults": sorted(self.faults),
            "scans_sent": self.scans_sent,
            "queries_answered": self.queries_answered,
            "endpoint": self.endpoint,
        }

    def _send(self, data: bytes) -> None:
        if ScannerFault.SILENT in self.faults:
            return
        if ScannerFault.GARBAGE in self.faults:
            noise = bytes(self._rng.choice((0x00, 0x1B, 0x80, 0xC3, 0xFF)) for _ in data)
            data = noise + self.suffix  # a broken decoder still ends its lines
        self._port.write(data)

    def _on_data(self, data: bytes) -> None:
        self._buffer += data
        while True:
            start = self._buffer.find(MENU_START)
            if start < 0:
                del self._buffer[: max(0, len(self._buffer) - len(MENU_START))]
                return
            end = self._buffer.find(b".", start)
            if end < 0:
                if len(self._buffer) - start > MAX_MENU:
                    self._buffer.clear()
                return
            command = bytes(self._buffer[start + len(MENU_START) : end])
            del self._buffer[: end + 1]
            if command == b"REVINF":
                self.queries_answered += 1
                self._send(b"REVINF" + self.model.encode("ascii") + bytes([ACK]) + b".")
            else:
                self._send(command[:6] + bytes([ENQ]) + b".")


def add_control_routes(routes: web.RouteTableDef, sim: BarcodeScannerSimulator) -> None:
    """POST /scanner/scan {"data"}, /scanner/fault {"fault", "on"}, /scanner/unplug,
    /scanner/plug; GET /scanner/state."""

    @routes.post("/scanner/scan")
    async def scanner_scan(request: web.Request) -> web.Response:
        body = await request.json()
        sent = sim.scan(str(body["data"]))
        return web.json_response({"sent": sent, **sim.state()}, status=200 if sent else 409)

    @routes.post("/scanner/fault")
    async def scanner_fault(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sim.set_fault(body["fault"], bool(body.get("on", True)))
        except (KeyError, ValueError):
            return web.json_response(
                {"error": "unknown fault", "faults": [f.value for f in ScannerFault]}, status=400
            )
        return web.json_response(sim.state())

    @routes.post("/scanner/{action:unplug|plug}")
    async def scanner_plug(request: web.Request) -> web.Response:
        if request.match_info["action"] == "unplug":
            sim.unplug()
        else:
            sim.plug()
        return web.json_response(sim.state())

    @routes.get("/scanner/state")
    async def scanner_state(request: web.Request) -> web.Response:
        return web.json_response(sim.state())
