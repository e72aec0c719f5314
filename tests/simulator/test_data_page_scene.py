"""The document camera's desk with a travel document's data page on it, at both of the
sensor's stream sizes, and the chip whose DG1 prints the same MRZ."""

import numpy as np

from simulator.camera.data_page import PAGE_MM, random_holder, render_data_page
from simulator.camera.document_scene import DocumentSceneComposer
from simulator.icao_chip import IcaoChip
from simulator.icao_chip.files import build_files, default_face_jpeg, dg1
from simulator.icao_chip.mrz import MrzLayout, mrz_lines
from simulator.icao_pki import create_pki


def test_the_data_page_lies_in_the_same_place_in_both_streams():
    composer = DocumentSceneComposer(800, 600, seed=2)
    page = render_data_page(random_holder(2, MrzLayout.TD3), MrzLayout.TD3, dpi=150.0)
    composer.show_data_page(page, PAGE_MM[MrzLayout.TD3][0])
    assert composer.scene == "data_page"
    small, large = composer.next_frame(), composer.at(1600, 1200).next_frame()
    assert small.shape == (600, 800, 3) and large.shape == (1200, 1600, 3)
    bright = (small.min(axis=2) > 150).mean(), (large.min(axis=2) > 150).mean()
    assert 0.03 < bright[0] < 0.2 and abs(bright[0] - bright[1]) < 0.01
    quad = composer.document_quad()
    assert np.ptp(quad[:, 0]) > PAGE_MM[MrzLayout.TD3][0] * 800 / 520 * 0.9


def test_a_passport_chip_holds_its_data_page_mrz_in_dg1():
    holder = random_holder(4, MrzLayout.TD3)
    files = build_files(holder, create_pki(), default_face_jpeg(), layout=MrzLayout.TD3)
    assert files.files[0x0101] == dg1("".join(mrz_lines(holder, MrzLayout.TD3)))
    assert IcaoChip(holder, layout=MrzLayout.TD3).atr()
