"""A resident identity-card reader (SAM_A module) on a pseudo-terminal, with faults to switch on.

It answers the GA 467 frame protocol as a real module does: find card (20 01), select (20 02),
read base information (30 01), with fingerprint (30 10), new address (30 03), and the SAM
commands (10 FF reset, 11 FF status, 12 FF SAM ID). Frames it cannot make sense of are answered
with the module's own error statuses (10 checksum, 11 length, 21 command). The card must be
found, then selected, then read, in that order, as on a real module.

The framing here is written anew from the protocol, not imported: the simulator is the far side
of the wire and must not share the driver's mistakes. The default card is a fictitious citizen.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.serial_pty import PtySerialDevice

log = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"

# SW3 values of GA 467.
OK, NO_CONTENT, CARD_FOUND = 0x90, 0x91, 0x9F
FIND_FAILED, SELECT_FAILED, READ_FAILED = 0x80, 0x81, 0x41
CHECKSUM_ERROR, LENGTH_ERROR, COMMAND_ERROR = 0x10, 0x11, 0x21

_TEXT_LAYOUT = (
    ("name", 30), ("sex", 2), ("ethnicity", 4), ("birth_date", 16), ("address", 70),
    ("id_number", 36), ("issuing_authority", 30), ("valid_from", 16), ("valid_to", 16),
    ("reserved", 36),
)  # fmt: skip


def photo_blob(seed: str) -> bytes:
    """A 1024-byte stand-in for the card's WLT photo: the WLT magic, then seeded noise."""
    out = bytearray(b"WLf\x00\x7e\x00\x32\x00\x00\xff")
    counter = 0
    while len(out) < 1024:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:1024])


