"""The document camera service: waits for a page to lie still on the bed and returns it
as a clean, flat, straight image; pages become one PDF for upload."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from drivers.camera import CameraError, VideoSource
from drivers.document_scan import (
    DocumentScanError,
    ScanFailure,
    ScannedImage,
    scan_page,
    scan_pages_to_pdf,
)
from peripherals.camera_base import CameraService
from peripherals.errors import DeviceError, DeviceReason

DEVICE = "document_camera"

# One clean page: image (grey uint8), corners, coverage, skew_deg, format, dpi.
ScannedPage = ScannedImage


class PageNotFound(DeviceError):
    """No usable page within the time allowed; ``scan_reason`` says what the camera saw
    last (nothing, a page too small, a page off the edge, darkness)."""

    def __init__(self, scan_reason: ScanFailure) -> None:
        super().__init__(DEVICE, DeviceReason.TIMEOUT, f"no page: {scan_reason.value}")
        self.scan_reason = scan_reason


class DocumentCameraService(CameraService):
    """Frames are grabbed and scanned on the device's own thread.

    A page is taken once it is found in ``stable_frames`` consecutive frames at the same
    place (its corners moved less than 1% of the frame), i.e. it lies still.
    """

    def __init__(self, url: str, stable_frames: int = 2, colour: bool = False, *,
                 name: str = DEVICE, probe_every_s: float = 10.0) -> None:
        super().__init__(name, url, probe_every_s)
        self.stable_frames = max(1, stable_frames)
        self.colour = colour

    def _scan(self, stop: threading.Event, timeout: float) -> ScannedPage:
        deadline = time.monotonic() + timeout
        last_failure = ScanFailure.NO_PAGE
        previous: np.ndarray | None = None
        streak = 0
        try:
            with VideoSource(self.url) as source:
                while not stop.is_set() and time.monotonic() <= deadline:
                    frame = source.read()
                    try:
                        page = scan_page(frame, colour=self.colour)
                    except DocumentScanError as exc:
                        last_failure, previous, streak = exc.reason, None, 0
                        continue
                    corners = np.array(page.corners, np.float32)
                    tolerance = 0.01 * float(np.hypot(*frame.shape[:2]))
                    still = previous is not None and bool(
                        np.abs(corners - previous).max() < tolerance
                    )
                    streak = streak + 1 if still or previous is None else 1
                    previous = corners
                    if streak >= self.stable_frames:
                        return page
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc
        raise PageNotFound(last_failure)

    async def scan_page(self, timeout: float = 20.0) -> ScannedPage:
        """The page lying on the bed, cleaned; PageNotFound (a DeviceError with reason
        TIMEOUT and a ``scan_reason``) when none lay still within ``timeout`` seconds,
        DeviceError(CAMERA_UNAVAILABLE) when the camera fails."""
        stop = threading.Event()
        try:
            return await self._worker.call(self._scan, stop, timeout)
        finally:
            stop.set()

    @staticmethod
    def pages_to_pdf(pages: Sequence[ScannedPage]) -> bytes:
        """All pages in one PDF (bytes, in memory), each at its real size."""
        return scan_pages_to_pdf(pages)



__all__ = ["DocumentCameraService", "PageNotFound", "ScannedPage"]
