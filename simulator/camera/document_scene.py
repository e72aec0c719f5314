"""What the kiosk's document camera sees: a desk, and a page, form or card lying on it.

The document lies at an angle, seen with a little perspective, under a shadow (of the
citizen's hand or the kiosk's hood) and a lamp's glare, as on a real scanning desk.
Frames are BGR; the composed scene is cached and only sensor noise changes between
frames, since a document on a desk does not move.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from simulator.camera.code_cards import CodeKind, paste_card, render_code_card

# Sizes in millimetres of what can lie on the desk: A4 paper and an ID-1 card
# (ISO/IEC 7810, the size of identity and bank cards).
_A4_MM = (210.0, 297.0)
_ID1_MM = (85.6, 53.98)
# How many millimetres of desk the camera sees across its width.
_VIEW_MM = 520.0


class DocumentScene(StrEnum):
    """What lies on the desk under the document camera."""

    EMPTY = "empty"  # only the desk
    TEXT_PAGE = "text_page"  # an A4 page of printed text
    FORM = "form"  # an A4 application form with boxes and a table
    ID_CARD = "id_card"  # an ID-1 card
    CUT_OFF = "cut_off"  # a page pushed half off the camera's view
    DATA_PAGE = "data_page"  # a travel document open at its data page (show_data_page)


@dataclass(frozen=True)
class DocumentPose:
    """Where the document lies: centre (fractions of the frame), rotation in degrees,
    perspective tilt (0: seen straight from above), shadow and glare on or off."""

    centre: tuple[float, float] = (0.5, 0.5)
    angle_deg: float = 8.0
    tilt: float = 0.04
    shadow: bool = True
    glare: bool = True


@functools.cache
def _page_texture(kind: DocumentScene, seed: int) -> np.ndarray:
    """The document itself, flat and evenly lit (BGR), at about 5 px per millimetre."""
    rng = np.random.default_rng(seed)
    if kind is DocumentScene.ID_CARD:
        w, h = round(_ID1_MM[0] * 8), round(_ID1_MM[1] * 8)
        card = np.full((h, w, 3), (236, 222, 200), np.uint8)  # pale blue-grey security print
        for y in range(0, h, 6):  # guilloche-like fine lines
            offset = int(8 * math.sin(y / 17))
            cv2.line(card, (0, y), (w, y + offset), (226, 206, 182), 1)
        cv2.rectangle(card, (w - 210, 60), (w - 40, 270), (170, 160, 150), -1)  # photo area
        cv2.circle(card, (w - 125, 140), 48, (120, 110, 100), -1)
        cv2.ellipse(card, (w - 125, 262), (78, 70), 0, 180, 360, (120, 110, 100), -1)
        for i in range(6):
            length = int(rng.integers(180, 360))
            cv2.rectangle(card, (40, 70 + i * 40), (40 + length, 86 + i * 40), (60, 50, 40), -1)
        cv2.rectangle(card, (40, h - 60), (w - 40, h - 40), (40, 40, 40), -1)  # number line
        return card
    w, h = round(_A4_MM[0] * 5), round(_A4_MM[1] * 5)
    page = np.full((h, w, 3), (246, 248, 248), np.uint8)
    margin = 90
    if kind is DocumentScene.FORM:
        cv2.putText(page, "APPLICATION FORM", (margin, 130), cv2.FONT_HERSHEY_DUPLEX, 1.6,
                    (30, 30, 30), 2, cv2.LINE_AA)  # fmt: skip
        y = 190
        for _ in range(6):  # labelled boxes
            cv2.putText(page, "Field", (margin, y + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (40, 40, 40), 2, cv2.LINE_AA)  # fmt: skip
            cv2.rectangle(page, (margin + 150, y), (w - margin, y + 46), (40, 40, 40), 2)
            y += 70
        y += 30
        for r in range(9):  # a table
            cv2.line(page, (margin, y + r * 50), (w - margin, y + r * 50), (40, 40, 40), 2)
        for c in range(5):
            x = margin + c * (w - 2 * margin) // 4
            cv2.line(page, (x, y), (x, y + 400), (40, 40, 40), 2)
        cv2.rectangle(page, (w - 380, h - 220), (w - margin, h - 110), (40, 40, 200), 2)
        return page
    cv2.putText(page, "NOTICE", (margin, 140), cv2.FONT_HERSHEY_DUPLEX, 2.0, (20, 20, 20), 3,
                cv2.LINE_AA)  # fmt: skip
    words = ["service", "permit", "applicant", "office", "the", "of", "and", "record", "date"]
    for line in range(34):
        x, y = margin, 220 + line * 40
        while True:
            word = words[int(rng.integers(len(words)))]
            (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 0.85, 2)
            if x + tw > w - margin:
                break
            cv2.putText(page, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.85, (25, 25, 25), 2,
                        cv2.LINE_AA)  # fmt: skip
            x += tw + 16
    return page


def _desk(width: int, height: int, seed: int) -> np.ndarray:
    """A dark wooden desk: grain along x, a few knots, some lighting fall-off."""
    rng = np.random.default_rng(seed)
    small_w, small_h = max(8, width // 8), max(8, height // 8)
    grain = rng.normal(0, 1, (small_h, 1)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (1, 0), sigmaX=0.1, sigmaY=2)
    grain = np.repeat(grain, small_w, axis=1) + rng.normal(0, 0.3, (small_h, small_w)).astype(
        np.float32
    )
    base = np.array([48, 72, 105], np.float32)  # BGR brown
    desk = base[None, None, :] * (1 + 0.08 * grain[:, :, None])
    xs = np.linspace(-1, 1, small_w, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, small_h, dtype=np.float32)[:, None]
    desk *= (1 - 0.18 * (xs**2 + ys**2))[:, :, None]
    desk = cv2.resize(np.clip(desk, 0, 255).astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_LINEAR)  # fmt: skip
    return desk


class DocumentSceneComposer:
    """Composes document-camera frames; set ``scene`` (a :class:`DocumentScene` name) and
    ``pose``; ``show_code`` lays a printed QR code or barcode on the desk instead;
    ``show_data_page`` lays a travel document's data page there.

    Frames come at the composer's size (``next_frame``) or at another size of the same
    sensor (``at``: a camera's full-resolution main stream beside its smaller one).
    """

    def __init__(self, width: int = 1600, height: int = 1200, seed: int = 0) -> None:
        self.width = width
        self.height = height
        self.seed = seed
        self._scene = DocumentScene.EMPTY
        self.pose = DocumentPose()
        self._rng = np.random.default_rng(seed)
        self._cache: dict[tuple[int, int], tuple[object, np.ndarray, np.ndarray]] = {}
        self._code: tuple[str, CodeKind] | None = None
        # The data page (BGR, flat) and its width in mm; its number keys the cache.
        self._data_page: tuple[int, np.ndarray, float] | None = None
        self._noise = [
            np.clip(np.rint(self._rng.normal(0, 2.0, (height // 4, width // 4))), -8, 8).astype(
                np.int16
            )
            for _ in range(4)
        ]

    @property
    def scene(self) -> str:
        return self._scene.value

    @scene.setter
    def scene(self, name: str) -> None:
        self._scene = DocumentScene(name)  # ValueError for an unknown name

    def show_code(self, data: str, kind: CodeKind | str = CodeKind.QR) -> None:
        self._code = (data, CodeKind(kind))

    def hide_code(self) -> None:
        self._code = None

    def show_data_page(self, page: np.ndarray, width_mm: float) -> None:
        """Lays a data page (grey or BGR, flat, as `simulator.camera.data_page` renders it)
        `width_mm` wide on the desk: the scene becomes DATA_PAGE."""
        bgr = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR) if page.ndim == 2 else page.copy()
        number = self._data_page[0] + 1 if self._data_page else 1
        self._data_page = (number, bgr, width_mm)
        self._scene = DocumentScene.DATA_PAGE

    def document_quad(self) -> np.ndarray:
        """The document's corners in the frame (TL, TR, BR, BL; float32 4x2)."""
        _, quad = self._compose(self.width, self.height)
        return quad.copy()

    def next_frame(self) -> np.ndarray:
        return self.frame_at(self.width, self.height)

    def at(self, width: int, height: int) -> SensorStream:
        """The same scene at another size (a camera's main stream), for a camera server."""
        return SensorStream(self, width, height)

    def frame_at(self, width: int, height: int) -> np.ndarray:
        composed, _ = self._compose(width, height)
        noise = self._noise[int(self._rng.integers(len(self._noise)))]
        noise = cv2.resize(noise.astype(np.float32), (width, height),
                           interpolation=cv2.INTER_NEAREST)  # fmt: skip
        frame = cv2.add(composed, noise[:, :, None].repeat(3, axis=2), dtype=cv2.CV_8U)
        return frame

    def _compose(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        page_number = self._data_page[0] if self._data_page else 0
        key = (self._scene, self.pose, self._code, page_number, self.seed)
        cached = self._cache.get((width, height))
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        frame = _desk(width, height, self.seed)
        quad = np.zeros((4, 2), np.float32)
        scene = self._scene
        pose = self.pose
        if scene is DocumentScene.DATA_PAGE and self._data_page is not None:
            quad = self._place(frame, self._data_page[1], self._data_page[2], pose.centre, pose)
        elif scene not in (DocumentScene.EMPTY, DocumentScene.DATA_PAGE):
            texture = _page_texture(
                DocumentScene.TEXT_PAGE if scene is DocumentScene.CUT_OFF else scene, self.seed
            )
            centre = (0.92, 0.5) if scene is DocumentScene.CUT_OFF else pose.centre
            mm = _ID1_MM[0] if scene is DocumentScene.ID_CARD else _A4_MM[0]
            quad = self._place(frame, texture, mm, centre, pose)
        if self._code is not None:
            paste_card(frame, render_code_card(*self._code), (0.5, 0.5), pose.angle_deg, 0.45)
        if pose.shadow:
            self._shadow(frame)
        if pose.glare:
            self._glare(frame)
        frame.setflags(write=False)
        self._cache[(width, height)] = (key, frame, quad)
        return frame, quad

    def _place(
        self,
        frame: np.ndarray,
        texture: np.ndarray,
        width_mm: float,
        centre: tuple[float, float],
        pose: DocumentPose,
    ) -> np.ndarray:
        th, tw = texture.shape[:2]
        fh, fw = frame.shape[:2]
        px_per_mm = fw / _VIEW_MM
        w = width_mm * px_per_mm
        h = w * th / tw
        cx, cy = centre[0] * fw, centre[1] * fh
        angle = math.radians(pose.angle_deg)
        cos, sin = math.cos(angle), math.sin(angle)
        corners = []
        for sx, sy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
            # Perspective: the far (top) edge looks a little narrower than the near one.
            squeeze = 1.0 - pose.tilt * (0.5 - sy - 0.5)
            x, y = sx * w * squeeze, sy * h
            corners.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
        quad = np.array(corners, np.float32)
        src = np.array([(0, 0), (tw, 0), (tw, th), (0, th)], np.float32)
        matrix = cv2.getPerspectiveTransform(src, quad)
        warped = cv2.warpPerspective(texture, matrix, (fw, fh), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full((th, tw), 255, np.uint8), matrix, (fw, fh))
        # A soft contact shadow under the paper's edge.
        edge = cv2.GaussianBlur(mask, (0, 0), fw / 300)
        shade = 1.0 - 0.35 * (edge.astype(np.float32) / 255.0)
        frame[:] = np.clip(frame * shade[:, :, None], 0, 255).astype(np.uint8)
        cv2.copyTo(warped, mask, frame)
        return quad

    def _shadow(self, frame: np.ndarray) -> None:
        # The citizen's arm or the kiosk's hood shades one corner of the desk.
        qw, qh = frame.shape[1] // 4, frame.shape[0] // 4
        shadow = np.zeros((qh, qw), np.float32)
        pts = np.array([(0, 0), (qw * 9 // 20, 0), (qw // 4, qh), (0, qh)], np.int32)
        cv2.fillPoly(shadow, [pts], 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), qw / 40)
        shadow = cv2.resize(shadow, (frame.shape[1], frame.shape[0]))
        frame[:] = np.clip(frame * (1 - 0.45 * shadow)[:, :, None], 0, 255).astype(np.uint8)

    def _glare(self, frame: np.ndarray) -> None:
        # The lamp above the desk reflects off glossy paper.
        qw, qh = frame.shape[1] // 4, frame.shape[0] // 4
        spot = np.zeros((qh, qw), np.float32)
        cv2.circle(spot, (qw * 3 // 5, qh * 7 // 20), max(2, qw // 40), 1.0, -1)
        spot = cv2.GaussianBlur(spot, (0, 0), qw / 60)
        spot = cv2.resize(spot, (frame.shape[1], frame.shape[0]))
        frame[:] = np.clip(frame + 90 * spot[:, :, None], 0, 255).astype(np.uint8)


class SensorStream:
    """One stream of the document camera's sensor at its own size (a camera server's
    frame source)."""

    def __init__(self, composer: DocumentSceneComposer, width: int, height: int) -> None:
        self.composer, self.width, self.height = composer, width, height

    def next_frame(self) -> np.ndarray:
        return self.composer.frame_at(self.width, self.height)


__all__ = ["DocumentPose", "DocumentScene", "DocumentSceneComposer", "SensorStream"]
