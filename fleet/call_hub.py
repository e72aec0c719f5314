"""Where the two ends of a call meet when several server processes serve them.

Every message for an end is a row (fleet.call_store); the process holding that end's WebSocket
reads it. On PostgreSQL a NOTIFY on one channel wakes every process at once (each LISTENs on its
own connection: the payload is only "<call id>:<side>" or "calls", so the 8 kB NOTIFY limit never
meets an SDP); on SQLite, which one process serves, the wake-up is a direct call. A poll every
`poll_s` catches any wake-up lost while a LISTEN connection was being re-made. So a kiosk and
an agent need no sticky routing: HAProxy may send their WebSockets to any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from fleet.call_config import CallConfig
from fleet.call_store import CallStore, Side
from wire.videocall import CallMessage, EndReason, MessageType

log = logging.getLogger(__name__)
CHANNEL = "kiosk_calls"
CALLS_CHANGED = "calls"


class CallEnd:
    """One end of one call whose WebSocket this process holds."""

    def __init__(self, call_id: str, side: Side, ws: web.WebSocketResponse,
                 after: int = 0) -> None:
        self.call_id = call_id
        self.side = side
        self.ws = ws
        self.last_seq = after
        self.lock = asyncio.Lock()


class CallHub:
    """This process's call ends and agents' sockets, and the wake-ups between processes."""

    def __init__(self, store: CallStore, config: CallConfig, poll_s: float = 1.0,
                 on_ended: Callable[[str, EndReason], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.config = config
        self.poll_s = poll_s
        self._ends: dict[tuple[str, Side], CallEnd] = {}
        self.agents: set[web.WebSocketResponse] = set()
        self._listener: Any = None  # Any: an asyncpg connection (untyped library)
        self._tasks: list[asyncio.Task[None]] = []
        # Told once of every call this process ended (the audit log).
        self.on_ended = on_ended

    @property
    def _postgres(self) -> bool:
        return self.store.db.dialect == "postgresql"

    async def start(self) -> None:
        await self._listen()
        self._tasks = [asyncio.create_task(self._poll(), name="call-hub-poll")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def _listen(self) -> None:
        if not self._postgres:
            return
        import asyncpg

        try:
            conn = await asyncpg.connect(self.store.db.dsn)  # type: ignore[attr-defined]
            await conn.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("call relay: LISTEN failed (%s); polling until it works", exc)
            return
        self._listener = conn

    # Any: asyncpg's listener callback signature (untyped library).
    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        asyncio.get_running_loop().create_task(self._woken(payload))

    async def _woken(self, payload: str) -> None:
        if payload == CALLS_CHANGED:
            await self.send_calls()
            return
        call_id, _, side = payload.partition(":")
        end = self._ends.get((call_id, Side(side)))
        if end is not None:
            await self.deliver(end)

    async def _wake(self, payload: str) -> None:
        if self._postgres:
            await self.store.db.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        else:
            await self._woken(payload)

    # -- ends and messages -------------------------------------------------------------------------

    async def attach(self, end: CallEnd) -> None:
        self._ends[(end.call_id, end.side)] = end
        await self.deliver(end)

    def detach(self, end: CallEnd) -> None:
        if self._ends.get((end.call_id, end.side)) is end:
            del self._ends[(end.call_id, end.side)]

    async def post(self, call_id: str, side: Side, message: CallMessage) -> None:
        """Queues `message` for the `side` end of the call, wherever it is held, and wakes it."""
        await self.store.push(call_id, side, message.dumps(), time.time())
        await self._wake(f"{call_id}:{side.value}")

    async def deliver(self, end: CallEnd) -> None:
        """Sends the end what is queued for it, in order, each once."""
        async with end.lock:
            for seq, body in await self.store.pending(end.call_id, end.side, end.last_seq):
                if end.ws.closed:
                    return
                try:
                    # The relay's number rides along, so an end that comes back asks for the rest.
                    await end.ws.send_str(json.dumps({**json.loads(body), "seq": seq},
                                                     ensure_ascii=False))
                except (ConnectionError, RuntimeError):
                    return  # the socket is going; the end resumes from its last seq
                end.last_seq = seq

    async def end_call(self, call_id: str, reason: EndReason) -> bool:
        """Ends the call once and tells both ends (whichever process holds them)."""
        if not await self.store.end(call_id, reason, time.time()):
            return False
        hangup = CallMessage(MessageType.HANGUP, call_id, reason=reason.value)
        await self.post(call_id, Side.KIOSK, hangup)
        await self.post(call_id, Side.AGENT, hangup)
        await self.calls_changed()
        if self.on_ended is not None:
            await self.on_ended(call_id, reason)
        return True

    # -- the agents' list of ringing calls ---------------------------------------------------------

    async def calls_changed(self) -> None:
        await self._wake(CALLS_CHANGED)

    async def send_calls(self, only: web.WebSocketResponse | None = None) -> None:
        listing = tuple(c.listing() for c in await self.store.ringing())
        body = CallMessage(MessageType.CALLS, calls=listing).dumps()
        for ws in [only] if only is not None else list(self.agents):
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(body)

    # -- the poll: lost wake-ups, overdue calls, old messages --------------------------------------

    async def _poll(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                if self._postgres and (self._listener is None or self._listener.is_closed()):
                    await self._listen()
                for end in list(self._ends.values()):
                    await self.deliver(end)
                now = time.time()
                cfg = self.config
                for call_id, reason in await self.store.overdue(now, cfg.ring_timeout_s,
                                                                cfg.grace_s):
                    await self.end_call(call_id, reason)
                if now - last_prune > 60:
                    last_prune = now
                    await self.store.prune(now - cfg.keep_signals_s)
            except Exception:  # a failed round must not end the relay; the next one retries
                log.exception("call relay poll failed")
