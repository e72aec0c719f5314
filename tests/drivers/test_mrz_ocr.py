"""drivers.mrz_ocr against the simulator's rendered data pages (the real producer, in-process)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.mrz import parse_mrz
from drivers.mrz_ocr import MrzReading, MrzRefusal, read_mrz
from simulator.camera.data_page import (
    PageFault,
    PageFaults,
    random_faults,
    random_holder,
    render_data_page,
)
from simulator.icao_chip.mrz import MrzLayout, mrz_lines


def _truth(holder, layout):
    return parse_mrz("".join(mrz_lines(holder, layout)))


@pytest.mark.parametrize("layout", list(MrzLayout))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_page_reads_every_layout(layout, seed):
    holder = random_holder(seed, layout)
    reading = read_mrz(render_data_page(holder, layout, seed=seed))
    assert reading.refusal is None
    assert reading.data == _truth(holder, layout)
    assert reading.layout is not None and reading.layout.value == layout.value


def test_bgr_page_and_lower_part_read_too():
    holder = random_holder(9, MrzLayout.TD3)
    page = render_data_page(holder, MrzLayout.TD3, seed=9)
    bgr = np.repeat(page[:, :, None], 3, axis=2)
    assert read_mrz(bgr).data == _truth(holder, MrzLayout.TD3)
    assert read_mrz(page[page.shape[0] * 2 // 3 :]).data == _truth(holder, MrzLayout.TD3)


@pytest.mark.parametrize("kind", [k for k in PageFault if k is not PageFault.CLEAN])
@pytest.mark.parametrize("layout", list(MrzLayout))
def test_faulted_page_is_read_right_or_refused(kind, layout):
    holder = random_holder(40, layout)
    page = render_data_page(holder, layout, random_faults(kind, layout, 40), seed=40)
    reading = read_mrz(page)
    assert reading.data is None or reading.data == _truth(holder, layout)
    assert (reading.data is None) != (reading.refusal is None)


@pytest.mark.parametrize("layout", list(MrzLayout))
def test_occluded_check_digit_is_refused(layout):
    holder = random_holder(5, layout)
    last = 2 if layout is MrzLayout.TD1 else 1
    faults = PageFaults(finger_over=(last, layout.width - 1))  # the composite check digit
    reading = read_mrz(render_data_page(holder, layout, faults, seed=5))
    assert reading.data is None
    assert reading.refusal in (MrzRefusal.ILLEGIBLE, MrzRefusal.CHECK_DIGITS)


def test_reading_repr_shows_no_mrz_content():
    holder = random_holder(3, MrzLayout.TD2)
    reading = read_mrz(render_data_page(holder, MrzLayout.TD2, seed=3))
    assert reading.data is not None
    assert holder.surname.split()[0] not in repr(reading)
    assert holder.document_number not in repr(reading)


@st.composite
def _images(draw):
    h, w = draw(st.sampled_from([(0, 0), (1, 1), (5, 300), (30, 2000), (200, 300), (600, 900),
                                 (3000, 400), (3000, 4500)]))
    kind = draw(st.sampled_from(["blank", "noise", "shapes", "colour"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "blank":
        return np.full((h, w), draw(st.integers(0, 255)), np.uint8)
    if kind == "noise":
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    if kind == "colour":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    image = np.full((h, w), 230, np.uint8)
    for _ in range(draw(st.integers(0, 60))):
        y, x = rng.integers(0, max(h, 1)), rng.integers(0, max(w, 1))
        image[y : y + rng.integers(1, 40), x : x + rng.integers(1, 40)] = rng.integers(0, 120)
    return image


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_images())
def test_arbitrary_images_are_refused_or_hold_their_check_digits(image):
    reading = read_mrz(image)
    assert isinstance(reading, MrzReading)
    if reading.data is None:
        assert isinstance(reading.refusal, MrzRefusal)
    else:
        assert reading.data.check_digits_ok
