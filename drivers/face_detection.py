"""Frontal-face detection with OpenCV's Haar cascade, and in-memory face crops.

Face images are personal data: nothing here touches the disk; crops and JPEGs live
only in memory and are the caller's to drop at the end of a session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"


class FaceDetectionError(Exception):
    """The detector cannot work (cascade missing or unreadable, image unusable)."""


@dataclass(frozen=True)
class FaceBox:
    """A face's bounding box in full-frame pixel coordinates."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


class FaceDetector:
    """Finds frontal faces in BGR frames.

    ``min_face_fraction`` is the smallest face to report, as a fraction of the frame's
    shorter side: a citizen standing at the kiosk fills much more than that, passers-by
    in the hall behind them less. Detection runs on a copy downscaled to at most
    ``detect_width`` pixels wide. One instance per worker thread: OpenCV does not promise
    that one CascadeClassifier may be used from two threads at once.
    """

    def __init__(
        self,
        min_face_fraction: float = 0.15,
        detect_width: int = 320,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
    ) -> None:
        if not 0 < min_face_fraction <= 1:
            raise ValueError("min_face_fraction must be in (0, 1]")
        self.min_face_fraction = min_face_fraction
        self.detect_width = detect_width
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        path = os.path.join(cv2.data.haarcascades, CASCADE_FILE)
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise FaceDetectionError(f"cannot load face cascade {path}")

    def detect(self, frame_bgr: np.ndarray) -> list[FaceBox]:
        """Faces in the frame, largest first, in full-frame coordinates."""
        if frame_bgr.ndim == 3:
            grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        elif frame_bgr.ndim == 2:
            grey = frame_bgr
        else:
            raise FaceDetectionError(f"unexpected frame shape {frame_bgr.shape}")
        height, width = grey.shape
        scale = min(1.0, self.detect_width / width)
        if scale < 1.0:
            small_size = (round(width * scale), round(height * scale))
            grey = cv2.resize(grey, small_size, interpolation=cv2.INTER_AREA)
        # Equalise after downscaling: cheaper, and the histogram is the same picture.
        grey = cv2.equalizeHist(grey)
        min_side = max(1, int(self.min_face_fraction * min(height, width) * scale))
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
        )
        boxes = [
            FaceBox(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            for (x, y, w, h) in found
        ]
        boxes.sort(key=lambda box: box.area, reverse=True)
        return boxes


def crop_face(frame: np.ndarray, box: FaceBox, margin: float = 0.3) -> np.ndarray:
    """A copy of the face with ``margin`` of its size added on every side, clipped."""
    height, width = frame.shape[:2]
    dx, dy = round(box.w * margin), round(box.h * margin)
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(width, box.x + box.w + dx), min(height, box.y + box.h + dy)
    if x0 >= x1 or y0 >= y1:
        raise FaceDetectionError(f"{box} lies outside the {width}x{height} frame")
    # A copy, so the caller may drop the full frame (and everyone else in it).
    return frame[y0:y1, x0:x1].copy()


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of the image, encoded in memory."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FaceDetectionError("JPEG encoding failed")
    return buffer.tobytes()


__all__ = ["FaceBox", "FaceDetectionError", "FaceDetector", "crop_face", "encode_jpeg"]
