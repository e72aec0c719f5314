"""Document-camera pages: find the page in the frame, undo the perspective, even out the
light, straighten it, and put pages into one PDF, all in memory.

Made for a document camera looking down at a dark scanning bed (as kiosk document
cameras do): a page is the large, bright, four-cornered region of the frame. Pages may
carry personal data: nothing here writes to disk.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import img2pdf
import numpy as np
from PIL import Image


class ScanFailure(StrEnum):
    """Why no clean page came out of a frame; the kiosk turns it into an instruction."""

    NO_PAGE = "no_page"  # nothing page-like on the bed
    PAGE_TOO_SMALL = "page_too_small"  # something is there, but too small to read
    PAGE_CUT_OFF = "page_cut_off"  # the page runs off the camera's view
    TOO_DARK = "too_dark"  # the bed is unlit (lamp failure) or the lens is covered
    BAD_IMAGE = "bad_image"  # not an image this module can work on


class DocumentScanError(Exception):
    """A frame gave no page, with the reason."""

    def __init__(self, reason: ScanFailure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


class PageFormat(StrEnum):
    """What the page's proportions suggest it is; sets the PDF's physical page size."""

    A4 = "a4"  # 210 x 297 mm, ratio 1.414
    ID1 = "id1"  # 85.6 x 53.98 mm (ISO/IEC 7810 ID-1: identity and bank cards), ratio 1.586
    UNKNOWN = "unknown"


_LONG_SIDE_MM = {PageFormat.A4: 297.0, PageFormat.ID1: 85.6}
_FORMAT_RATIOS = {PageFormat.A4: math.sqrt(2), PageFormat.ID1: 85.6 / 53.98}
_DEFAULT_DPI = 150.0


@dataclass(frozen=True)
class ScannedImage:
    """One clean page: grey (or BGR) uint8, upright as it lay, plus how it was found.

    ``corners`` are the page's corners in the source frame (TL, TR, BR, BL), ``coverage``
    the page's share of the frame, ``skew_deg`` the rotation removed after rectifying.
    """

    image: np.ndarray = field(repr=False)
    corners: tuple[tuple[float, float], ...]
    coverage: float
    skew_deg: float
    format: PageFormat

    @property
    def dpi(self) -> float:
        """Pixels per inch, from the format's real size (150 when unknown)."""
        long_mm = _LONG_SIDE_MM.get(self.format)
        if long_mm is None:
            return _DEFAULT_DPI
        return float(max(self.image.shape[:2]) / (long_mm / 25.4))


def find_page(
    frame_bgr: np.ndarray, min_coverage: float = 0.015, work_width: int = 640
) -> np.ndarray:
    """The page's corners in frame coordinates (float32 4x2: TL, TR, BR, BL).

    Raises DocumentScanError (NO_PAGE, PAGE_TOO_SMALL, PAGE_CUT_OFF, TOO_DARK, BAD_IMAGE).
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise DocumentScanError(ScanFailure.BAD_IMAGE, f"shape {frame_bgr.shape}")
    height, width = frame_bgr.shape[:2]
    if min(height, width) < 32:
        raise DocumentScanError(ScanFailure.BAD_IMAGE, f"frame {width}x{height} too small")
    scale = min(1.0, work_width / width)
    small = cv2.resize(frame_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Paper is bright in every channel; a wooden or dark bed is not. The smallest channel
    # separates them better than luminance does.
    whiteness = cv2.min(cv2.min(small[:, :, 0], small[:, :, 1]), small[:, :, 2])
    whiteness = cv2.GaussianBlur(whiteness, (5, 5), 0)
    if float(cv2.mean(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))[0]) < 25:
        raise DocumentScanError(ScanFailure.TOO_DARK)
    threshold, mask = cv2.threshold(whiteness, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    sh, sw = mask.shape
    best = None
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
        area = cv2.contourArea(contour)
        region = np.zeros_like(mask)
        cv2.drawContours(region, [contour], -1, 255, -1)
        inside = cv2.mean(whiteness, region)[0]
        outside = cv2.mean(whiteness, cv2.bitwise_not(region))[0]
        # Otsu always splits something; a page is clearly brighter than what is around it.
        if inside < 100 or inside - outside < 50:
            continue
        best = (contour, area)
        break
    if best is None:
        raise DocumentScanError(ScanFailure.NO_PAGE, f"threshold {threshold:.0f}")
    contour, area = best
    coverage = area / float(sh * sw)
    if coverage < min_coverage:
        raise DocumentScanError(ScanFailure.PAGE_TOO_SMALL, f"{coverage:.1%} of the frame")
    x, y, w, h = cv2.boundingRect(contour)
    if x <= 1 or y <= 1 or x + w >= sw - 1 or y + h >= sh - 1:
        raise DocumentScanError(ScanFailure.PAGE_CUT_OFF)
    quad = _four_corners(contour)
    return _order_corners(quad / scale)


def _four_corners(contour: np.ndarray) -> np.ndarray:
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    # Dog-eared or curled: the best rectangle around it.
    return cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)


def _order_corners(points: np.ndarray) -> np.ndarray:
    """TL, TR, BR, BL: by angle around the centre, starting top-left."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    ordered = points[np.argsort(angles)]  # from -pi: TL-ish, TR, BR, BL (y grows down)
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0).astype(np.float32)


