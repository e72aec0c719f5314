"""A virtual ICC for pcscd's vpcd driver (vsmartcard), on asyncio.

vpcd listens on TCP (127.0.0.1:35963 for reader "Virtual PCD 00 00"); a virtual card
"is inserted" by connecting to it and "removed" by closing the connection.
Every message either way is a 2-byte big-endian length and a payload. From vpcd, a
1-byte payload is a control code (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get
ATR, answered with the ATR); anything longer is a command APDU, answered with the
response APDU. Only ATR requests and APDUs get an answer.

Fault: `pull_mid_read(n, back_after_s=...)` takes the card away when its n-th APDU from
then on arrives (that APDU gets no answer, as when a citizen lifts the document off the
reader), and puts the same card back after `back_after_s` seconds if given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Protocol

from simulator.pcscd import vpcd_port

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963

CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04


class VirtualCard(Protocol):
    """What a slot serves. `process_apdu` may block: it runs in a worker thread."""

    def atr(self) -> bytes: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...
    def process_apdu(self, apdu: bytes) -> bytes: ...


class VirtualCardSlot:
    """One vpcd slot: `insert(card)` connects and serves it, `remove()` disconnects."""

    def __init__(self, host: str = VPCD_HOST, port: int | None = None) -> None:
        self.host = host
        self.port = vpcd_port() if port is None else port  # this machine's slot by default
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._card: VirtualCard | None = None
        self._pull_after: int | None = None
        self._back_after_s: float | None = None
        self._comeback: asyncio.Task[None] | None = None

    @property
    def inserted(self) -> bool:
        return self._task is not None and not self._task.done()

    async def insert(self, card: VirtualCard) -> None:
        """Connect to vpcd and serve `card` in a background task until `remove()`."""
        if self.inserted:
            raise RuntimeError("a card is already inserted in this slot")
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._card = card
        self._writer = writer
        self._task = asyncio.create_task(
            self._serve(reader, writer, card), name=f"vicc:{self.port}"
        )

    def pull_mid_read(self, after_apdus: int, *, back_after_s: float | None = None) -> None:
        """Fault: the card leaves on its `after_apdus`-th APDU from now, unanswered; it comes
        back after `back_after_s` seconds when given."""
        if after_apdus < 1:
            raise ValueError("after_apdus must be at least 1")
        self._pull_after = after_apdus
        self._back_after_s = back_after_s

    async def _come_back(self, card: VirtualCard, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self.inserted:
            await self.insert(card)

    async def remove(self) -> None:
        """Close the connection (pcscd sees the card leave). Safe to call repeatedly."""
        comeback, self._comeback = self._comeback, None
        self._pull_after = None
        if comeback is not None and comeback is not asyncio.current_task() and not comeback.done():
            comeback.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await comeback
        task, writer = self._task, self._writer
        self._task = self._writer = self._card = None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, card: VirtualCard
    ) -> None:
        sock = writer.get_extra_info("socket")
        try:
            while True:
                _ack_at_once(sock)
                header = await reader.readexactly(2)
                _ack_at_once(sock)
                payload = await reader.readexactly(int.from_bytes(header, "big"))
                if len(payload) > 1 and self._pull_after is not None:
                    self._pull_after -= 1
                    if self._pull_after <= 0:
                        self._pull_after = None
                        log.info("fault: card pulled mid-read on port %d", self.port)
                        if self._back_after_s is not None:
                            self._comeback = asyncio.create_task(
                                self._come_back(card, self._back_after_s)
                            )
                        return
                answer = await self._handle(card, payload)
                if answer is not None:
                    if len(answer) > 0xFFFF:  # vpcd's length prefix is 16 bits
                        log.warning("answer of %d bytes does not fit vpcd", len(answer))
                        answer = b"\x67\x00"
                    writer.write(len(answer).to_bytes(2, "big") + answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            log.info("vpcd closed the connection on port %d", self.port)
        finally:
            writer.close()

    @staticmethod
    async def _handle(card: VirtualCard, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == CTRL_ATR:
                return card.atr()
            if code == CTRL_ON:
                card.power_on()
            elif code == CTRL_OFF:
                card.power_off()
            elif code == CTRL_RESET:
                card.reset()
            else:
                log.warning("unknown vpcd control code 0x%02X", code)
            return None
        # APDU contents may carry personal data: log nothing of them here.
        return await asyncio.to_thread(card.process_apdu, payload)


def _ack_at_once(sock: socket.socket | None) -> None:
    """Acknowledge what vpcd sends at once instead of after the delayed-ACK timer.

    vpcd writes a message's length and its payload as two small writes; with Nagle on its side
    the payload waits for our ACK of the length, which Linux delays by about 40 ms. That cost
    every APDU ~50 ms on loopback, a simulator artifact no real reader has. TCP_QUICKACK is not
    sticky, so it is set again before each read. (Linux only; elsewhere it does nothing.)
    """
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
