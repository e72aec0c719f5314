"""The far side of a certificate dispenser / card transport: a CRT-571/591-style unit on a pty.

It keeps the mechanism's state (cards in the stock, cards in the retain bin, where the card in
the channel is) and speaks the unit's framing: STX(0xF2) ADDR LEN TEXT ETX BCC, ACK or NAK per
command frame, the reply frame after the host's ENQ. See drivers/dispenser.py for the layout
(this module is written on its own from the protocol, as the real unit's firmware would be).

Fault switches (`set_fault`): jam (every movement and status is refused with E '10'),
stock_empty (the stock reads empty), bin_full, silent (nothing answers), garbage (noise instead
of answers). `unplug()` / `plug()` pull and reinsert the USB-serial adapter. The citizen's
hands: `insert_card()` puts a card in the mouth, `take_card()` takes the one there.
"""

from __future__ import annotations

import logging
import random
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.serial_pty import PtySerialDevice

log = logging.getLogger(__name__)

STX, ETX, ACK, NAK, ENQ = 0xF2, 0x03, 0x06, 0x15, 0x05
MAX_TEXT = 512


class DispenserFault(StrEnum):
    JAM = "jam"
    STOCK_EMPTY = "stock_empty"
    BIN_FULL = "bin_full"
    SILENT = "silent"
    GARBAGE = "garbage"


class Position(StrEnum):
    NONE = "0"
    MOUTH = "1"
    READ_WRITE = "2"
    PRINT = "3"


def _bcc(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def frame(address: int, text: bytes) -> bytes:
    body = bytes([STX, address]) + len(text).to_bytes(2, "big") + text + bytes([ETX])
    return body + bytes([_bcc(body)])


class DispenserSimulator:
    """A motorised card unit with a stock and a retain bin, reachable at `link_path`."""

    def __init__(
        self,
        link_path: Path,
        address: int = 0,
        stock: int = 100,
        stock_low: int = 10,
        bin_capacity: int = 20,
        model: str = "CRT-591-SIM V1.0",
    ) -> None:
        self.address = address
        self.stock = stock
        self.stock_low = stock_low
        self.bin_count = 0
        self.bin_capacity = bin_capacity
        self.model = model
        self.position = Position.NONE
        self.faults: set[DispenserFault] = set()
        self.counters = {"commands": 0, "naks": 0, "dispensed": 0, "captured": 0,
                         "accepted": 0, "ejected": 0, "taken": 0}  # fmt: skip
        self._port = PtySerialDevice(link_path, self._on_data)
        self._buffer = bytearray()
        self._pending: bytes | None = None  # the reply the next ENQ fetches
        self._rng = random.Random(571)

    # -- the world around it ----------------------------------------------------------------

    @property
    def endpoint(self) -> dict[str, Any]:
        return {"port": self._port.path, "address": self.address}

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
        self._pending = None

    def plug(self) -> None:
        self._port.plug()

    def set_fault(self, fault: DispenserFault | str, on: bool) -> None:
        fault = DispenserFault(fault)
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)

    def insert_card(self) -> bool:
        """The citizen pushes a card into the mouth; False when the channel is not free."""
        if self.position is not Position.NONE:
            return False
        self.position = Position.MOUTH
        return True

    def take_card(self) -> bool:
        """The citizen takes the card waiting at the mouth."""
        if self.position is not Position.MOUTH:
            return False
        self.position = Position.NONE
        self.counters["taken"] += 1
        return True

    def load_stock(self, cards: int) -> None:
        self.stock = cards

    def empty_bin(self) -> None:
        self.bin_count = 0

    def state(self) -> dict[str, Any]:
        return {
            "plugged": self.plugged,
            "faults": sorted(self.faults),
            "stock": self._stock_available(),
            "bin_count": self.bin_count,
            "bin_capacity": self.bin_capacity,
            "card_position": self.position.name.lower(),
            "counters": dict(self.counters),
            "endpoint": self.endpoint,
        }

    # -- the wire ---------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if DispenserFault.SILENT in self.faults:
            return
        if DispenserFault.GARBAGE in self.faults:
            data = bytes(self._rng.choice((0x00, 0x7F, 0xFF, 0x41, 0xF2)) for _ in data)
        self._port.write(data)

    def _on_data(self, data: bytes) -> None:
        self._buffer += data
        buf = self._buffer
        while buf:
            if buf[0] == ENQ:
                del buf[:1]
                reply, self._pending = self._pending, None
                if reply is not None:
                    self._send(reply)
                continue
            if buf[0] != STX:
                del buf[:1]  # line noise between frames: ignored, as the unit does
                continue
            if len(buf) < 4:
                return
            length = int.from_bytes(buf[2:4], "big")
            if length > MAX_TEXT:
                del buf[:1]
                self._send(bytes([NAK]))
                continue
            size = 6 + length
            if len(buf) < size:
                return
            raw = bytes(buf[:size])
            del buf[:size]
            if raw[-2] != ETX or _bcc(raw[:-1]) != raw[-1]:
                self.counters["naks"] += 1
                self._send(bytes([NAK]))
                continue
            if raw[1] != self.address:
                continue  # another unit's frame on a shared line
            self._send(bytes([ACK]))
            self._pending = frame(self.address, self._execute(raw[4:-2]))

    # -- the mechanism ----------------------------------------------------------------------

    def _stock_available(self) -> int:
        return 0 if DispenserFault.STOCK_EMPTY in self.faults else self.stock

    def _bin_full(self) -> bool:
        return DispenserFault.BIN_FULL in self.faults or self.bin_count >= self.bin_capacity

    def _status(self) -> bytes:
        stock = self._stock_available()
        st1 = b"0" if stock <= 0 else b"1" if stock <= self.stock_low else b"2"
        return self.position.value.encode() + st1 + (b"1" if self._bin_full() else b"0")

    def _execute(self, text: bytes) -> bytes:
        self.counters["commands"] += 1
        if len(text) < 3 or text[:1] != b"C":
            return b"N" + text[1:3].ljust(2, b"0") + b"00"
        command = text[1:3]
        if DispenserFault.JAM in self.faults and command not in (b"A0",):
            return b"N" + command + b"10"
        handler = {
            b"00": lambda: None,
            b"01": self._initialize_capture,
            b"10": lambda: None,
            b"20": self._eject,
            b"21": lambda: self._move(Position.READ_WRITE),
            b"22": lambda: self._move(Position.PRINT),
            b"23": self._capture,
            b"30": self._accept,
            b"40": self._dispense,
        }.get(command)
        if command == b"A0":
            return b"P" + command + self._status() + self.model.encode("ascii")
        if handler is None:
            return b"N" + command + b"00"
        error = handler()
        if error is not None:
            return b"N" + command + error
        return b"P" + command + self._status()

    def _in_channel(self) -> bool:
        return self.position in (Position.READ_WRITE, Position.PRINT)

    def _move(self, to: Position) -> bytes | None:
        if not self._in_channel():
            return b"30"
        self.position = to
        return None

    def _eject(self) -> bytes | None:
        if not self._in_channel():
            return b"30"
        self.position = Position.MOUTH
        self.counters["ejected"] += 1
        return None

    def _capture(self) -> bytes | None:
        if self.position is Position.NONE:
            return b"30"
        if self._bin_full():
            return b"21"
        self.position = Position.NONE
        self.bin_count += 1
        self.counters["captured"] += 1
        return None

    def _initialize_capture(self) -> bytes | None:
        if self._in_channel():
            return self._capture()
        return None

    def _accept(self) -> bytes | None:
        if self.position is not Position.MOUTH:
            return b"30" if self.position is Position.NONE else b"31"
        self.position = Position.READ_WRITE
        self.counters["accepted"] += 1
        return None

    def _dispense(self) -> bytes | None:
        if self.position is not Position.NONE:
            return b"31"
        if self._stock_available() <= 0:
            return b"20"
        self.stock -= 1
        self.position = Position.READ_WRITE
        self.counters["dispensed"] += 1
        return None


