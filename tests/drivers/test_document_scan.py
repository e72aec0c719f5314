"""Document scanning on the simulator's desk scenes: find, rectify, flatten, deskew, PDF."""

import re

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.document_scan import (
    DocumentScanError,
    PageFormat,
    ScanFailure,
    estimate_skew,
    find_page,
    flatten_illumination,
    rectify,
    scan_page,
    scan_pages_to_pdf,
)
from simulator.camera.document_scene import DocumentPose, DocumentSceneComposer


def desk(scene: str, pose: DocumentPose | None = None, size=(1280, 960), seed: int = 1):
    composer = DocumentSceneComposer(*size, seed=seed)
    composer.scene = scene
    if pose is not None:
        composer.pose = pose
    return composer


@pytest.mark.parametrize("scene", ["text_page", "form", "id_card"])
@pytest.mark.parametrize("angle", [-15.0, 0.0, 8.0, 25.0])
def test_page_corners_are_found_where_the_page_lies(scene, angle):
    composer = desk(scene, DocumentPose(angle_deg=angle, centre=(0.48, 0.52)))
    corners = find_page(composer.next_frame())
    diagonal = float(np.hypot(composer.width, composer.height))
    assert np.abs(corners - composer.document_quad()).max() < 0.015 * diagonal


@pytest.mark.parametrize(
    ("scene", "page_format", "ratio"),
    [("text_page", PageFormat.A4, 297 / 210), ("id_card", PageFormat.ID1, 85.6 / 53.98)],
)
def test_a_page_comes_out_upright_in_its_own_proportions(scene, page_format, ratio):
    page = scan_page(desk(scene).next_frame())
    height, width = page.image.shape
    assert page.format is page_format
    assert max(width, height) / min(width, height) == pytest.approx(ratio, rel=0.03)
    if scene == "text_page":
        assert height > width  # portrait, as it lay


@pytest.mark.parametrize(
    ("scene", "reason"),
    [("empty", ScanFailure.NO_PAGE), ("cut_off", ScanFailure.PAGE_CUT_OFF)],
)
def test_no_usable_page_is_a_reason_not_an_image(scene, reason):
    with pytest.raises(DocumentScanError) as failure:
        scan_page(desk(scene).next_frame())
    assert failure.value.reason is reason


def test_an_unlit_bed_is_too_dark():
    with pytest.raises(DocumentScanError) as failure:
        find_page(np.full((480, 640, 3), 8, np.uint8))
    assert failure.value.reason is ScanFailure.TOO_DARK


def test_a_speck_is_too_small_to_be_a_page():
    frame = np.full((480, 640, 3), 60, np.uint8)
    cv2.rectangle(frame, (300, 200), (330, 220), (250, 250, 250), -1)
    with pytest.raises(DocumentScanError) as failure:
        find_page(frame)
    assert failure.value.reason is ScanFailure.PAGE_TOO_SMALL


def _paper_levels(grey: np.ndarray) -> tuple[float, float]:
    """The paper's brightness in the top-left and top-right corners (the 80th percentile of
    each: paper, not ink)."""
    rows, third = grey.shape[0] // 4, grey.shape[1] // 3
    left, right = grey[:rows, :third], grey[:rows, -third:]
    return float(np.percentile(left, 80)), float(np.percentile(right, 80))


def test_shadow_across_the_page_is_evened_out():
    composer = desk("text_page", DocumentPose(angle_deg=0, shadow=True, glare=False))
    frame = composer.next_frame()
    raw = cv2.cvtColor(rectify(frame, find_page(frame)), cv2.COLOR_BGR2GRAY)
    left, right = _paper_levels(raw)
    assert right - left > 40  # the shadow falls on the page's top left
    left, right = _paper_levels(flatten_illumination(raw))
    assert abs(right - left) < 8 and min(left, right) > 235


def test_ink_stays_dark_after_flattening():
    page = scan_page(desk("text_page").next_frame())
    assert np.count_nonzero(page.image < 100) / page.image.size > 0.02


def _text_page(angle: float) -> np.ndarray:
    page = np.full((900, 640), 255, np.uint8)
    for line in range(24):
        cv2.putText(page, "record office permit date", (40, 60 + line * 34),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)  # fmt: skip
    matrix = cv2.getRotationMatrix2D((320, 450), angle, 1.0)
    return cv2.warpAffine(page, matrix, (640, 900), borderValue=255)


@pytest.mark.parametrize("angle", [-4.0, -1.6, 2.4, 5.0])
def test_skewed_text_is_measured_to_be_turned_back(angle):
    assert estimate_skew(_text_page(angle)) == pytest.approx(-angle, abs=0.35)


def test_a_blank_page_has_no_skew():
    assert estimate_skew(np.full((400, 300), 250, np.uint8)) == 0.0


def test_pages_become_one_pdf_with_their_real_sizes():
    pages = [scan_page(desk(scene).next_frame()) for scene in ("text_page", "form", "id_card")]
    pdf = scan_pages_to_pdf(pages)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 3" in pdf
    boxes = [
        tuple(float(v) for v in m.groups())
        for m in re.finditer(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    ]
    a4 = (595.3, 841.9)  # points
    id1 = (85.6 / 25.4 * 72, 53.98 / 25.4 * 72)
    assert len(boxes) == 3
    # The card is small in the frame: a pixel of its edge is 0.5% of its size.
    for (w, h), expected, rel in zip(boxes, [a4, a4, id1], [0.02, 0.02, 0.04], strict=True):
        assert sorted((w, h)) == pytest.approx(sorted(expected), rel=rel)


def test_a_pdf_needs_pages():
    with pytest.raises(DocumentScanError) as failure:
        scan_pages_to_pdf([])
    assert failure.value.reason is ScanFailure.NO_PAGE
    with pytest.raises(DocumentScanError) as failure:
        scan_pages_to_pdf([np.zeros((10, 10), np.float32)])
    assert failure.value.reason is ScanFailure.BAD_IMAGE


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 120), st.integers(1, 120), st.sampled_from([1, 3, 4])),
        elements=st.integers(0, 255),
    )
)
def test_any_image_gives_a_page_or_a_reason(image):
    try:
        corners = find_page(image)
    except DocumentScanError as exc:
        assert isinstance(exc.reason, ScanFailure)
    else:
        assert corners.shape == (4, 2)
