"""Liveness evidence gathered across the frames of one face capture.

A kiosk cannot decide liveness alone, and does not try: it measures what a live face
does in front of a camera and a flat photo held up to it does not (small natural
motion, blinks) and hands the figures to the backend as evidence with the capture.
Nothing here keeps image data: each frame leaves a 64x64 thumbnail of the face region
until the next one replaces it, and the evidence is numbers only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

# Thumbnail of the face region the motion is measured on: big enough that a pixel of
# sway shows at the face's edges, small enough that sensor noise averages out.
_THUMB = 64
# A frame-to-frame change is motion when the strongest 2% of the thumbnail's pixels
# changed by this many grey levels more than the noise (2.5x the median change) does.
_MOTION_FRAME_THRESHOLD = 2.0
# The still-photo score falls from 1 to 0 as the mean motion energy rises over this span.
_STILL_ENERGY_FLOOR = 0.8
_STILL_ENERGY_SPAN = 2.5
# A blink closes the eyes for 100-400 ms: up to this many frames at 15-30 fps.
_MAX_BLINK_FRAMES = 8
# Below this many frames compared, the evidence says little either way.
_MIN_FRAMES_FOR_SCORE = 4


@dataclass(frozen=True)
class LivenessEvidence:
    """What the frames of one capture showed of a live face; JSON-able, no image data.

    ``motion_energy``: mean noise-corrected frame-to-frame change of the face region
    (grey levels on a brightness-normalised thumbnail). ``moving_fraction``: share of
    frame pairs with visible motion. ``blinks``: eyes seen open, then shut for at most a
    few frames, then open again. ``eye_state_changes``: open/shut transitions of any
    length. ``still_photo_score``: 0 (moves and blinks like a person) to 1 (as flat and
    still as a photo held up); 0.5 when too few frames were seen to tell.
    """

    frames: int
    duration_s: float
    motion_energy: float
    moving_fraction: float
    blinks: int
    eye_state_changes: int
    still_photo_score: float

    def as_json(self) -> dict[str, object]:
        return asdict(self)


class LivenessObserver:
    """Feed it every analysed frame of one capture; ask for the evidence at the end.

    ``observe`` takes the grey frame, the tracked face box (x, y, w, h) and whether both
    eyes were found open. The region measured is anchored where the face first appeared
    and moves only when the face leaves it, so a detector's box jitter is not mistaken
    for motion.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._anchor: tuple[int, int, int, int] | None = None
        self._previous: np.ndarray | None = None
        self._energies: list[float] = []
        self._frames = 0
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._eyes_open: bool | None = None
        self._closed_run = 0
        self._seen_open = False
        self._blinks = 0
        self._changes = 0

    def observe(
        self,
        grey: np.ndarray,
        face: tuple[int, int, int, int],
        eyes_open: bool,
        timestamp: float,
    ) -> None:
        """Account for one frame in which ``face`` was seen."""
        self._frames += 1
        if self._first_t is None:
            self._first_t = timestamp
        self._last_t = timestamp
        self._observe_motion(grey, face)
        self._observe_eyes(eyes_open)

    def lost_face(self) -> None:
        """The face left the frame: motion across the gap means nothing."""
        self._anchor = None
        self._previous = None
        self._eyes_open = None
        self._closed_run = 0

    def evidence(self) -> LivenessEvidence:
        energies = self._energies
        energy = float(np.mean(energies)) if energies else 0.0
        moving = (
            sum(1 for e in energies if e > _MOTION_FRAME_THRESHOLD) / len(energies)
            if energies
            else 0.0
        )
        if len(energies) < _MIN_FRAMES_FOR_SCORE:
            score = 0.5
        else:
            still = 1.0 - (energy - _STILL_ENERGY_FLOOR) / _STILL_ENERGY_SPAN
            score = min(1.0, max(0.0, still))
            if self._blinks:
                score *= 0.3
        first, last = self._first_t, self._last_t
        duration = last - first if first is not None and last is not None else 0.0
        return LivenessEvidence(
            frames=self._frames,
            duration_s=round(float(duration), 3),
            motion_energy=round(energy, 3),
            moving_fraction=round(moving, 3),
            blinks=self._blinks,
            eye_state_changes=self._changes,
            still_photo_score=round(score, 3),
        )

    def _observe_motion(self, grey: np.ndarray, face: tuple[int, int, int, int]) -> None:
        x, y, w, h = face
        if self._anchor is not None:
            ax, ay, aw, ah = self._anchor
            moved = math.hypot(x + w / 2 - (ax + aw / 2), y + h / 2 - (ay + ah / 2))
            # The anchor has a 20% margin each side, so aw is 1.4 face widths; the box's
            # size steps by 10-20% between the detector's full and tracking searches.
            if moved > 0.25 * aw or not 0.55 < w / aw < 1.0:
                self._anchor, self._previous = None, None
        if self._anchor is None:
            margin = round(w * 0.2)
            self._anchor = (x - margin, y - margin, w + 2 * margin, h + 2 * margin)
        ax, ay, aw, ah = self._anchor
        height, width = grey.shape[:2]
        x0, y0, x1, y1 = max(0, ax), max(0, ay), min(width, ax + aw), min(height, ay + ah)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return
        thumb = cv2.resize(grey[y0:y1, x0:x1], (_THUMB, _THUMB), interpolation=cv2.INTER_AREA)
        # Normalise brightness so light flicker and auto-exposure are not motion.
        thumb = thumb.astype(np.float32) * np.float32(128.0 / max(1.0, float(thumb.mean())))
        if self._previous is not None:
            change = np.abs(thumb - self._previous)
            noise = 2.5 * float(np.median(change))
            self._energies.append(max(0.0, float(np.percentile(change, 98)) - noise))
        self._previous = thumb

    def _observe_eyes(self, eyes_open: bool) -> None:
        if self._eyes_open is not None and eyes_open != self._eyes_open:
            self._changes += 1
        if eyes_open:
            if self._seen_open and 0 < self._closed_run <= _MAX_BLINK_FRAMES:
                self._blinks += 1
            self._seen_open = True
            self._closed_run = 0
        elif self._seen_open:
            self._closed_run += 1
        self._eyes_open = eyes_open


__all__ = ["LivenessEvidence", "LivenessObserver"]
