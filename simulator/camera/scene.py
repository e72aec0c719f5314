"""What a kiosk's simulated face camera sees: the service hall behind the kiosk and whoever
stands in front of it (a citizen, too far or too close, in the dark, a photo held up...),
composed frame by frame from the astronaut photo that scikit-image ships."""

from __future__ import annotations

import functools
import math
from enum import StrEnum

import cv2
import numpy as np

from simulator.camera.code_cards import CodeKind, paste_card, render_code_card

# Where the astronaut's face sits in skimage.data.astronaut() (512x512), as OpenCV's
# frontal-face Haar cascade boxes it: x, y, w, h.
_ASTRONAUT_FACE = (177, 67, 93, 93)
# Head-and-shoulders crop of the astronaut photo: x0, y0, x1, y1.
_ASTRONAUT_CROP = (20, 8, 430, 512)


def _astronaut_bust() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head and shoulders (BGR) and a soft silhouette mask (float 0..1).

    Loaded once per process: skimage reads and decodes the bundled PNG on every call.
    """
    from skimage import data  # scikit-image is a simulator-only dependency

    rgb = data.astronaut()
    x0, y0, x1, y1 = _ASTRONAUT_CROP
    bust = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])  # RGB -> BGR

    # Silhouette in the photo's coordinates: head with hair, the suit's neck ring and
    # the torso down to the bottom edge; the photo's flag, shuttle and sky stay out.
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.ellipse(mask, (226, 86), (74, 72), 0, 0, 360, 255, -1)  # hair
    cv2.ellipse(mask, (224, 118), (52, 52), 0, 0, 360, 255, -1)  # face and jaw
    # fmt: off
    silhouette = np.array(
        [(40, 512), (42, 330), (70, 280), (112, 245), (118, 195), (135, 176), (190, 158),
         (262, 158), (300, 172), (306, 195), (302, 250), (332, 270), (358, 325), (366, 512)],
        np.int32,
    )
    # fmt: on
    cv2.fillPoly(mask, [silhouette], 255)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)
    alpha = np.ascontiguousarray(mask[y0:y1, x0:x1]).astype(np.float32) / 255.0
    bust.setflags(write=False)
    alpha.setflags(write=False)
    return bust, alpha


def _service_hall(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A defocused service hall behind the kiosk: wall, lights, signs, counter, floor."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    wall_top = np.array([214, 222, 226], np.float32)  # BGR: cool white under ceiling lights
    wall_bottom = np.array([150, 165, 178], np.float32)  # warm grey lower wall
    img = wall_top * (1 - ys) + wall_bottom * ys
    img = img * (1.0 - 0.12 * (xs - 0.5) ** 2 * 4)  # vignetting towards the sides
    img = np.broadcast_to(img, (height, width, 3)).copy()

    def box(x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int]) -> None:
        top_left = (int(x0 * width), int(y0 * height))
        bottom_right = (int(x1 * width), int(y1 * height))
        cv2.rectangle(img, top_left, bottom_right, colour, -1)

    for cx in (0.15, 0.5, 0.85):  # ceiling light strips
        box(cx - 0.09, 0.0, cx + 0.09, 0.025, (250, 252, 252))
    box(0.0, 0.0, 0.06, 1.0, (170, 178, 184))  # pillars
    box(0.94, 0.0, 1.0, 1.0, (170, 178, 184))
    box(0.08, 0.08, 0.36, 0.2, (140, 80, 30))  # blue hall sign with "text"
    for i in range(5):
        box(0.1 + i * 0.05, 0.12, 0.13 + i * 0.05, 0.16, (235, 235, 235))
    box(0.66, 0.07, 0.9, 0.22, (40, 35, 35))  # queue display with red "digits"
    for i in range(4):
        box(0.68 + i * 0.055, 0.1, 0.72 + i * 0.055, 0.19, (40, 40, 210))
    box(0.0, 0.62, 1.0, 0.78, (120, 130, 140))  # service counter with a green stripe
    box(0.0, 0.62, 1.0, 0.64, (90, 150, 60))
    box(0.0, 0.78, 1.0, 1.0, (110, 112, 116))  # floor
    for i in range(7):  # waiting chairs along the counter
        x = 0.04 + i * 0.14 + rng.uniform(-0.01, 0.01)
        box(x, 0.7, x + 0.08, 0.76, (150, 110, 60))
    # The far side of the hall is out of the camera's depth of field.
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, width / 320))
    return np.clip(img, 0, 255).astype(np.uint8)


class FaceScene(StrEnum):
    """What stands in front of the simulated face camera."""

    NOBODY = "nobody"  # the empty hall
    LIVE = "live"  # one citizen at ``face_scale``, centred, swaying a little, blinking
    TOO_FAR = "too_far"  # a citizen standing well back
    TOO_CLOSE = "too_close"  # a face filling the frame
    OFF_CENTRE = "off_centre"  # a citizen standing to one side
    BLURRED = "blurred"  # out of focus (a smudged lens, or leaning in too fast)
    DARK = "dark"  # the hall's lights are down
    BACKLIT = "backlit"  # a bright window behind the citizen
    GLARE = "glare"  # a specular highlight on the face (glasses, a lamp)
    TWO_FACES = "two_faces"  # someone looks over the citizen's shoulder
    STILL_PHOTO = "still_photo"  # a printed photo held up, perfectly still, never blinking


# Scene -> (face size as a fraction of the frame height, horizontal offset of the face
# centre as a fraction of the frame width); None: use ``face_scale``.
_SCENE_LAYOUT: dict[FaceScene, tuple[float | None, float]] = {
    FaceScene.LIVE: (None, 0.0),
    FaceScene.TOO_FAR: (0.11, 0.0),
    FaceScene.TOO_CLOSE: (0.66, 0.0),
    FaceScene.OFF_CENTRE: (None, 0.3),
    FaceScene.BLURRED: (None, 0.0),
    FaceScene.DARK: (None, 0.0),
    FaceScene.BACKLIT: (None, 0.0),
    FaceScene.GLARE: (None, 0.0),
    FaceScene.TWO_FACES: (None, -0.18),
    FaceScene.STILL_PHOTO: (None, 0.0),
}
# Where the astronaut's open eyes are in the photo (centres), for painting blinks.
_ASTRONAUT_EYES = ((202, 100), (246, 103))


@functools.cache
def _astronaut_eyes_closed() -> np.ndarray:
    """The head-and-shoulders crop with both eyelids shut (BGR)."""
    bust, _ = _astronaut_bust()
    closed = bust.copy()
    x_off, y_off = _ASTRONAUT_CROP[0], _ASTRONAUT_CROP[1]
    for ex, ey in _ASTRONAUT_EYES:
        cx, cy = ex - x_off, ey - y_off
        # The lid takes the colour of the skin just above the eye.
        lid = bust[cy - 13 : cy - 9, cx - 6 : cx + 6].reshape(-1, 3).mean(axis=0)
        cv2.ellipse(closed, (cx, cy), (10, 7), 0, 0, 360, tuple(float(v) for v in lid), -1)
        cv2.ellipse(closed, (cx, cy + 1), (9, 3), 0, 0, 180, (60, 60, 80), 1)  # lashes
    region = closed[cy - 20 : cy + 20, :]
    closed[cy - 20 : cy + 20, :] = cv2.GaussianBlur(region, (3, 3), 0)
    closed.setflags(write=False)
    return closed


@functools.cache
def _astronaut_print() -> np.ndarray:
    """The photo as printed on paper: the same crop, its own background, a white border."""
    from skimage import data

    rgb = data.astronaut()
    x0, y0, x1, y1 = _ASTRONAUT_CROP
    photo = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])
    # Prints are flatter than life: less contrast, a little warmer.
    photo = cv2.convertScaleAbs(photo, alpha=0.85, beta=22)
    border = 24
    printed = cv2.copyMakeBorder(photo, border, border, border, border, cv2.BORDER_CONSTANT,
                                 value=(236, 240, 242))  # fmt: skip
    printed.setflags(write=False)
    return printed


class SceneComposer:
    """Composes what a kiosk's face camera sees: the hall, and whoever stands in front.

    ``scene`` (a :class:`FaceScene` name) says who that is; ``face_visible`` switches
    between the chosen person scene and the empty hall (setting ``scene`` to a person
    scene also makes it visible). ``face_scale`` is the height of a live citizen's face
    (as a frontal-face detector boxes it) as a fraction of the frame height. Frames are
    BGR uint8 with mild sensor noise, a slight flicker, a slow sway of the person and a
    blink every ``blink_period`` frames, so consecutive frames differ like a live
    camera's. ``show_code`` holds a QR code or barcode up to the camera.
    """

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0) -> None:
        self.width = width
        self.height = height
        self.face_visible = False
        self.face_scale = 0.25
        self.blink_period = 40  # frames between blinks (about 3 s at 15 fps)
        self.blink_frames = 2  # a blink lasts about 130 ms
        self._person_scene = FaceScene.LIVE
        self._rng = np.random.default_rng(seed)
        self._background = _service_hall(width, height, self._rng)
        self._window = self._backlit_background()
        self._noise = self._make_noise_bank()
        self._frame_index = 0
        self._sprites: dict[tuple[float, str], tuple[np.ndarray, np.ndarray]] = {}
        self._code: tuple[str, CodeKind] | None = None
        self._code_card: np.ndarray | None = None

    @property
    def scene(self) -> str:
        """The scene's name: ``nobody`` while no face is visible."""
        return FaceScene.NOBODY.value if not self.face_visible else self._person_scene.value

    @scene.setter
    def scene(self, name: str) -> None:
        scene = FaceScene(name)  # ValueError for an unknown name
        if scene is FaceScene.NOBODY:
            self.face_visible = False
        else:
            self._person_scene = scene
            self.face_visible = True

    @property
    def code(self) -> tuple[str, str] | None:
        """The code being held up to the camera: (data, kind), or None."""
        return None if self._code is None else (self._code[0], self._code[1].value)

    def show_code(self, data: str, kind: CodeKind | str = CodeKind.QR) -> None:
        """Hold a card with ``data`` encoded as ``kind`` in front of the camera."""
        kind = CodeKind(kind)
        self._code_card = render_code_card(data, kind)
        self._code = (data, kind)

    def hide_code(self) -> None:
        self._code = None
        self._code_card = None

    def next_frame(self) -> np.ndarray:
        """The next frame of the scene (advances time by one frame)."""
        t = self._frame_index
        self._frame_index += 1
        scene = FaceScene(self.scene)
        # Lights flicker a little and the auto-exposure hunts: about +-1.5% brightness.
        gain = 1.0 + 0.015 * math.sin(t * 0.9) + self._rng.normal(0.0, 0.003)
        background = self._window if scene is FaceScene.BACKLIT else self._background
        frame = cv2.convertScaleAbs(background, alpha=gain)
        if scene is not FaceScene.NOBODY:
            self._compose_scene(frame, scene, t)
        if self._code_card is not None:
            paste_card(frame, self._code_card, (0.5, 0.5), 4.0 * math.sin(t * 0.05), 0.6)
        if scene is FaceScene.DARK:
            cv2.convertScaleAbs(frame, dst=frame, alpha=0.22)
        # Sensor noise comes from a bank drawn at start-up: fresh Gaussian noise for a
        # whole frame costs more than composing it. Saturating add/subtract, no wrap.
        brighter, darker = self._noise[int(self._rng.integers(len(self._noise)))]
        cv2.add(frame, brighter, dst=frame)
        cv2.subtract(frame, darker, dst=frame)
        return frame

    def _compose_scene(self, frame: np.ndarray, scene: FaceScene, t: int) -> None:
        size, offset = _SCENE_LAYOUT[scene]
        scale = self.face_scale if size is None else size
        if scene is FaceScene.STILL_PHOTO:
            self._composite(frame, scale, offset, "print", (0, 0))
            return
        sway = (round(1.5 * math.sin(t * 0.37)), round(1.0 * math.sin(t * 0.23 + 1.0)))
        blinking = self.blink_period > 0 and (t % self.blink_period) >= (
            self.blink_period - self.blink_frames
        )
        look = "closed" if blinking else "open"
        if scene is FaceScene.TWO_FACES:
            # Someone a step behind, over the citizen's shoulder, a little smaller.
            behind = (round(1.2 * math.sin(t * 0.29 + 2.0)), round(0.8 * math.sin(t * 0.31)))
            self._composite(frame, scale * 0.85, 0.22, "open", behind, raise_by=0.08)
        if scene is FaceScene.BLURRED:
            look = "blurred"
        self._composite(frame, scale, offset, look, sway)
        if scene is FaceScene.BACKLIT:
            # The citizen is lit only by the hall behind the camera: a dark silhouette.
            self._darken_person(frame, scale, offset, sway)
        elif scene is FaceScene.GLARE:
            self._glare(frame, scale, offset, sway)

    def _sprite(self, scale: float, look: str) -> tuple[np.ndarray, np.ndarray]:
        """The bust scaled so its face is ``scale`` of the frame height: (BGR, alpha)."""
        key = (scale, look)
        if key not in self._sprites:
            bust, alpha = _astronaut_bust()
            if look == "closed":
                bust = _astronaut_eyes_closed()
            elif look == "print":
                bust = _astronaut_print()
                alpha = np.ones(bust.shape[:2], np.float32)
            factor = scale * self.height / _ASTRONAUT_FACE[3]
            size = (max(1, round(bust.shape[1] * factor)), max(1, round(bust.shape[0] * factor)))
            interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
            sprite = cv2.resize(bust, size, interpolation=interp)
            if look == "blurred":
                sprite = cv2.GaussianBlur(sprite, (0, 0), max(1.5, 0.035 * scale * self.height))
            sprite_alpha = cv2.resize(alpha, size, interpolation=interp)
            if len(self._sprites) > 16:
                self._sprites.clear()
            self._sprites[key] = (sprite, sprite_alpha)
        return self._sprites[key]

    def _placement(
        self, scale: float, offset: float, look: str, sway: tuple[int, int], raise_by: float = 0.0
    ) -> tuple[int, int, float]:
        """Top-left corner of the sprite in the frame, and the sprite's scale factor."""
        factor = scale * self.height / _ASTRONAUT_FACE[3]
        fx, fy, fw, fh = _ASTRONAUT_FACE
        border = 24 if look == "print" else 0
        face_cx = (fx + fw / 2 - _ASTRONAUT_CROP[0] + border) * factor
        face_cy = (fy + fh / 2 - _ASTRONAUT_CROP[1] + border) * factor
        # Face centred horizontally, slightly above the middle, as a kiosk camera frames it.
        left = round(self.width * (0.5 + offset) - face_cx) + sway[0]
        top = round(self.height * (0.45 - raise_by) - face_cy) + sway[1]
        return left, top, factor

    def _composite(
        self,
        frame: np.ndarray,
        scale: float,
        offset: float,
        look: str,
        sway: tuple[int, int],
        raise_by: float = 0.0,
    ) -> None:
        sprite, alpha = self._sprite(scale, look)
        left, top, _ = self._placement(scale, offset, look, sway, raise_by)
        x0, y0 = max(left, 0), max(top, 0)
        x1 = min(left + sprite.shape[1], self.width)
        y1 = min(top + sprite.shape[0], self.height)
        if x0 >= x1 or y0 >= y1:
            return
        src = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        weights = np.ascontiguousarray(alpha[src])
        frame[y0:y1, x0:x1] = cv2.blendLinear(
            np.ascontiguousarray(sprite[src]),
            np.ascontiguousarray(frame[y0:y1, x0:x1]),
            weights,
            1.0 - weights,
        )

    def _face_rect(
        self, scale: float, offset: float, sway: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        left, top, factor = self._placement(scale, offset, "open", sway)
        fx, fy, fw, fh = _ASTRONAUT_FACE
        x = left + round((fx - _ASTRONAUT_CROP[0]) * factor)
        y = top + round((fy - _ASTRONAUT_CROP[1]) * factor)
        return x, y, round(fw * factor), round(fh * factor)

    def _darken_person(
        self, frame: np.ndarray, scale: float, offset: float, sway: tuple[int, int]
    ) -> None:
        sprite, alpha = self._sprite(scale, "open")
        left, top, _ = self._placement(scale, offset, "open", sway)
        x0, y0 = max(left, 0), max(top, 0)
        x1 = min(left + sprite.shape[1], self.width)
        y1 = min(top + sprite.shape[0], self.height)
        weights = alpha[y0 - top : y1 - top, x0 - left : x1 - left, None]
        region = frame[y0:y1, x0:x1].astype(np.float32)
        shade = 1.0 - 0.6 * weights  # the person at 40% of their lit brightness
        frame[y0:y1, x0:x1] = np.clip(region * shade, 0, 255).astype(np.uint8)

    def _glare(self, frame: np.ndarray, scale: float, offset: float, sway: tuple[int, int]) -> None:
        x, y, w, h = self._face_rect(scale, offset, sway)
        spot = np.zeros(frame.shape[:2], np.float32)
        # A lamp's reflection across the glasses and the forehead.
        cv2.ellipse(spot, (x + w * 2 // 5, y + h // 5), (w // 5, h // 12), -10, 0, 360, 1.0, -1)
        cv2.ellipse(spot, (x + w * 2 // 3, y + h * 3 // 5), (w // 9, h // 14), 20, 0, 360, 1.0, -1)
        spot = cv2.GaussianBlur(spot, (0, 0), max(1.0, w / 40))
        lifted = frame.astype(np.float32) + spot[:, :, None] * 300.0
        frame[:] = np.clip(lifted, 0, 255).astype(np.uint8)

    def _backlit_background(self) -> np.ndarray:
        """The hall with a bright window behind the kiosk: most of it blown out."""
        window = cv2.convertScaleAbs(self._background, alpha=1.7, beta=40)
        return window

    def _make_noise_bank(
        self, count: int = 12, sigma: float = 2.5
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        bank = []
        shape = (self.height, self.width)
        for _ in range(count):
            noise = np.rint(self._rng.normal(0.0, sigma, shape)).astype(np.int16)
            noise = np.repeat(noise[:, :, None], 3, axis=2)  # luminance noise
            bank.append(
                (np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8))
            )
        return bank
