"""Quality gates for a face capture, reduced to the one instruction a citizen should see.

Each frame is judged on: how many faces, size, centring, light (dark, glare, backlight),
sharpness, frontal pose (both eyes found, level and symmetric) and stillness. The first
gate that fails gives the hint; when all hold the hint is OK. The gates run on every
preview frame, so the detector tracks the face between full-frame searches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import cv2
import numpy as np

from drivers.face_detection import EyeBox, FaceBox, FaceDetector, to_grey


class FaceHint(StrEnum):
    """The one thing the citizen should do now (or OK: every gate holds)."""

    NO_FACE = "no_face"
    TOO_MANY_FACES = "too_many_faces"
    MOVE_CLOSER = "move_closer"
    MOVE_BACK = "move_back"
    CENTER_FACE = "center_face"
    FACE_CAMERA = "face_camera"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"  # glare on the face, or a bright light behind it
    BLURRED = "blurred"
    HOLD_STILL = "hold_still"
    OK = "ok"


@dataclass(frozen=True)
class QualityThresholds:
    """Where each gate draws its line; fractions are of the frame unless said otherwise."""

    min_face_height: float = 0.18  # face box height / frame height, below: move closer
    max_face_height: float = 0.55  # above: move back
    guide_centre: tuple[float, float] = (0.5, 0.45)  # where the screen's oval guide is
    max_offset: float = 0.12  # face centre from the guide, per axis
    min_brightness: float = 70.0  # mean grey level of the inner face
    max_brightness: float = 215.0
    max_glare_fraction: float = 0.02  # share of the inner face at or near saturation
    max_backlight_ratio: float = 1.7  # background brightness / face brightness
    min_sharpness: float = 0.2  # Laplacian energy / intensity variance of the face
    min_eye_distance: float = 0.25  # eye centres apart / face width (a turned head: less)
    max_eye_distance: float = 0.65
    max_eye_tilt: float = 0.12  # vertical gap of the eyes / face width (a tilted head)
    max_eye_asymmetry: float = 0.12  # eyes' midpoint from the face's centre / face width
    max_shift: float = 0.1  # face centre movement between frames / face width
    blink_grace_frames: int = 6  # eyes lost this soon after being seen: a blink, not a turn


@dataclass(frozen=True)
class FaceAssessment:
    """One frame's verdict: the hint, the face it concerns, and the measured figures."""

    hint: FaceHint
    faces: int
    face: FaceBox | None = None
    eyes: tuple[EyeBox, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        return self.hint is FaceHint.OK


class FaceQualityGate:
    """Judges the frames of one capture in order; ``reset()`` before the next citizen.

    A full-frame search runs every ``full_scan_every`` frames (and whenever the tracked
    face is lost or ``full_scan=True`` is asked for); between them only the region
    around the face is searched, and the face count is the last full search's.
    """

    def __init__(
        self,
        detector: FaceDetector | None = None,
        thresholds: QualityThresholds | None = None,
        full_scan_every: int = 4,
    ) -> None:
        self.detector = detector or FaceDetector(min_face_fraction=0.1)
        self.thresholds = thresholds or QualityThresholds()
        self.full_scan_every = max(1, full_scan_every)
        self.reset()

    def reset(self) -> None:
        self._frame = 0
        self._track: FaceBox | None = None
        self._faces_at_last_scan = 0
        self._eyes_seen_at: int | None = None

    def assess(self, frame_bgr: np.ndarray, full_scan: bool = False) -> FaceAssessment:
        """Judge one BGR frame."""
        grey = to_grey(frame_bgr)
        self._frame += 1
        previous = self._track
        face: FaceBox | None = None
        if previous is not None and not full_scan and self._frame % self.full_scan_every:
            face = self.detector.detect_near(grey, previous)
        if face is None:
            faces = self.detector.detect(grey)
            self._faces_at_last_scan = len(faces)
            face = faces[0] if faces else None
        self._track = face
        count = self._faces_at_last_scan if face is not None else 0
        if face is None:
            return FaceAssessment(self._empty_frame_hint(grey), 0)
        if count > 1:
            return FaceAssessment(FaceHint.TOO_MANY_FACES, count, face)
        eyes = tuple(self.detector.find_eyes(grey, face))
        metrics = self._measure(grey, face, eyes, previous)
        hint = self._first_failing_gate(metrics, len(eyes))
        if len(eyes) == 2:
            self._eyes_seen_at = self._frame
        return FaceAssessment(hint, count, face, eyes, MappingProxyType(metrics))

    def _empty_frame_hint(self, grey: np.ndarray) -> FaceHint:
        # No face found in a frame this dark (or this blown out) says more about the
        # light than about the citizen.
        small = cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA)
        mean = float(small.mean())
        if mean < self.thresholds.min_brightness * 0.5:
            return FaceHint.TOO_DARK
        if mean > 240:
            return FaceHint.TOO_BRIGHT
        return FaceHint.NO_FACE

    def _measure(
        self, grey: np.ndarray, face: FaceBox, eyes: tuple[EyeBox, ...], previous: FaceBox | None
    ) -> dict[str, float]:
        height, width = grey.shape
        cx, cy = face.centre
        gx, gy = self.thresholds.guide_centre
        # The face's inner part: skin, eyes and mouth, not hair and background.
        ix0, iy0 = max(0, face.x + face.w // 5), max(0, face.y + face.h // 6)
        ix1, iy1 = min(width, face.x + face.w * 4 // 5), min(height, face.y + face.h * 9 // 10)
        inner = grey[iy0:iy1, ix0:ix1]
        if inner.size == 0:
            inner = np.zeros((1, 1), np.uint8)
        brightness = float(inner.mean())
        glare = float(np.count_nonzero(inner >= 245)) / inner.size
        # Background: the frame's upper half beside the face, where a window would be.
        small = cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
        sx0, sx1 = int(face.x / width * 64), int(math.ceil((face.x + face.w) / width * 64))
        upper = small[:24]
        mask = np.ones(upper.shape, bool)
        mask[:, max(0, sx0 - 2) : min(64, sx1 + 2)] = False
        background = float(upper[mask].mean()) if mask.any() else brightness
        metrics = {
            "face_height": face.h / height,
            "offset_x": (cx / width) - gx,
            "offset_y": (cy / height) - gy,
            "brightness": brightness,
            "glare_fraction": glare,
            "backlight_ratio": background / max(1.0, brightness),
            "sharpness": _sharpness(grey, face),
            "shift": 0.0,
        }
        if previous is not None:
            pcx, pcy = previous.centre
            # Centre movement only: the box's size steps with the detector's scale pyramid.
            metrics["shift"] = math.hypot(cx - pcx, cy - pcy) / face.w
        if len(eyes) == 2:
            (lx, ly), (rx, ry) = eyes[0].centre, eyes[1].centre
            metrics["eye_distance"] = (rx - lx) / face.w
            metrics["eye_tilt"] = abs(ry - ly) / face.w
            metrics["eye_asymmetry"] = abs((lx + rx) / 2 - cx) / face.w
        return metrics

    def _first_failing_gate(self, m: Mapping[str, float], eyes_found: int) -> FaceHint:
        th = self.thresholds
        if m["face_height"] < th.min_face_height:
            return FaceHint.MOVE_CLOSER
        if m["face_height"] > th.max_face_height:
            return FaceHint.MOVE_BACK
        if abs(m["offset_x"]) > th.max_offset or abs(m["offset_y"]) > th.max_offset:
            return FaceHint.CENTER_FACE
        if (
            m["backlight_ratio"] > th.max_backlight_ratio
            or m["glare_fraction"] > th.max_glare_fraction
        ):
            return FaceHint.TOO_BRIGHT
        if m["brightness"] < th.min_brightness:
            return FaceHint.TOO_DARK
        if m["brightness"] > th.max_brightness:
            return FaceHint.TOO_BRIGHT
        if m["sharpness"] < th.min_sharpness:
            return FaceHint.BLURRED
        if eyes_found < 2:
            blinked = (
                self._eyes_seen_at is not None
                and self._frame - self._eyes_seen_at <= th.blink_grace_frames
            )
            return FaceHint.HOLD_STILL if blinked else FaceHint.FACE_CAMERA
        if (
            not th.min_eye_distance <= m["eye_distance"] <= th.max_eye_distance
            or m["eye_tilt"] > th.max_eye_tilt
            or m["eye_asymmetry"] > th.max_eye_asymmetry
        ):
            return FaceHint.FACE_CAMERA
        if m["shift"] > th.max_shift:
            return FaceHint.HOLD_STILL
        return FaceHint.OK


def _sharpness(grey: np.ndarray, face: FaceBox) -> float:
    """Laplacian energy of the face at a fixed size, relative to its contrast.

    Scaling the face to 128 px makes the figure independent of distance; dividing by the
    intensity variance makes it independent of light and skin tone.
    """
    height, width = grey.shape
    x0, y0 = max(0, face.x), max(0, face.y)
    x1, y1 = min(width, face.x + face.w), min(height, face.y + face.h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    crop = cv2.resize(grey[y0:y1, x0:x1], (128, 128), interpolation=cv2.INTER_AREA)
    laplacian = cv2.Laplacian(crop, cv2.CV_32F, ksize=3)
    variance = float(crop.astype(np.float32).var())
    return float(laplacian.var()) / max(1.0, variance)


__all__ = ["FaceAssessment", "FaceHint", "FaceQualityGate", "QualityThresholds"]
