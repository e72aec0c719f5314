"""Simulated kiosk cameras: a scene composer and an MJPEG-over-HTTP server.

The kiosk captures a real camera with OpenCV; here the far side of that wire is an
HTTP server streaming ``multipart/x-mixed-replace`` JPEG parts, the format of most IP
cameras, which OpenCV's FFmpeg backend reads from a plain URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import Iterator
from typing import Protocol

import cv2
import numpy as np
from aiohttp import web

logger = logging.getLogger(__name__)

# Where the astronaut's face sits in skimage.data.astronaut() (512x512), as OpenCV's
# frontal-face Haar cascade boxes it: x, y, w, h.
_ASTRONAUT_FACE = (177, 67, 93, 93)
# Head-and-shoulders crop of the astronaut photo: x0, y0, x1, y1.
_ASTRONAUT_CROP = (20, 8, 430, 512)

_BOUNDARY = "frame"


class FrameSource(Protocol):
    """Anything that can compose the next BGR frame of a simulated camera."""

    def next_frame(self) -> np.ndarray: ...


@functools.cache
def _astronaut_bust() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head and shoulders (BGR) and a soft silhouette mask (float 0..1).

    Loaded once per process: skimage reads and decodes the bundled PNG on every call.
    """
    from skimage import data  # scikit-image is a simulator-only dependency

    rgb = data.astronaut()
    x0, y0, x1, y1 = _ASTRONAUT_CROP
    bust = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])  # RGB -> BGR

    # Silhouette in the photo's coordinates: head with hair, the suit's neck ring and
    # the torso down to the bottom edge; the photo's flag, shuttle and sky stay out.
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.ellipse(mask, (226, 86), (74, 72), 0, 0, 360, 255, -1)  # hair
    cv2.ellipse(mask, (224, 118), (52, 52), 0, 0, 360, 255, -1)  # face and jaw
    # fmt: off
    silhouette = np.array(
        [(40, 512), (42, 330), (70, 280), (112, 245), (118, 195), (135, 176), (190, 158),
         (262, 158), (300, 172), (306, 195), (302, 250), (332, 270), (358, 325), (366, 512)],
        np.int32,
    )
    # fmt: on
    cv2.fillPoly(mask, [silhouette], 255)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)
    alpha = np.ascontiguousarray(mask[y0:y1, x0:x1]).astype(np.float32) / 255.0
    bust.setflags(write=False)
    alpha.setflags(write=False)
    return bust, alpha


def _service_hall(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A defocused service hall behind the kiosk: wall, lights, signs, counter, floor."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    wall_top = np.array([214, 222, 226], np.float32)  # BGR: cool white under ceiling lights
    wall_bottom = np.array([150, 165, 178], np.float32)  # warm grey lower wall
    img = wall_top * (1 - ys) + wall_bottom * ys
    img = img * (1.0 - 0.12 * (xs - 0.5) ** 2 * 4)  # vignetting towards the sides
    img = np.broadcast_to(img, (height, width, 3)).copy()

    def box(x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int]) -> None:
        top_left = (int(x0 * width), int(y0 * height))
        bottom_right = (int(x1 * width), int(y1 * height))
        cv2.rectangle(img, top_left, bottom_right, colour, -1)

    for cx in (0.15, 0.5, 0.85):  # ceiling light strips
        box(cx - 0.09, 0.0, cx + 0.09, 0.025, (250, 252, 252))
    box(0.0, 0.0, 0.06, 1.0, (170, 178, 184))  # pillars
    box(0.94, 0.0, 1.0, 1.0, (170, 178, 184))
    box(0.08, 0.08, 0.36, 0.2, (140, 80, 30))  # blue hall sign with "text"
    for i in range(5):
        box(0.1 + i * 0.05, 0.12, 0.13 + i * 0.05, 0.16, (235, 235, 235))
    box(0.66, 0.07, 0.9, 0.22, (40, 35, 35))  # queue display with red "digits"
    for i in range(4):
        box(0.68 + i * 0.055, 0.1, 0.72 + i * 0.055, 0.19, (40, 40, 210))
    box(0.0, 0.62, 1.0, 0.78, (120, 130, 140))  # service counter with a green stripe
    box(0.0, 0.62, 1.0, 0.64, (90, 150, 60))
    box(0.0, 0.78, 1.0, 1.0, (110, 112, 116))  # floor
    for i in range(7):  # waiting chairs along the counter
        x = 0.04 + i * 0.14 + rng.uniform(-0.01, 0.01)
        box(x, 0.7, x + 0.08, 0.76, (150, 110, 60))
    # The far side of the hall is out of the camera's depth of field.
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, width / 320))
    return np.clip(img, 0, 255).astype(np.uint8)


