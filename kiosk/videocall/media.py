"""The call's media on the kiosk: its face camera, its screen and its microphone as aiortc tracks,
and the agent's video and voice taken in.

Frames come from threads (the camera's device worker) or the UI (the screen share) into a
LatestFrame: only the newest waits, so a slow encoder drops frames instead of queueing them and
the loop never waits for a frame. aiortc encodes and decodes on its own worker threads; on the
loop there is only packetising and a copy per frame (bench.videocall measures the loop's share).
Face frames stay in memory: nothing here writes a frame anywhere.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError
from av import AudioFrame, VideoFrame

from kiosk.videocall.quality import LevelSettings

log = logging.getLogger(__name__)
VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


class LatestFrame:
    """The newest frames from a producer (at most `depth`); a consumer on the loop awaits the
    oldest kept one newer than its last. Depth 1: only the newest. Depth 2 rides out an encoder
    that was late once, at the cost of one frame's delay only while it catches up."""

    def __init__(self, depth: int = 1) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames: deque[tuple[int, np.ndarray, float]] = deque(maxlen=depth)
        self._incoming: np.ndarray | None = None
        self._seq = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._pending = False
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def count(self) -> int:
        """Frames put so far."""
        return self._seq

    def put_threadsafe(self, frame: np.ndarray) -> None:
        """From a producer thread: at most one hand-over waits on the loop at a time."""
        loop = self._loop
        self._incoming = frame
        if loop is None or self.closed or self._pending:
            return
        self._pending = True
        try:
            loop.call_soon_threadsafe(self._take_incoming)
        except RuntimeError:  # the loop has closed: the call is over
            pass

    def _take_incoming(self) -> None:
        self._pending = False
        if self._incoming is not None:
            self.put(self._incoming)

    def put(self, frame: np.ndarray) -> None:
        """On the loop."""
        self._seq += 1
        self._frames.append((self._seq, frame, time.monotonic()))
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def close(self) -> None:
        """On the loop: consumers get MediaStreamError."""
        self.closed = True
        self._wake()

    async def next(self, after: int) -> tuple[np.ndarray, int, float]:
        """The oldest kept frame newer than sequence `after`, its sequence number and when it
        arrived; MediaStreamError once closed."""
        while not self.closed and self._seq <= after:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            await waiter
        if self.closed:
            raise MediaStreamError
        return next((f, s, t) for s, f, t in self._frames if s > after)


class SlotVideoTrack(MediaStreamTrack):
    """Video from a LatestFrame, shaped by the call's quality level (size, rate, or nothing).

    `settings(level)` says what to send; at AUDIO_ONLY the track sends nothing and waits."""

    kind = "video"

    def __init__(self, slot: LatestFrame, settings: Callable[[], LevelSettings],
                 colour: str = "bgr24", mirror: bool = False) -> None:
        super().__init__()
        self.slot = slot
        self.settings = settings
        self.colour = colour
        self.mirror = mirror
        self._seq = 0
        self._start = time.monotonic()
        self._last_sent = time.monotonic()
        self._credit = 1.0
        self.sent = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            frame, self._seq, arrived = await self.slot.next(self._seq)
            wanted = self.settings()
            if wanted.fps <= 0:
                continue  # audio only: frames are dropped until the link improves
            # Credit for `fps` frames a second of the source's time: a faster source is thinned
            # evenly; one at or below the rate loses nothing to its jitter or to a late encoder.
            self._credit = min(1.5, self._credit + (arrived - self._last_sent) * wanted.fps)
            self._last_sent = arrived
            if self._credit >= 1.0:
                self._credit -= 1.0
                break
        out = _shaped(frame, wanted.width, wanted.height)
        video = VideoFrame.from_ndarray(out, format=self.colour)
        video.pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
        video.time_base = VIDEO_TIME_BASE
        self.sent += 1
        return video