@dataclass(frozen=True)
class ResidentCard:
    """A second-generation resident identity card. The defaults are a fictitious citizen whose
    number (Zhongshan region 442000, born 1990-03-07) carries a valid GB 11643 check digit."""

    name: str = field(default="林晓明", repr=False)
    sex: str = "1"
    ethnicity: str = "01"
    birth_date: str = field(default="19900307", repr=False)
    address: str = field(default="广东省中山市石岐区民族路一号", repr=False)
    id_number: str = field(default="44200019900307123X", repr=False)
    issuing_authority: str = "中山市公安局石岐分局"
    valid_from: str = "20200315"
    valid_to: str = "20400315"
    photo: bytes = field(default=b"", repr=False)  # empty: generated from the ID number
    new_address: str | None = field(default=None, repr=False)
    fingerprint: bytes | None = field(default=None, repr=False)  # 1024 bytes when enrolled

    def photo_bytes(self) -> bytes:
        return self.photo or photo_blob(self.id_number)

    def text_block(self) -> bytes:
        """The 256-byte UCS-2 LE block, fields space-padded (too long ones are cut)."""
        out = bytearray()
        for name, size in _TEXT_LAYOUT:
            value = "" if name == "reserved" else str(getattr(self, name))
            raw = value.encode("utf-16-le")[:size]
            out += raw + b" \x00" * ((size - len(raw)) // 2)
        return bytes(out)


class IdCardFault(StrEnum):
    NO_CARD = "no_card"  # find card answers 80 whatever lies on the reader
    BROKEN_FRAMES = "broken_frames"  # noise, corrupt checksums and truncated frames, in turn
    SLOW = "slow"  # every answer comes `slow_s` late
    SILENT = "silent"  # no answer at all
    UNREADABLE = "unreadable"  # the card is found and selected but every read fails (SW3 41)


def _frame(sw3: int, data: bytes = b"") -> bytes:
    body = (len(data) + 4).to_bytes(2, "big") + bytes([0, 0, sw3]) + data
    chk = 0
    for byte in body:
        chk ^= byte
    return PREAMBLE + body + bytes([chk])


class IdCardReaderSimulator:
    """The reader's far side on a pty at `link_path`; `insert`/`remove` a card, set `faults`."""

    def __init__(self, link_path: Path, card: ResidentCard | None = None) -> None:
        self._device = PtySerialDevice(link_path, self._on_data)
        self.card: ResidentCard | None = card
        self._last_card: ResidentCard | None = card
        self.faults: set[IdCardFault] = set()
        self.slow_s = 0.6
        self.commands: list[int] = []  # CMD<<8|PARA of every well-formed request, in order
        self._buffer = bytearray()
        self._found = False
        self._selected = False
        self._responses = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.TimerHandle] = set()

    @property
    def path(self) -> str:
        return self._device.path

    @property
    def plugged(self) -> bool:
        return self._device.plugged

    @property
    def present(self) -> bool:
        return self.card is not None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._device.start()

    async def stop(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        await self._device.stop()

    def insert(self, card: ResidentCard | None = None) -> None:
        """Lay a card on the reader (`card`, else the one it had, else the default citizen)."""
        self.card = card or self.card or self._last_card or ResidentCard()
        self._found = self._selected = False

    def remove(self) -> None:
        self._last_card = self.card or self._last_card
        self.card = None
        self._found = self._selected = False

    def set_fault(self, fault: IdCardFault | str, on: bool) -> None:
        fault = IdCardFault(str(fault).lower())
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)

    def unplug(self) -> None:
        self._device.unplug()
        self._buffer.clear()

    def plug(self) -> None:
        self._device.plug()

    def state(self) -> dict[str, object]:
        """For the control API: no card contents."""
        return {
            "path": self.path,
            "plugged": self.plugged,
            "present": self.present,
            "faults": sorted(f.value for f in self.faults),
            "commands": len(self.commands),
        }

    # --- the wire ---

    def _on_data(self, data: bytes) -> None:
        self._buffer += data
        while True:
            start = self._buffer.find(PREAMBLE)
            if start < 0:
                del self._buffer[: max(0, len(self._buffer) - len(PREAMBLE) + 1)]
                return
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return
            length = int.from_bytes(self._buffer[5:7], "big")
            if length < 3 or length > 2048:
                del self._buffer[:1]
                self._send(_frame(LENGTH_ERROR))
                continue
            end = 7 + length
            if len(self._buffer) < end:
                return
            frame = bytes(self._buffer[:end])
            del self._buffer[:end]
            chk = 0
            for byte in frame[5:-1]:
                chk ^= byte
            if chk != frame[-1]:
                self._send(_frame(CHECKSUM_ERROR))
                continue
            command = int.from_bytes(frame[7:9], "big")
            self.commands.append(command)
            self._send(self._answer(command))

    def _answer(self, command: int) -> bytes:
        card = None if IdCardFault.NO_CARD in self.faults else self.card
        if command in (0x10FF, 0x11FF):
            return _frame(OK)
        if command == 0x12FF:
            sam_id = (5).to_bytes(2, "little") + (1).to_bytes(2, "little")
            sam_id += (20240101).to_bytes(4, "little") + (1).to_bytes(4, "little")
            return _frame(OK, sam_id + (1234567).to_bytes(4, "little"))
        if command == 0x2001:
            self._found = card is not None
            self._selected = False
            return _frame(CARD_FOUND, bytes(4)) if card else _frame(FIND_FAILED)
        if command == 0x2002:
            self._selected = card is not None and self._found
            return _frame(OK, bytes(8)) if self._selected else _frame(SELECT_FAILED)
        if command in (0x3001, 0x3010, 0x3003):
            if card is None or not self._selected or IdCardFault.UNREADABLE in self.faults:
                return _frame(READ_FAILED)
            return self._read(card, command)
        return _frame(COMMAND_ERROR)

    def _read(self, card: ResidentCard, command: int) -> bytes:
        text, photo = card.text_block(), card.photo_bytes()
        if command == 0x3003:
            if not card.new_address:
                return _frame(NO_CONTENT)
            raw = card.new_address.encode("utf-16-le")[:70]
            return _frame(OK, raw + b" \x00" * ((70 - len(raw)) // 2))
        lengths = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
        if command == 0x3001:
            return _frame(OK, lengths + text + photo)
        fingerprint = card.fingerprint or b""
        lengths += len(fingerprint).to_bytes(2, "big")
        return _frame(OK, lengths + text + photo + fingerprint)

    def _send(self, frame: bytes) -> None:
        if IdCardFault.SILENT in self.faults:
            return
        if IdCardFault.BROKEN_FRAMES in self.faults:
            frame = self._break(frame)
        if IdCardFault.SLOW in self.faults and self._loop is not None:
            now = self._loop.time()
            self._pending = {h for h in self._pending if h.when() > now}
            self._pending.add(self._loop.call_later(self.slow_s, self._device.write, frame))
            return
        self._device.write(frame)

    def _break(self, frame: bytes) -> bytes:
        """In turn: noise before a good frame, a corrupt checksum, a good frame, a truncated one.
        Two answers in a row are never both broken, so a reader that retries always gets through."""
        kind = self._responses % 4
        self._responses += 1
        if kind == 0:
            return b"\x00\x55\xaa\xaa\x13" + frame
        if kind == 1:
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if kind == 2:
            return frame
        return frame[: max(8, len(frame) // 2)]


def _card_from(body: dict[str, object], base: ResidentCard) -> ResidentCard:
    names = {f.name for f in fields(ResidentCard)} - {"photo", "fingerprint"}
    unknown = set(body) - names
    if unknown:
        raise web.HTTPBadRequest(reason=f"unknown card fields: {sorted(unknown)}")
    changes: dict[str, Any] = {k: (None if v is None else str(v)) for k, v in body.items()}
    return replace(base, **changes)


def add_control_routes(routes: web.RouteTableDef, sim: IdCardReaderSimulator) -> None:
    """POST /idcard/insert [{"card": {field: value}}], /idcard/remove, /idcard/fault {"fault", "on"},
    /idcard/unplug, /idcard/plug; GET /idcard/state. Each answers the reader's state as JSON."""

    @routes.post("/idcard/insert")
    async def insert(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        fields_ = body.get("card") if isinstance(body, dict) else None
        if fields_ is not None and not isinstance(fields_, dict):
            raise web.HTTPBadRequest(reason="card is an object of card fields")
        # no card fields: lay back the card the reader had (or the default citizen)
        sim.insert(_card_from(fields_, ResidentCard()) if fields_ else None)
        return web.json_response(sim.state())

    @routes.post("/idcard/remove")
    async def remove(request: web.Request) -> web.Response:
        sim.remove()
        return web.json_response(sim.state())

    @routes.post("/idcard/fault")
    async def fault(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sim.set_fault(str(body["fault"]), bool(body.get("on", True)))
        except (KeyError, ValueError, TypeError):
            names = [f.value for f in IdCardFault]
            return web.json_response({"error": f"fault is one of {names}"}, status=400)
        return web.json_response(sim.state())

    @routes.post("/idcard/unplug")
    async def unplug(request: web.Request) -> web.Response:
        sim.unplug()
        return web.json_response(sim.state())

    @routes.post("/idcard/plug")
    async def plug(request: web.Request) -> web.Response:
        sim.plug()
        return web.json_response(sim.state())

    @routes.get("/idcard/state")
    async def state(request: web.Request) -> web.Response:
        return web.json_response(sim.state())
