"""The far side of a kiosk camera's wire: an MJPEG-over-HTTP server.

The kiosk captures a real camera with OpenCV; here the far side of that wire is an
HTTP server streaming ``multipart/x-mixed-replace`` JPEG parts, the format of most IP
cameras, which OpenCV's FFmpeg backend reads from a plain URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Protocol

import cv2
import numpy as np
from aiohttp import web

logger = logging.getLogger(__name__)

_BOUNDARY = "frame"


class FrameSource(Protocol):
    """Anything that can compose the next BGR frame of a simulated camera."""

    def next_frame(self) -> np.ndarray: ...


class CameraServer:
    """Serves one simulated camera as MJPEG over HTTP (``/stream.mjpg``, ``/snapshot.jpg``).

    Frames are composed and JPEG-encoded in a worker thread at ``fps`` only while
    someone is watching; every viewer gets the same latest frame.
    """

    def __init__(
        self,
        composer: FrameSource,
        host: str = "127.0.0.1",
        port: int = 0,
        fps: float = 15,
        jpeg_quality: int = 85,
    ) -> None:
        self.composer = composer
        self.host = host
        self.fps = fps
        self.jpeg_quality = jpeg_quality
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._producer: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[object]] = set()
        self._frame_ready: asyncio.Condition | None = None
        self._demand: asyncio.Event | None = None
        self._watchers = 0
        self._jpeg: bytes | None = None
        self._sequence = 0
        self._closing = False

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("camera server is not started")
        return self._port

    @property
    def url(self) -> str:
        """The MJPEG stream URL, as a kiosk's capture driver opens it."""
        return f"http://{self.host}:{self.port}/stream.mjpg"

    @property
    def snapshot_url(self) -> str:
        return f"http://{self.host}:{self.port}/snapshot.jpg"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream.mjpg", self._stream)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        self._closing = False
        self._frame_ready = asyncio.Condition()
        self._demand = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        # Plugged back in, the camera comes back at the same address, as a real one would.
        self._requested_port = self._port
        self._producer = asyncio.create_task(self._produce(), name=f"camera:{self._port}")
        logger.info("simulated camera serving", extra={"device": self.url})

    async def stop(self) -> None:
        """Stop serving; open streams are cut at once, as if the camera was unplugged."""
        if self._runner is None:
            return
        self._closing = True
        assert self._frame_ready is not None
        async with self._frame_ready:
            self._frame_ready.notify_all()
        # A handler may be stuck writing to a slow client; don't wait for it.
        for task in list(self._handlers):
            task.cancel()
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer
        await self._runner.cleanup()
        self._runner = None
        self._producer = None
        self._jpeg = None
        self._port = None

    @property
    def plugged(self) -> bool:
        return self._runner is not None

    async def unplug(self) -> None:
        """Pull the cable: open streams are cut and new connections refused."""
        await self.stop()

    async def plug(self) -> None:
        """Put it back: the camera serves again at the address it had."""
        if self._runner is None:
            await self.start()

    async def __aenter__(self) -> CameraServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _render(self) -> bytes:
        # Runs in a worker thread; only the producer calls it, so the composer is never
        # entered twice at once.
        frame = self.composer.next_frame()
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()

    async def _produce(self) -> None:
        assert self._demand is not None and self._frame_ready is not None
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        due = loop.time()
        while True:
            if not self._demand.is_set():
                await self._demand.wait()
                due = loop.time()
            try:
                jpeg = await asyncio.to_thread(self._render)
            except Exception:
                # A broken composer must not kill the camera silently with viewers hanging.
                logger.exception("simulated camera failed to render a frame")
                await asyncio.sleep(period)
                continue
            async with self._frame_ready:
                self._jpeg = jpeg
                self._sequence += 1
                self._frame_ready.notify_all()
            due += period
            delay = due - loop.time()
            if delay < 0:  # fell behind (slow machine): don't burst to catch up
                due, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    async def _next_jpeg(self, after: int) -> tuple[bytes, int] | None:
        """The first frame newer than sequence ``after``, or None when shutting down."""
        assert self._frame_ready is not None
        async with self._frame_ready:
            await self._frame_ready.wait_for(lambda: self._closing or self._sequence > after)
            if self._closing or self._jpeg is None:
                return None
            return self._jpeg, self._sequence

    @contextlib.contextmanager
    def _watching(self) -> Iterator[None]:
        assert self._demand is not None
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._watchers += 1
        self._demand.set()
        try:
            yield
        finally:
            self._watchers -= 1
            if self._watchers == 0:
                self._demand.clear()
            if task is not None:
                self._handlers.discard(task)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": f"multipart/x-mixed-replace; boundary={_BOUNDARY}",
                "Cache-Control": "no-cache, no-store, must-revalidate",
                "Pragma": "no-cache",
                "Connection": "close",
            }
        )
        await response.prepare(request)
        sequence = self._sequence
        with self._watching():
            while not self._closing:
                latest = await self._next_jpeg(sequence)
                if latest is None:
                    break
                jpeg, sequence = latest
                part = (
                    f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n"
                ).encode("ascii")
                try:
                    await response.write(part + jpeg + b"\r\n")
                except ConnectionResetError:
                    break  # the viewer hung up: the usual way a stream ends
        return response

    async def _snapshot(self, request: web.Request) -> web.Response:
        with self._watching():
            latest = await self._next_jpeg(self._sequence)
        if latest is None:
            raise web.HTTPServiceUnavailable(text="camera stopping")
        return web.Response(
            body=latest[0], content_type="image/jpeg", headers={"Cache-Control": "no-store"}
        )