def rectify(frame_bgr: np.ndarray, corners: np.ndarray, max_side: int = 2400) -> np.ndarray:
    """The page cut out of the frame and seen straight on (BGR), trimmed of edge slivers."""
    tl, tr, br, bl = corners.astype(np.float32)
    width = float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = float(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    factor = min(1.0, max_side / max(width, height, 1.0))
    out_w, out_h = max(8, round(width * factor)), max(8, round(height * factor))
    # Corners found at reduced resolution may sit a pixel or two on the bed: trim 0.5%.
    trim_x, trim_y = out_w * 0.005, out_h * 0.005
    target = np.array(
        [(-trim_x, -trim_y), (out_w + trim_x, -trim_y), (out_w + trim_x, out_h + trim_y),
         (-trim_x, out_h + trim_y)], np.float32,
    )  # fmt: skip
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(frame_bgr, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def flatten_illumination(image: np.ndarray) -> np.ndarray:
    """Divide out the paper's own brightness (shadows, lamp fall-off, glare halos), so
    the paper comes out white and the ink dark, grey or BGR alike."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    small = cv2.resize(
        grey, (max(8, width // 4), max(8, height // 4)), interpolation=cv2.INTER_AREA
    )
    # Closing removes dark strokes narrower than the kernel: what is left is the paper.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    paper = cv2.medianBlur(paper, 15)
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    paper = np.maximum(paper, 1).astype(np.uint8)
    if image.ndim == 2:
        flat = cv2.divide(grey, paper, scale=255)
    else:
        flat = cv2.divide(image, cv2.merge([paper, paper, paper]), scale=255)
    # A touch of contrast: ink a little darker, paper's fibres to white.
    return cv2.convertScaleAbs(flat, alpha=1.15, beta=-255 * 0.15)


def estimate_skew(grey: np.ndarray, max_angle: float = 6.0) -> float:
    """The rotation (degrees, counter-clockwise positive) that makes text lines level.

    Projection profiles: rows of a level text page alternate between ink and paper, so
    the variance of the row sums peaks when the page is straight. 0.0 without text.
    """
    height, width = grey.shape
    factor = min(1.0, 500 / width)
    small = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    ink = (small < 128).astype(np.float32)
    if ink.mean() < 0.005:
        return 0.0
    centre = (small.shape[1] / 2, small.shape[0] / 2)

    def score(angle: float) -> float:
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rotated = cv2.warpAffine(ink, matrix, (small.shape[1], small.shape[0]),
                                 flags=cv2.INTER_NEAREST)  # fmt: skip
        return float(np.var(rotated.sum(axis=1)))

    coarse = max((float(a) for a in np.arange(-max_angle, max_angle + 0.01, 1.0)), key=score)
    fine = max((float(a) for a in np.arange(coarse - 1.0, coarse + 1.01, 0.2)), key=score)
    return round(float(fine), 2)


def deskew(image: np.ndarray, max_angle: float = 6.0) -> tuple[np.ndarray, float]:
    """The image rotated level (paper-white corners), and the angle applied."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    angle = estimate_skew(grey, max_angle)
    if abs(angle) < 0.5:  # below this the estimate is within its own error
        return image, 0.0
    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    fill = 255 if image.ndim == 2 else (255, 255, 255)
    rotated = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=fill)  # fmt: skip
    return rotated, angle


def guess_format(width: int, height: int) -> PageFormat:
    ratio = max(width, height) / max(1, min(width, height))
    for page_format, expected in _FORMAT_RATIOS.items():
        if abs(ratio - expected) < 0.05:
            return page_format
    return PageFormat.UNKNOWN


def scan_page(frame_bgr: np.ndarray, colour: bool = False, max_side: int = 2400) -> ScannedImage:
    """One frame to one clean page; raises DocumentScanError when there is no page."""
    corners = find_page(frame_bgr)
    page = rectify(frame_bgr, corners, max_side=max_side)
    if not colour:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    flat = flatten_illumination(page)
    straight, angle = deskew(flat)
    height, width = frame_bgr.shape[:2]
    coverage = float(cv2.contourArea(corners)) / (width * height)
    return ScannedImage(
        image=straight,
        corners=tuple((float(x), float(y)) for x, y in corners),
        coverage=round(coverage, 4),
        skew_deg=angle,
        format=guess_format(straight.shape[1], straight.shape[0]),
    )


def scan_pages_to_pdf(images: Sequence[ScannedImage | np.ndarray], jpeg_quality: int = 80) -> bytes:
    """One PDF (bytes, in memory) with a page per image, sized to the page's real format.

    Each page is embedded as a JPEG (img2pdf copies it without re-encoding).
    """
    if not images:
        raise DocumentScanError(ScanFailure.NO_PAGE, "no pages to put in a PDF")
    encoded = []
    for item in images:
        if isinstance(item, ScannedImage):
            pixels, dpi = item.image, item.dpi
        else:
            pixels = item
            dpi = _DEFAULT_DPI
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
            raise DocumentScanError(ScanFailure.BAD_IMAGE, f"page of {pixels.dtype} {pixels.shape}")
        rgb = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=jpeg_quality, dpi=(dpi, dpi))
        encoded.append(buffer.getvalue())
    pdf = img2pdf.convert(encoded)
    assert pdf is not None
    return bytes(pdf)


__all__ = [
    "DocumentScanError",
    "PageFormat",
    "ScanFailure",
    "ScannedImage",
    "deskew",
    "estimate_skew",
    "find_page",
    "flatten_illumination",
    "guess_format",
    "rectify",
    "scan_page",
    "scan_pages_to_pdf",
]
