"""The face camera service: live preview frames and an automatic capture once one face holds still."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.camera import CameraError, VideoSource
from drivers.face_detection import FaceDetector, crop_face, encode_jpeg
from peripherals.errors import DeviceError, DeviceReason
from peripherals.worker import DeviceWorker

DEVICE = "face_camera"

PreviewCallback = Callable[[np.ndarray, int], None]


@dataclass(frozen=True)
class CapturedFace:
    jpeg: bytes  # the cropped face, in memory only
    frames_seen: int


class FaceCameraService:
    """Frames are grabbed and analysed on the device's thread; previews are handed to the loop."""

    def __init__(self, url: str, preview_width: int = 480) -> None:
        self.url = url
        self.preview_width = preview_width
        self._worker = DeviceWorker(DEVICE)
        self._detector: FaceDetector | None = None

    def _capture(
        self,
        stop: threading.Event,
        stable_frames: int,
        timeout: float,
        deliver: Callable[[np.ndarray, int], None],
    ) -> CapturedFace:
        if self._detector is None:
            self._detector = FaceDetector()
        deadline = time.monotonic() + timeout
        streak = frames = 0
        try:
            with VideoSource(self.url) as source:
                while not stop.is_set():
                    if time.monotonic() > deadline:
                        raise DeviceError(DEVICE, DeviceReason.TIMEOUT)
                    frame = source.read()
                    frames += 1
                    faces = self._detector.detect(frame)
                    streak = streak + 1 if len(faces) == 1 else 0
                    deliver(self._preview(frame), len(faces))
                    if streak >= stable_frames:
                        return CapturedFace(encode_jpeg(crop_face(frame, faces[0])), frames)
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc
        raise asyncio.CancelledError()

    def _preview(self, frame_bgr: np.ndarray) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (self.preview_width, h * self.preview_width // w))
        # Mirrored, as citizens expect to see themselves; RGB for the screen's texture.
        return cv2.cvtColor(cv2.flip(small, 1), cv2.COLOR_BGR2RGB)

    async def capture(
        self, on_preview: PreviewCallback, stable_frames: int = 5, timeout: float = 60.0
    ) -> CapturedFace:
        """Streams previews to `on_preview` (on the loop) until one face held for `stable_frames`."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def deliver(preview: np.ndarray, faces: int) -> None:
            loop.call_soon_threadsafe(on_preview, preview, faces)

        try:
            return await self._worker.call(self._capture, stop, stable_frames, timeout, deliver)
        finally:
            stop.set()

    def close(self) -> None:
        self._worker.shutdown()