class SceneComposer:
    """Composes what a kiosk's face camera sees: the hall, and a citizen when present.

    ``face_scale`` is the height of the face (as a frontal-face detector boxes it) as a
    fraction of the frame height. Frames are BGR uint8 with mild sensor noise, a slight
    flicker and a slow sway of the person, so consecutive frames differ like a live
    camera's.
    """

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0) -> None:
        self.width = width
        self.height = height
        self.face_visible = False
        self.face_scale = 0.25
        self._rng = np.random.default_rng(seed)
        self._background = _service_hall(width, height, self._rng)
        self._noise = self._make_noise_bank()
        self._frame_index = 0
        self._sprite_cache: tuple[float, np.ndarray, np.ndarray] | None = None

    def next_frame(self) -> np.ndarray:
        """The next frame of the scene (advances time by one frame)."""
        t = self._frame_index
        self._frame_index += 1
        # Lights flicker a little and the auto-exposure hunts: about +-1.5% brightness.
        gain = 1.0 + 0.015 * math.sin(t * 0.9) + self._rng.normal(0.0, 0.003)
        frame = cv2.convertScaleAbs(self._background, alpha=gain)
        if self.face_visible:
            self._composite_person(frame, t)
        # Sensor noise comes from a bank drawn at start-up: fresh Gaussian noise for a
        # whole frame costs more than composing it. Saturating add/subtract, no wrap.
        brighter, darker = self._noise[int(self._rng.integers(len(self._noise)))]
        cv2.add(frame, brighter, dst=frame)
        cv2.subtract(frame, darker, dst=frame)
        return frame

    def _make_noise_bank(
        self, count: int = 12, sigma: float = 2.5
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        bank = []
        shape = (self.height, self.width)
        for _ in range(count):
            noise = np.rint(self._rng.normal(0.0, sigma, shape)).astype(np.int16)
            noise = np.repeat(noise[:, :, None], 3, axis=2)  # luminance noise
            bank.append(
                (np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8))
            )
        return bank

    def _person_sprite(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The bust scaled to ``face_scale``: (scale factor, BGR sprite, alpha)."""
        scale = float(self.face_scale)
        if self._sprite_cache is None or self._sprite_cache[0] != scale:
            bust, alpha = _astronaut_bust()
            factor = scale * self.height / _ASTRONAUT_FACE[3]
            size = (max(1, round(bust.shape[1] * factor)), max(1, round(bust.shape[0] * factor)))
            interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
            sprite = cv2.resize(bust, size, interpolation=interp)
            sprite_alpha = cv2.resize(alpha, size, interpolation=interp)
            self._sprite_cache = (scale, sprite, sprite_alpha)
        scale, sprite, sprite_alpha = self._sprite_cache
        return scale * self.height / _ASTRONAUT_FACE[3], sprite, sprite_alpha

    def _composite_person(self, frame: np.ndarray, t: int) -> None:
        factor, sprite, alpha = self._person_sprite()
        fx, fy, fw, fh = _ASTRONAUT_FACE
        face_cx = (fx + fw / 2 - _ASTRONAUT_CROP[0]) * factor
        face_cy = (fy + fh / 2 - _ASTRONAUT_CROP[1]) * factor
        # A person standing still still sways: a pixel or two, slowly.
        sway_x = round(1.5 * math.sin(t * 0.37))
        sway_y = round(1.0 * math.sin(t * 0.23 + 1.0))
        # Face centred horizontally, slightly above the middle, as a kiosk camera frames it.
        left = round(self.width / 2 - face_cx) + sway_x
        top = round(self.height * 0.45 - face_cy) + sway_y

        x0, y0 = max(left, 0), max(top, 0)
        x1 = min(left + sprite.shape[1], self.width)
        y1 = min(top + sprite.shape[0], self.height)
        if x0 >= x1 or y0 >= y1:
            return
        src = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        weights = np.ascontiguousarray(alpha[src])
        frame[y0:y1, x0:x1] = cv2.blendLinear(
            np.ascontiguousarray(sprite[src]),
            np.ascontiguousarray(frame[y0:y1, x0:x1]),
            weights,
            1.0 - weights,
        )


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
                await response.write(part + jpeg + b"\r\n")
        return response

    async def _snapshot(self, request: web.Request) -> web.Response:
        with self._watching():
            latest = await self._next_jpeg(self._sequence)
        if latest is None:
            raise web.HTTPServiceUnavailable(text="camera stopping")
        return web.Response(
            body=latest[0], content_type="image/jpeg", headers={"Cache-Control": "no-store"}
        )


__all__ = ["CameraServer", "FrameSource", "SceneComposer"]
