"""A travel document's data page as the document camera gives it once rectified: the page
(printed fields, a photo box) with its machine-readable zone in OCR-B, and the faults of a
real scan switched on as options (a lamp's glare, blur, a residual tilt, a finger on the band).

Sizes follow ICAO 9303 Parts 3-5: a character pitch of 2.54 mm, about 4 mm per MRZ line, on
ID-1 (TD1), ID-2 (TD2) and ID-3 (TD3) pages. Deterministic for a seed.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from simulator.icao_chip.mrz import MrzLayout, TravelDocumentHolder, mrz_lines

OCRB_FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"  # Debian's fonts-ocr-b
PITCH_MM = 2.54
LINE_MM = 4.0
# The page sizes (mm) of each layout (ISO/IEC 7810 ID-1, ID-2, ID-3), and the band's margins.
PAGE_MM = {MrzLayout.TD1: (85.6, 53.98), MrzLayout.TD2: (105.0, 74.0),
            MrzLayout.TD3: (125.0, 88.0)}  # fmt: skip
_LEFT_MM = {MrzLayout.TD1: 4.2, MrzLayout.TD2: 6.0, MrzLayout.TD3: 6.0}
_BOTTOM_MM = 4.0
_PAPER = 238
_INK = 28


class PageFault(StrEnum):
    """The kinds of trouble a scan of a data page has."""

    CLEAN = "clean"
    GLARE = "glare"  # a bright reflection of the lamp over part of the band
    BLUR = "blur"  # out of focus or moved
    TILT = "tilt"  # a few degrees left after rectifying
    OCCLUSION = "occlusion"  # a fingertip over part of the band


@dataclass(frozen=True)
class PageFaults:
    """Faults to draw; `finger_over` is the (line, column) of the MRZ cell a fingertip covers."""

    glare: bool = False
    blur_sigma: float = 0.0
    tilt_deg: float = 0.0
    finger_over: tuple[int, int] | None = None
    noise: float = 2.5


def random_faults(kind: PageFault, layout: MrzLayout, seed: int) -> PageFaults:
    """Faults of one kind with the strength and place drawn from `seed`."""
    rng = random.Random(seed)
    if kind is PageFault.GLARE:
        return PageFaults(glare=True)
    if kind is PageFault.BLUR:
        return PageFaults(blur_sigma=rng.uniform(0.8, 1.5))
    if kind is PageFault.TILT:
        return PageFaults(tilt_deg=rng.uniform(1.5, 4.0) * rng.choice((-1, 1)))
    if kind is PageFault.OCCLUSION:
        lines = 3 if layout is MrzLayout.TD1 else 2
        return PageFaults(finger_over=(rng.randrange(lines), rng.randrange(layout.width)))
    return PageFaults()


def random_holder(seed: int, layout: MrzLayout) -> TravelDocumentHolder:
    """A made-up holder whose document fits `layout` (test data only)."""
    rng = random.Random(seed)
    letters, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"

    def word(low: int, high: int) -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(low, high)))

    def date() -> str:
        return f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"

    number = rng.choice(letters) + "".join(rng.choice(digits + letters[:6]) for _ in range(8))
    code = {MrzLayout.TD1: ("ID", "I", "AC"), MrzLayout.TD2: ("CS", "CD", "I"),
            MrzLayout.TD3: ("P", "PO")}[layout]  # fmt: skip
    state = rng.choice(("CHN", "HKG", "MAC", "D", "FRA", "GBR", "UTO"))
    optional = "" if rng.random() < 0.5 else word(1, 3) + str(rng.randint(0, 9999))
    return TravelDocumentHolder(
        document_code=rng.choice(code), issuing_state=state, document_number=number,
        birth_date=date(), sex=rng.choice("MF<"), expiry_date=date(), nationality=state,
        surname=" ".join(word(2, 9) for _ in range(rng.choice((1, 1, 2)))),
        given_names=" ".join(word(2, 8) for _ in range(rng.choice((1, 2, 2, 3)))),
        optional_data=optional[:7],
    )  # fmt: skip


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(OCRB_FONT, size)


def _px(mm: float, dpi: float) -> float:
    return mm / 25.4 * dpi


def _draw_mrz(page: Image.Image, lines: list[str], layout: MrzLayout, dpi: float) -> None:
    """The MRZ in OCR-B, drawn at four times the scale and reduced, so the pitch is exact."""
    scale = 4
    pitch = _px(PITCH_MM, dpi) * scale
    line_px = _px(LINE_MM, dpi) * scale
    # OCR-B's advance is 0.723 em: the size whose advance is the pitch
    font = _font(round(pitch / 0.723))
    width = round(pitch * (len(lines[0]) + 1))
    height = round(line_px * len(lines))
    band = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(band)
    for row, line in enumerate(lines):
        for column, ch in enumerate(line):
            xy = (pitch * column, line_px * (row + 0.5))
            draw.text(xy, ch, font=font, fill=0, anchor="lm")
    band = band.resize((round(width / scale), round(height / scale)), Image.Resampling.LANCZOS)
    left = round(_px(_LEFT_MM[layout], dpi))
    top = page.height - round(_px(_BOTTOM_MM, dpi)) - band.height
    ink = Image.new("L", band.size, _INK)
    page.paste(ink, (left, top), Image.eval(band, lambda v: 255 - v))


def _draw_page(size: tuple[int, int], layout: MrzLayout, dpi: float, rng: random.Random) -> (
        np.ndarray):  # fmt: skip
    """The page without its MRZ: a security tint, a photo box and printed fields."""
    w, h = size
    page = np.full((h, w), _PAPER, np.uint8)
    for y in range(0, h, max(3, round(_px(0.6, dpi)))):  # guilloche-like fine lines
        offset = round(_px(1.5, dpi) * math.sin(y / _px(3.0, dpi)))
        cv2.line(page, (0, y), (w, y + offset), _PAPER - 12, 1)
    mrz_top = h - _px(_BOTTOM_MM + LINE_MM * (3 if layout is MrzLayout.TD1 else 2) + 2, dpi)
    margin = round(_px(5, dpi))
    photo_w = round(_px(25 if layout is not MrzLayout.TD1 else 20, dpi))
    photo_h = min(round(photo_w * 1.28), round(mrz_top) - margin * 2)
    cv2.rectangle(page, (margin, margin * 2), (margin + photo_w, margin * 2 + photo_h), 200, -1)
    cx, top = margin + photo_w // 2, margin * 2
    cv2.circle(page, (cx, top + photo_h * 2 // 5), photo_w // 4, 120, -1)
    cv2.ellipse(page, (cx, top + photo_h), (photo_w * 2 // 5, photo_h * 2 // 5), 0, 180, 360,
                120, -1)  # fmt: skip
    x = margin * 2 + photo_w
    y = margin * 2 + round(_px(3, dpi))
    scale = dpi / 300
    cv2.putText(page, "PASSPORT" if layout is MrzLayout.TD3 else "TRAVEL PERMIT",
                (x, margin + round(_px(2, dpi))), cv2.FONT_HERSHEY_DUPLEX, 0.9 * scale, 40,
                max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
    while y < mrz_top - _px(4, dpi):
        label = rng.choice(("Surname", "Given names", "Date of birth", "Place", "Authority"))
        cv2.putText(page, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, 90, 1,
                    cv2.LINE_AA)  # fmt: skip
        value = "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ ") for _ in range(rng.randint(4, 12)))
        cv2.putText(page, value, (x, y + round(_px(3.5, dpi))), cv2.FONT_HERSHEY_SIMPLEX,
                    0.8 * scale, 30, max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
        y += round(_px(7.5, dpi))
    return page


def render_data_page(
    holder: TravelDocumentHolder,
    layout: MrzLayout,
    faults: PageFaults = PageFaults(),
    seed: int = 0,
    dpi: float = 275.0,
) -> np.ndarray:
    """The rectified data page of `holder`'s document in `layout`: grey uint8 at `dpi`."""
    rng = random.Random(seed)
    w_mm, h_mm = PAGE_MM[layout]
    size = (round(_px(w_mm, dpi)), round(_px(h_mm, dpi)))
    page = Image.fromarray(_draw_page(size, layout, dpi, rng))
    _draw_mrz(page, mrz_lines(holder, layout), layout, dpi)
    image = np.asarray(page).astype(np.float32)
    if faults.finger_over is not None:
        _finger(image, layout, dpi, faults.finger_over)
    if faults.glare:
        _glare(image, layout, dpi, rng)
    # the lamp lights the page a little unevenly
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image *= 0.9 + 0.1 * ((xx / w) * rng.uniform(-1, 1) + (yy / h) * rng.uniform(-1, 1))
    if faults.tilt_deg:
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), faults.tilt_deg, 1.0)
        image = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    if faults.blur_sigma:
        image = cv2.GaussianBlur(image, (0, 0), faults.blur_sigma)
    noise = np.random.default_rng(seed).normal(0.0, faults.noise, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _cell_centre(layout: MrzLayout, dpi: float, h: int, cell: tuple[int, int]) -> tuple[int, int]:
    lines = 3 if layout is MrzLayout.TD1 else 2
    line, column = cell
    x = _px(_LEFT_MM[layout] + PITCH_MM * (column + 0.35), dpi)
    y = h - _px(_BOTTOM_MM + LINE_MM * (lines - line - 0.5), dpi)
    return round(x), round(y)


def _finger(image: np.ndarray, layout: MrzLayout, dpi: float, cell: tuple[int, int]) -> None:
    """A fingertip reaching up from the page's lower edge, its tip over `cell`."""
    h = image.shape[0]
    x, y = _cell_centre(layout, dpi, h, cell)
    half = round(_px(7, dpi))
    mask = np.zeros(image.shape, np.float32)
    cv2.ellipse(mask, (x, y + round(_px(10, dpi))), (half, round(_px(12, dpi))), 0, 0, 360, 1.0, -1)
    cv2.rectangle(mask, (x - half, y + round(_px(10, dpi))), (x + half, h), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), _px(0.6, dpi))
    skin = 150 + 30 * cv2.GaussianBlur(mask, (0, 0), _px(3, dpi))  # shaded towards its edge
    image[:] = image * (1 - mask) + skin * mask


def _glare(image: np.ndarray, layout: MrzLayout, dpi: float, rng: random.Random) -> None:
    """A bright blob that washes out part of the band."""
    h, w = image.shape
    lines = 3 if layout is MrzLayout.TD1 else 2
    x, y = _cell_centre(layout, dpi, h, (rng.randrange(lines), rng.randrange(layout.width)))
    radius = _px(rng.uniform(6, 14), dpi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius**2))
    image += blob * (255 - image) * rng.uniform(0.45, 0.7)


__all__ = ["PAGE_MM", "PageFault", "PageFaults", "random_faults", "random_holder", "render_data_page"]
