"""The face camera service: mirrored previews with one instruction, and an automatic capture
once every quality gate has held for a moment."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from drivers.camera import CameraError, VideoSource
from drivers.face_detection import crop_face, encode_jpeg, to_grey
from drivers.face_quality import FaceHint, FaceQualityGate
from drivers.liveness import LivenessEvidence, LivenessObserver
from peripherals.camera_base import CameraService
from peripherals.errors import DeviceError, DeviceReason

DEVICE = "face_camera"

PreviewCallback = Callable[[np.ndarray, FaceHint], None]
FrameTap = Callable[[np.ndarray], None]  # a raw BGR frame, on the device's thread


@dataclass(frozen=True)
class CapturedFace:
    """The captured face for the backend: a JPEG crop (memory only), liveness evidence and
    the quality figures of the captured frame. The repr never shows the image."""

    jpeg: bytes = field(repr=False)
    frames_seen: int
    liveness: LivenessEvidence
    quality: Mapping[str, float]

    def __repr__(self) -> str:
        return (
            f"CapturedFace(jpeg=<{len(self.jpeg)} bytes>, frames_seen={self.frames_seen}, "
            f"liveness={self.liveness!r})"
        )


class FaceCameraService(CameraService):
    """Frames are grabbed and judged on the device's thread; previews are handed to the loop.

    Only the newest preview waits for the loop: if the screen falls behind, older previews
    are dropped rather than queued, so the UI never waits for frames nor frames for the UI.
    """

    def __init__(self, url: str, preview_width: int = 480, *, name: str = DEVICE,
                 probe_every_s: float = 10.0) -> None:
        super().__init__(name, url, probe_every_s)
        self.preview_width = preview_width
        self._gate: FaceQualityGate | None = None
        # Consumers of every raw frame (a video call): fed by whichever loop holds the camera.
        self._taps: list[FrameTap] = []
        self._capture_wanted = threading.Event()

    def _capture(
        self,
        stop: threading.Event,
        stable_frames: int,
        timeout: float,
        deliver: Callable[[np.ndarray, FaceHint], None],
    ) -> CapturedFace:
        if self._gate is None:
            self._gate = FaceQualityGate()  # created on the device thread that uses it
        gate = self._gate
        gate.reset()
        liveness = LivenessObserver()
        deadline = time.monotonic() + timeout
        streak = frames = 0
        try:
            with VideoSource(self.url) as source:
                while not stop.is_set():
                    if time.monotonic() > deadline:
                        raise DeviceError(DEVICE, DeviceReason.TIMEOUT)
                    frame = source.read()
                    frames += 1
                    self._feed_taps(frame)
                    # The frame that would complete the streak is checked with a full search,
                    # so nobody who stepped in since the last one is captured with them.
                    assessment = gate.assess(frame, full_scan=streak + 1 >= stable_frames)
                    face = assessment.face
                    if face is not None and assessment.faces == 1:
                        liveness.observe(
                            to_grey(frame),
                            (face.x, face.y, face.w, face.h),
                            len(assessment.eyes) == 2,
                            time.monotonic(),
                        )
                    elif assessment.faces == 0:
                        liveness.lost_face()
                    streak = streak + 1 if assessment.ok else 0
                    deliver(self._preview(frame), assessment.hint)
                    if streak >= stable_frames and face is not None:
                        jpeg = encode_jpeg(crop_face(frame, face))
                        quality = {k: round(float(v), 4) for k, v in assessment.metrics.items()}
                        return CapturedFace(jpeg, frames, liveness.evidence(), quality)
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc
        raise asyncio.CancelledError()

    # -- sharing the camera with a video call ----------------------------------------------------
    #
    # One capture per device: a call does not open the camera beside the face step. While a call
    # streams, its loop holds the device thread; a face capture asks for the thread, the stream
    # lets go at its next frame, and the capture's own loop feeds the call meanwhile. The call
    # sees one re-open of the stream (a few frames); the face step never waits for the call.

    def _feed_taps(self, frame: np.ndarray) -> None:
        for tap in list(self._taps):
            tap(frame)

    def _stream_frames(self, stop: threading.Event) -> None:
        if self._capture_wanted.is_set():
            time.sleep(0.01)  # a capture is queued behind us: let it have the thread
            return
        try:
            with VideoSource(self.url) as source:
                while not stop.is_set() and not self._capture_wanted.is_set():
                    self._feed_taps(source.read())
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc

    async def stream(self, tap: FrameTap, stop: threading.Event) -> None:
        """Hands every raw BGR frame to `tap` (on the device's thread) until `stop` is set,
        sharing the capture with `capture()`. Raises DeviceError(CAMERA_UNAVAILABLE)."""
        self._taps.append(tap)
        try:
            while not stop.is_set():
                await self._worker.call(self._stream_frames, stop)
        finally:
            self._taps.remove(tap)

    def _preview(self, frame_bgr: np.ndarray) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(
            frame_bgr,
            (self.preview_width, h * self.preview_width // w),
            interpolation=cv2.INTER_AREA,
        )
        # Mirrored, as citizens expect to see themselves; RGB for the screen's texture.
        return cv2.cvtColor(cv2.flip(small, 1), cv2.COLOR_BGR2RGB)

    async def capture(
        self, on_preview: PreviewCallback, stable_frames: int = 5, timeout: float = 60.0
    ) -> CapturedFace:
        """Streams (mirrored RGB preview, hint) to `on_preview` on the loop until every gate
        held OK for `stable_frames` consecutive frames, then returns the capture.

        Raises DeviceError(TIMEOUT) when no good face came in time, and
        DeviceError(CAMERA_UNAVAILABLE) when the camera fails.
        """
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        latest: list[tuple[np.ndarray, FaceHint]] = []
        lock = threading.Lock()

        def hand_over() -> None:
            with lock:
                if not latest:
                    return
                preview, hint = latest.pop()
            if not stop.is_set():
                on_preview(preview, hint)

        def deliver(preview: np.ndarray, hint: FaceHint) -> None:
            with lock:
                pending = bool(latest)
                latest[:] = [(preview, hint)]
            if not pending:
                loop.call_soon_threadsafe(hand_over)

        # A call's stream holding the device thread lets go for this capture (see stream()).
        self._capture_wanted.set()
        try:
            return await self._worker.call(self._capture_unshared, stop, stable_frames, timeout,
                                           deliver)
        finally:
            stop.set()

    def _capture_unshared(self, *args: object) -> CapturedFace:
        self._capture_wanted.clear()  # on the device thread: the stream has let go
        return self._capture(*args)  # type: ignore[arg-type]
