"""A poor link of our own in front of any backend: real TCP sockets with set bandwidth, latency,
loss and outages, the way a village service point's line behaves.

The kiosk connects to the link's port; the link connects to the real backend and carries the
bytes both ways. Each direction is one shared wire: a segment occupies it for its size over the
bandwidth (so parallel connections share the line, as they do on a real one), then arrives one
latency later. A lost segment is what TCP makes of a loss: it arrives after a retransmission
time-out instead (Linux's minimum RTO is 200 ms), in order. An outage cuts every connection
with a reset and refuses new ones the same way, until the link is up again (by command, or by
itself after `down_for_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields

from aiohttp import web

log = logging.getLogger(__name__)

SEGMENT = 1460  # bytes read at a time: one Ethernet MSS, so shaping is as fine as a real line's
MIN_RTO_S = 0.2  # Linux's TCP_RTO_MIN: the shortest a lost segment is late by
BUFFERED_S = 2.0  # how far ahead of the wire a connection may read before it waits


@dataclass
class LinkShape:
    """What the link does to the bytes; every field may be changed while it carries traffic."""

    bandwidth_bps: int = 0  # bits per second each way; 0 = not limited
    latency_s: float = 0.0  # one way
    loss: float = 0.0  # chance that a segment is lost (and resent after a time-out)
    down: bool = False

    def update(self, changes: dict) -> None:
        """Applies the named fields of `changes` (ValueError on an unknown one or a bad value)."""
        known = {f.name: f.type for f in fields(self)}
        unknown = set(changes) - set(known) - {"down_for_s"}
        if unknown:
            raise ValueError(f"unknown link setting {sorted(unknown)[0]!r}")
        updated = LinkShape(**asdict(self))
        for name in known:
            if name in changes:
                value = changes[name]
                setattr(updated, name, bool(value) if name == "down" else
                        type(getattr(self, name))(value))
        if updated.bandwidth_bps < 0 or updated.latency_s < 0 or not 0 <= updated.loss < 1:
            raise ValueError("bandwidth and latency must be >= 0, loss in [0, 1)")
        for name in known:
            setattr(self, name, getattr(updated, name))


@dataclass
class LinkCounters:
    """What crossed the link, for tests and benchmarks that ask whether traffic fits it."""

    bytes_up: int = 0  # kiosk -> backend
    bytes_down: int = 0  # backend -> kiosk
    connections: int = 0
    refused: int = 0  # connections reset because the link was down
    cut: int = 0  # live connections reset by an outage
    segments_lost: int = 0


@dataclass
class _Wire:
    """One direction of the line: when it is free to carry the next segment."""

    free_at: float = 0.0


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): what a dropped line or a refusing peer looks like."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class ThrottledLink:
    """A TCP proxy to `upstream_host:upstream_port` shaped by `shape`; `start()` gives its port."""

    upstream_host: str
    upstream_port: int
    shape: LinkShape = field(default_factory=LinkShape)
    seed: int = 14
    counters: LinkCounters = field(default_factory=LinkCounters)

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._up, self._down = _Wire(), _Wire()
        self._random = random.Random(self.seed)
        self._live: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._back_up: asyncio.TimerHandle | None = None
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._back_up is not None:
            self._back_up.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._cut_all()  # every connection ends on its own once its sockets are reset
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def as_json(self) -> dict:
        return {**asdict(self.shape), "port": self.port, "counters": asdict(self.counters)}

    def configure(self, changes: dict) -> dict:
        """Changes the shape; `down_for_s` takes the link down and brings it back by itself."""
        self.shape.update(changes)
        if "down" in changes or "down_for_s" in changes:
            if self._back_up is not None:
                self._back_up.cancel()
                self._back_up = None
        down_for = float(changes.get("down_for_s", 0) or 0)
        if down_for > 0:
            self.shape.down = True
            self._back_up = asyncio.get_running_loop().call_later(down_for, self._come_back)
        if self.shape.down:
            self._cut_all()
        return self.as_json()

    def _come_back(self) -> None:
        self._back_up = None
        self.shape.down = False
        log.info("link to %s:%d is back", self.upstream_host, self.upstream_port)

    def _cut_all(self) -> None:
        self.counters.cut += len(self._live)
        for writer in list(self._live):
            _reset(writer)
        self._live.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.shape.down:
            self.counters.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port)
        except OSError:
            _reset(writer)
            return
        self.counters.connections += 1
        self._live.update((writer, up_writer))
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(self._carry(reader, up_writer, self._up, "bytes_up"),
                                 self._carry(up_reader, writer, self._down, "bytes_down"))
        finally:
            self._tasks.discard(task)
            for end in (writer, up_writer):
                self._live.discard(end)
                end.close()

    def _schedule(self, wire: _Wire, size: int) -> float:
        """When a segment of `size` bytes, sent now, arrives at the far end."""
        now = time.monotonic()
        shape = self.shape
        start = max(now, wire.free_at)
        wire.free_at = start + (size * 8 / shape.bandwidth_bps if shape.bandwidth_bps else 0.0)
        arrives = wire.free_at + shape.latency_s
        if shape.loss and self._random.random() < shape.loss:
            self.counters.segments_lost += 1
            arrives += max(MIN_RTO_S, 2 * shape.latency_s)
        return arrives

    async def _carry(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                     wire: _Wire, counter: str) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        done = asyncio.Event()

        async def deliver() -> None:
            last = 0.0
            while not (done.is_set() and queue.empty()):
                try:
                    arrives, data = await asyncio.wait_for(queue.get(), 0.5)
                except TimeoutError:
                    continue
                last = max(last, arrives)  # a late segment holds back the ones after it
                await asyncio.sleep(max(0.0, last - time.monotonic()))
                if sink.is_closing():
                    return
                sink.write(data)
                await sink.drain()
            if not sink.is_closing() and sink.can_write_eof():
                sink.write_eof()

        delivery = asyncio.create_task(deliver())
        try:
            while True:
                data = await source.read(SEGMENT)
                if not data:
                    break
                setattr(self.counters, counter, getattr(self.counters, counter) + len(data))
                arrives = self._schedule(wire, len(data))
                queue.put_nowait((arrives, data))
                # Read no further ahead than the line could carry soon: backpressure.
                while wire.free_at - time.monotonic() > BUFFERED_S and not sink.is_closing():
                    await asyncio.sleep(0.05)
        except (ConnectionError, OSError):
            pass
        finally:
            done.set()
        with contextlib.suppress(ConnectionError, OSError):
            await delivery


BACKEND_URL_KEYS = ("payment_url", "catalog_url", "exit_entry_url", "utility_url",
                    "certificates_url", "queue_url", "progress_url", "documents_url",
                    "evaluation_url", "fines_url")


def behind_link(endpoints: dict, link_url: str, names: tuple[str, ...] = BACKEND_URL_KEYS) -> dict:
    """The simulator's endpoints with the named backends reached through a link instead."""
    direct = endpoints["backends_url"]
    moved = dict(endpoints)
    for name in names:
        if name in moved and moved[name].startswith(direct):
            moved[name] = link_url + moved[name][len(direct):]
    return moved