def _shaped(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scaled down to fit width x height (never up), keeping its proportions; even sizes for
    the encoder's 4:2:0."""
    h, w = frame.shape[:2]
    scale = min(1.0, width / w, height / h)
    if scale >= 1.0 and w % 2 == 0 and h % 2 == 0:
        return frame
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class ToneTrack(MediaStreamTrack):
    """A quiet 440 Hz tone, 20 ms a frame: the simulator's microphone, which has none of its
    own (a real kiosk configures an ALSA device). `volume` 0 gives silence."""

    kind = "audio"

    def __init__(self, volume: float = 0.05, rate: int = 48_000) -> None:
        super().__init__()
        self.volume = volume
        self.rate = rate
        self._samples = int(rate * AUDIO_PTIME)
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            due = self._start + self._pts / self.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(self._samples) + self._pts) / self.rate
        wave = (self.volume * 32767 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self._pts += self._samples
        return frame


# Any: aiortc's MediaPlayer (an untyped library), or None.
def microphone(spec: str) -> tuple[MediaStreamTrack, Any]:
    """The configured microphone: "tone", "silence", or "alsa:DEVICE" (a real kiosk's).
    Returns the track and what must be stopped with it (a MediaPlayer, or None)."""
    if spec.startswith("alsa:"):
        from aiortc.contrib.media import MediaPlayer

        player = MediaPlayer(spec.removeprefix("alsa:"), format="alsa",
                             options={"channels": "1", "sample_rate": "48000"})
        assert player.audio is not None
        return player.audio, player
    return ToneTrack(volume=0.0 if spec == "silence" else 0.05), None


class RemoteMedia:
    """Takes in the agent's tracks: counts what arrives (the test and bench read it), hands the
    newest video frame to `on_video` as RGB, and plays the voice on the configured speaker."""

    def __init__(self, on_video: Callable[[np.ndarray], None], speaker: str = "",
                 display_fps: float = 15.0) -> None:
        self.on_video = on_video
        self.speaker = speaker
        # Each frame shown redraws the kiosk's window on the loop: at most this many a second.
        self.display_period = 1.0 / display_fps if display_fps > 0 else float("inf")
        self._shown_at = 0.0
        self.video_frames = 0
        self.audio_frames = 0
        self.first_frame_at: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._recorder: Any = None  # Any: aiortc's MediaRecorder (an untyped library)

    def take(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.get_running_loop().create_task(self._video(track)))
        elif self.speaker.startswith("alsa:"):
            from aiortc.contrib.media import MediaRecorder

            self._recorder = MediaRecorder(self.speaker.removeprefix("alsa:"), format="alsa")
            self._recorder.addTrack(track)
            self._tasks.append(asyncio.get_running_loop().create_task(self._recorder.start()))
        else:
            self._tasks.append(asyncio.get_running_loop().create_task(self._audio(track)))

    async def _video(self, track: MediaStreamTrack) -> None:
        converting = False

        def shown(done: asyncio.Future[np.ndarray]) -> None:
            nonlocal converting
            converting = False
            if not done.cancelled() and done.exception() is None:
                self.on_video(done.result())

        try:
            while True:
                frame = await track.recv()
                self.video_frames += 1
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                now = time.monotonic()
                if not converting and now - self._shown_at >= self.display_period:
                    # YUV -> RGB off the loop; a frame arriving meanwhile is only counted.
                    converting = True
                    self._shown_at = now
                    # union-attr: aiortc types recv() as any frame; a video track's is a VideoFrame.
                    task = asyncio.ensure_future(
                        asyncio.to_thread(frame.to_ndarray, format="rgb24"))  # type: ignore[union-attr]
                    task.add_done_callback(shown)
        except MediaStreamError:
            pass

    async def _audio(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.audio_frames += 1
        except MediaStreamError:
            pass

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - a closing call's tracks
                pass
        if self._recorder is not None:
            await self._recorder.stop()