def add_control_routes(routes: web.RouteTableDef, sim: DispenserSimulator) -> None:
    """POST /dispenser/fault {"fault", "on"}, /dispenser/unplug, /dispenser/plug,
    /dispenser/insert, /dispenser/take, /dispenser/stock {"cards"}, /dispenser/empty-bin;
    GET /dispenser/state."""

    @routes.post("/dispenser/fault")
    async def dispenser_fault(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sim.set_fault(body["fault"], bool(body.get("on", True)))
        except (KeyError, ValueError):
            return web.json_response(
                {"error": "unknown fault", "faults": [f.value for f in DispenserFault]},
                status=400,
            )
        return web.json_response(sim.state())

    @routes.post("/dispenser/{action:unplug|plug|insert|take|empty-bin}")
    async def dispenser_action(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        ok = {
            "unplug": lambda: sim.unplug() or True,
            "plug": lambda: sim.plug() or True,
            "insert": sim.insert_card,
            "take": sim.take_card,
            "empty-bin": lambda: sim.empty_bin() or True,
        }[action]()
        return web.json_response({"ok": ok, **sim.state()}, status=200 if ok else 409)

    @routes.post("/dispenser/stock")
    async def dispenser_stock(request: web.Request) -> web.Response:
        body = await request.json()
        sim.load_stock(int(body["cards"]))
        return web.json_response(sim.state())

    @routes.get("/dispenser/state")
    async def dispenser_state(request: web.Request) -> web.Response:
        return web.json_response(sim.state())
