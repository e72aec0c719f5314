"""Camera capture with OpenCV: a local device (by index) or a network stream (by URL).

Blocking; meant to run in the one worker thread of its device. Frames stay in memory:
face frames are personal data and are never written anywhere by this module.
"""

from __future__ import annotations

import enum
import logging
import time
from types import TracebackType

import cv2
import numpy as np

logger = logging.getLogger(__name__)


class CameraErrorReason(enum.Enum):
    """Why a camera failed; the peripheral maps it to device health and alerts."""

    NOT_OPEN = "not_open"  # read() before open() or after close()
    UNREACHABLE = "unreachable"  # device missing, connection refused, stream not found
    OPEN_TIMED_OUT = "open_timed_out"  # something answered, but no video within the limit
    READ_FAILED = "read_failed"  # the stream ended, stalled or sent garbage


class CameraError(Exception):
    """A camera problem, with a reason code."""

    def __init__(self, reason: CameraErrorReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class CameraUnavailable(CameraError):
    """The camera cannot deliver frames now (unplugged, unreachable, stream broken)."""


class VideoSource:
    """One camera: ``open()``, ``read()`` the latest frame, ``close()``; a context manager.

    ``url`` is a stream URL (opened with the FFmpeg backend, e.g. an MJPEG camera) or a
    device index. ``width``/``height`` are requested from a local device; a stream's
    size is whatever its sender sends.
    """

    def __init__(
        self,
        url: str | int,
        width: int | None = None,
        height: int | None = None,
        open_timeout: float = 3.0,
        read_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.width = width
        self.height = height
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self._capture: cv2.VideoCapture | None = None

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def open(self) -> None:
        """Connect to the camera; raises CameraUnavailable if no video comes in time."""
        if self._capture is not None:
            return
        started = time.monotonic()
        if isinstance(self.url, str):
            # FFmpeg's own socket time-outs are off by default: a listener that accepts
            # and says nothing would block open() for ever. These bound open and read.
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000),
            ]  # fmt: skip
            capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(self.url)
        elapsed = time.monotonic() - started
        if not capture.isOpened():
            capture.release()
            reason = (
                CameraErrorReason.OPEN_TIMED_OUT
                if elapsed >= self.open_timeout * 0.9
                else CameraErrorReason.UNREACHABLE
            )
            raise CameraUnavailable(reason, f"{self._name} did not open ({elapsed:.1f} s)")
        # Keep at most one frame queued so read() sees the present, not the past.
        # The FFmpeg backend ignores this (returns False); read() drains instead.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if not isinstance(self.url, str):
            if self.width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture
        logger.info("camera opened", extra={"device": self._name})

    def read(self) -> np.ndarray:
        """The latest frame (BGR); raises CameraUnavailable if none arrives."""
        capture = self._capture
        if capture is None:
            raise CameraError(CameraErrorReason.NOT_OPEN, self._name)
        # A network stream queues frames in FFmpeg and the socket while nobody reads.
        # Skip those that come back at once (already buffered) and keep the first one
        # that had to be waited for, i.e. the freshest, at the cost of at most a frame.
        for _ in range(self._max_stale_frames):
            started = time.monotonic()
            if not capture.grab():
                raise CameraUnavailable(CameraErrorReason.READ_FAILED, f"{self._name}: no frame")
            if time.monotonic() - started > self._buffered_grab_seconds:
                break
        ok, frame = capture.retrieve()
        if not ok or frame is None:
            raise CameraUnavailable(CameraErrorReason.READ_FAILED, f"{self._name}: bad frame")
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
            logger.info("camera closed", extra={"device": self._name})

    def __enter__(self) -> VideoSource:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # A grab that returns faster than this found its frame already buffered. Decoding a
    # VGA JPEG takes a few ms; a live camera delivers one every 33-66 ms.
    _buffered_grab_seconds = 0.008
    # Bound on frames skipped per read, so a sender faster than us cannot starve it.
    _max_stale_frames = 30

    @property
    def _name(self) -> str:
        # Stream URLs may carry credentials (rtsp://user:pass@...): log host and path only.
        if isinstance(self.url, int):
            return f"camera #{self.url}"
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"


__all__ = ["CameraError", "CameraErrorReason", "CameraUnavailable", "VideoSource"]
