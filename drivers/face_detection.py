"""Frontal-face and eye detection with OpenCV's Haar cascades, and in-memory face crops.

Face images are personal data: nothing here touches the disk; crops and JPEGs live
only in memory and are the caller's to drop at the end of a session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"
EYE_CASCADE_FILE = "haarcascade_eye.xml"


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
    """Finds frontal faces (and their eyes) in BGR or grey frames.

    ``min_face_fraction`` is the smallest face to report, as a fraction of the frame's
    shorter side: a citizen standing at the kiosk fills much more than that, passers-by
    in the hall behind them less. Detection runs on a copy downscaled to at most
    ``detect_width`` pixels wide. One instance per worker thread: OpenCV does not promise
    that one CascadeClassifier may be used from two threads at once.

    A full-frame search costs tens of milliseconds on one core; ``detect_near`` looks
    again only around a face found in the previous frame and costs a few, which is what
    lets a 30 frames-per-second preview track a face.
    """

    def __init__(
        self,
        min_face_fraction: float = 0.15,
        detect_width: int = 320,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        max_face_fraction: float = 0.9,
    ) -> None:
        if not 0 < min_face_fraction <= 1:
            raise ValueError("min_face_fraction must be in (0, 1]")
        if not min_face_fraction < max_face_fraction <= 1.5:
            raise ValueError("max_face_fraction must exceed min_face_fraction")
        self.min_face_fraction = min_face_fraction
        self.max_face_fraction = max_face_fraction
        self.detect_width = detect_width
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self._cascade = _load_cascade(CASCADE_FILE)
        self._eye_cascade = _load_cascade(EYE_CASCADE_FILE)

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Faces in the frame, largest first, in full-frame coordinates."""
        grey = to_grey(frame)
        height, width = grey.shape
        scale = min(1.0, self.detect_width / width)
        if scale < 1.0:
            small_size = (round(width * scale), round(height * scale))
            grey = cv2.resize(grey, small_size, interpolation=cv2.INTER_AREA)
        # Equalise after downscaling: cheaper, and the histogram is the same picture.
        grey = cv2.equalizeHist(grey)
        short_side = min(height, width) * scale
        min_side = max(1, int(self.min_face_fraction * short_side))
        max_side = max(min_side + 1, int(self.max_face_fraction * short_side))
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            maxSize=(max_side, max_side),
        )
        boxes = [
            FaceBox(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            for (x, y, w, h) in found
        ]
        boxes.sort(key=lambda box: box.area, reverse=True)
        return boxes

    def detect_near(self, frame: np.ndarray, previous: FaceBox) -> FaceBox | None:
        """The face that was at ``previous`` one frame ago, searched for only around it.

        The search window is the old box grown by ``_TRACK_MARGIN`` of its size on every
        side, at sizes from 0.75x to 1.35x the old box: a face moves and grows only so
        much in one frame.
        """
        grey = to_grey(frame)
        height, width = grey.shape
        mx, my = round(previous.w * _TRACK_MARGIN), round(previous.h * _TRACK_MARGIN)
        x0, y0 = max(0, previous.x - mx), max(0, previous.y - my)
        x1 = min(width, previous.x + previous.w + mx)
        y1 = min(height, previous.y + previous.h + my)
        if x1 - x0 < 24 or y1 - y0 < 24:
            return None
        # Work at a scale where the face is about _TRACK_FACE_PX wide: the cascade's
        # smallest window is 24 px, so the smallest size searched stays above it.
        scale = min(1.0, _TRACK_FACE_PX / previous.w)
        roi = grey[y0:y1, x0:x1]
        if scale < 1.0:
            size = (max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale)))
            roi = cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
        roi = cv2.equalizeHist(roi)
        min_side = max(24, int(previous.w * scale * 0.75))
        max_side = max(min_side + 1, int(previous.w * scale * 1.35))
        found = self._cascade.detectMultiScale(
            roi,
            scaleFactor=self.scale_factor,
            minNeighbors=max(2, self.min_neighbors - 2),
            minSize=(min_side, min_side),
            maxSize=(max_side, max_side),
        )
        if len(found) == 0:
            return None
        x, y, w, h = max(found, key=lambda f: int(f[2]) * int(f[3]))
        return FaceBox(
            x0 + round(x / scale), y0 + round(y / scale), round(w / scale), round(h / scale)
        )

    def find_eyes(self, frame: np.ndarray, face: FaceBox) -> list[EyeBox]:
        """Open eyes in the upper part of ``face``, left-to-right in the image, at most two.

        Closed eyes are not found: the eye cascade was trained on open ones, which is
        what blink evidence and the frontal-pose gate rely on.
        """
        grey = to_grey(frame)
        height, width = grey.shape
        x0, y0 = max(0, face.x), max(0, face.y + face.h // 8)
        x1, y1 = min(width, face.x + face.w), min(height, face.y + face.h * 6 // 10)
        if x1 - x0 < 12 or y1 - y0 < 8:
            return []
        scale = _EYE_FACE_PX / face.w
        roi = grey[y0:y1, x0:x1]
        size = (max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        roi = cv2.equalizeHist(cv2.resize(roi, size, interpolation=interp))
        # An eye's box is about a quarter to a third of the face's width.
        min_side, max_side = int(_EYE_FACE_PX * 0.15), int(_EYE_FACE_PX * 0.42)
        found = self._eye_cascade.detectMultiScale(
            roi, scaleFactor=1.1, minNeighbors=3, minSize=(min_side, min_side),
            maxSize=(max_side, max_side),
        )  # fmt: skip
        eyes = [
            EyeBox(x0 + round(x / scale), y0 + round(y / scale), round(w / scale), round(h / scale))
            for (x, y, w, h) in found
        ]
        # Keep the two largest, then order them left to right.
        eyes.sort(key=lambda eye: eye.w * eye.h, reverse=True)
        return sorted(eyes[:2], key=lambda eye: eye.x)


@dataclass(frozen=True)
class EyeBox:
    """An open eye's bounding box in full-frame pixel coordinates."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


def to_grey(frame: np.ndarray) -> np.ndarray:
    """The frame as one grey channel (BGR frames are converted, grey ones passed through)."""
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 2:
        return frame
    raise FaceDetectionError(f"unexpected frame shape {frame.shape}")


def _load_cascade(name: str) -> cv2.CascadeClassifier:
    path = os.path.join(cv2.data.haarcascades, name)  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise FaceDetectionError(f"cannot load cascade {path}")
    return cascade


# Tracking: how far around the last box to look, and the face width to work at.
_TRACK_MARGIN = 0.5
_TRACK_FACE_PX = 48
# Eye search: the face is scaled to this width first.
_EYE_FACE_PX = 96


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


__all__ = [
    "EyeBox",
    "FaceBox",
    "FaceDetectionError",
    "FaceDetector",
    "crop_face",
    "encode_jpeg",
    "to_grey",
]
