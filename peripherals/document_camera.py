"""The document camera service: waits for a page to lie still on the bed and returns it
as a clean, flat, straight image; pages become one PDF for upload. It also reads the MRZ of a
travel document's data page laid on the bed (drivers.mrz_ocr), from the camera's
full-resolution stream where it has one. Frames and pages stay in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from drivers.camera import CameraError, VideoSource
from drivers.document_scan import (
    DocumentScanError,
    ScanFailure,
    ScannedImage,
    find_page,
    rectify,
    scan_page,
    scan_pages_to_pdf,
)
from drivers.mrz import MrzData
from drivers.mrz_ocr import MrzRefusal, read_mrz
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


class DataPageProblem(StrEnum):
    """Why no MRZ came from the bed: what the kiosk asks the citizen to change."""

    NO_PAGE = "no_page"  # nothing page-like (or no usable picture) on the bed
    PAGE_TOO_SMALL = "page_too_small"
    PAGE_CUT_OFF = "page_cut_off"
    TOO_DARK = "too_dark"
    NO_MRZ = "no_mrz"  # a page, but no MRZ on it: another page, or upside down
    MRZ_UNCLEAR = "mrz_unclear"  # the MRZ is there but not all of it legible (a finger, glare)


_SCAN_PROBLEMS = {ScanFailure.PAGE_TOO_SMALL: DataPageProblem.PAGE_TOO_SMALL,
                  ScanFailure.PAGE_CUT_OFF: DataPageProblem.PAGE_CUT_OFF,
                  ScanFailure.TOO_DARK: DataPageProblem.TOO_DARK}  # fmt: skip
_MRZ_PROBLEMS = {MrzRefusal.NO_BAND: DataPageProblem.NO_MRZ,
                 MrzRefusal.WRONG_LAYOUT: DataPageProblem.NO_MRZ,
                 MrzRefusal.BAD_IMAGE: DataPageProblem.NO_PAGE}  # fmt: skip


class DataPageNotRead(DeviceError):
    """No MRZ read from the bed this time: ``problem`` says what the camera saw last."""

    def __init__(self, problem: DataPageProblem) -> None:
        super().__init__(DEVICE, DeviceReason.TIMEOUT, f"no MRZ: {problem.value}")
        self.problem = problem


class DocumentCameraService(CameraService):
    """Frames are grabbed and scanned on the device's own thread.

    A page is taken once it is found in ``stable_frames`` consecutive frames at the same
    place (its corners moved less than 1% of the frame), i.e. it lies still. A data page's
    MRZ is read from ``full_url`` (the camera's full-resolution stream) when given.
    """

    def __init__(self, url: str, stable_frames: int = 2, colour: bool = False, *,
                 name: str = DEVICE, probe_every_s: float = 10.0, full_url: str = "") -> None:
        super().__init__(name, url, probe_every_s)
        self.stable_frames = max(1, stable_frames)
        self.colour = colour
        self.full_url = full_url or url

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

    def _read_data_page(self, stop: threading.Event, timeout: float, refusals: int) -> MrzData:
        deadline = time.monotonic() + timeout
        problem, refused = DataPageProblem.NO_PAGE, 0
        try:
            with VideoSource(self.full_url) as source:
                while not stop.is_set() and time.monotonic() <= deadline:
                    frame = source.read()
                    try:
                        page = rectify(frame, find_page(frame))
                    except DocumentScanError as exc:
                        problem, refused = _SCAN_PROBLEMS.get(exc.reason,
                                                              DataPageProblem.NO_PAGE), 0
                        continue
                    # The page as seen, not the scan's cleaned copy: evening out its light
                    # (flatten_illumination) turns a finger over the MRZ into faint strokes
                    # that read as characters; read_mrz evens the light its own way.
                    reading = read_mrz(page)
                    if reading.data is not None:
                        return reading.data
                    assert reading.refusal is not None
                    problem = _MRZ_PROBLEMS.get(reading.refusal, DataPageProblem.MRZ_UNCLEAR)
                    refused += 1
                    if refused >= refusals:   # it lies there, and its MRZ does not read
                        break
        except CameraError as exc:
            raise DeviceError(DEVICE, DeviceReason.CAMERA_UNAVAILABLE, str(exc)) from exc
        raise DataPageNotRead(problem)

    async def read_data_page(self, timeout: float = 20.0, refusals: int = 3) -> MrzData:
        """The MRZ of the data page lying on the bed, every check digit holding; DataPageNotRead
        (a DeviceError with reason TIMEOUT and a ``problem``) when no page came within
        ``timeout`` seconds or one lay there and its MRZ was refused in ``refusals`` frames,
        DeviceError(CAMERA_UNAVAILABLE) when the camera fails. Nothing is kept of the frames."""
        stop = threading.Event()
        try:
            return await self._worker.call(self._read_data_page, stop, timeout, max(1, refusals))
        finally:
            stop.set()

    @staticmethod
    def pages_to_pdf(pages: Sequence[ScannedPage]) -> bytes:
        """All pages in one PDF (bytes, in memory), each at its real size."""
        return scan_pages_to_pdf(pages)



__all__ = ["DataPageNotRead", "DataPageProblem", "DocumentCameraService", "PageNotFound",
           "ScannedPage"]