def add_link_routes(routes: web.RouteTableDef, links: dict[str, ThrottledLink],
                    add_link: Callable[[str, str, int], Awaitable[ThrottledLink]]) -> None:
    """The control API's links: `GET /links`, `GET`/`PUT /links/{name}` (a LinkShape's fields,
    `down_for_s` too), `POST /links {"name", "upstream": "host:port"}` for a new one."""

    @routes.get("/links")
    async def all_links(request: web.Request) -> web.Response:
        return web.json_response({name: link.as_json() for name, link in links.items()})

    @routes.get("/links/{name}")
    async def one_link(request: web.Request) -> web.Response:
        link = links.get(request.match_info["name"])
        if link is None:
            return web.json_response({"error": "UNKNOWN_LINK", "accepted": sorted(links),
                                      "message": "no such link"}, status=404)
        return web.json_response(link.as_json())

    @routes.put("/links/{name}")
    async def shape_link(request: web.Request) -> web.Response:
        link = links.get(request.match_info["name"])
        if link is None:
            return web.json_response({"error": "UNKNOWN_LINK", "accepted": sorted(links),
                                      "message": "no such link"}, status=404)
        try:
            return web.json_response(link.configure(await request.json()))
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": "BAD_SETTING", "message": str(exc)}, status=400)

    @routes.post("/links")
    async def new_link(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            host, port = str(body["upstream"]).rsplit(":", 1)
            link = await add_link(str(body["name"]), host, int(port))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": "BAD_LINK", "message": str(exc)}, status=400)
        return web.json_response(link.as_json())
