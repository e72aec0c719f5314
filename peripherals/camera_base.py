"""The base of the camera services: health from a probe that opens the stream and reads one
frame, at most every `probe_every_s` (sooner while the camera is unhealthy).

The probe runs on a thread of its own, not on the camera's worker: a capture may hold the
worker for a minute, and the camera must not look silent meanwhile. A real V4L2 device allows
one opener, so there the probe should run on the worker between captures (see the report of
the peripherals issue).
"""

from __future__ import annotations

import asyncio
import logging
import time

from drivers.camera import CameraError, VideoSource
from peripherals.base import DeviceService
from peripherals.errors import DeviceReason
from peripherals.health import DeviceStatus, SelfTestResult

log = logging.getLogger(__name__)


class CameraService(DeviceService):
    """A camera at `url` (OpenCV capture) with its own worker thread and a cheap probe."""

    kind = "opencv_camera"

    def __init__(self, name: str, url: str, probe_every_s: float = 10.0) -> None:
        super().__init__(name, url)
        self.url = url
        self.probe_every_s = probe_every_s
        self._last_probe = -float("inf")

    async def refresh(self) -> DeviceStatus:
        now = time.monotonic()
        if now - self._last_probe < self.probe_every_s and self.status().health.usable:
            return self.status()
        self._last_probe = now
        return await asyncio.to_thread(self._refresh)

    async def self_test(self) -> SelfTestResult:
        self._last_probe = -float("inf")  # the technician asks now, not at the next turn
        return await super().self_test()

    def _refresh(self) -> DeviceStatus:
        try:
            with VideoSource(self.url) as source:
                source.read()
        except CameraError as exc:
            log.debug("camera probe failed: %s", exc, extra={"device": self.name})
            return self._lost(DeviceReason.CAMERA_UNAVAILABLE)
        return self._answered()
