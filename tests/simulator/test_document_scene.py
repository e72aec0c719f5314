"""The document camera's desk: documents where the composer says, lit as it says."""

import numpy as np
import pytest

from simulator.camera.document_scene import DocumentPose, DocumentSceneComposer


def test_the_empty_desk_is_dark_and_the_page_bright():
    composer = DocumentSceneComposer(640, 480)
    empty = composer.next_frame()
    composer.scene = "text_page"
    page = composer.next_frame()
    assert float(np.median(empty.min(axis=2))) < 80
    quad = composer.document_quad()
    cx, cy = quad.mean(axis=0).astype(int)
    assert page[cy, cx].min() > 150


@pytest.mark.parametrize(("scene", "ratio"), [("text_page", 297 / 210), ("id_card", 85.6 / 53.98)])
def test_documents_have_their_real_proportions(scene, ratio):
    composer = DocumentSceneComposer(800, 600)
    composer.scene = scene
    composer.pose = DocumentPose(angle_deg=20, tilt=0.0)
    tl, tr, br, bl = composer.document_quad()
    width, height = np.linalg.norm(tr - tl), np.linalg.norm(bl - tl)
    assert max(width, height) / min(width, height) == pytest.approx(ratio, rel=0.01)


def test_pages_lie_inside_the_view_unless_cut_off():
    composer = DocumentSceneComposer(800, 600)
    for scene in ("text_page", "form", "id_card"):
        composer.scene = scene
        quad = composer.document_quad()
        assert (quad >= 0).all() and (quad[:, 0] < 800).all() and (quad[:, 1] < 600).all()
    composer.scene = "cut_off"
    assert (composer.document_quad()[:, 0] > 800).any()


def test_glare_and_shadow_switch_on_and_off():
    composer = DocumentSceneComposer(640, 480)
    composer.scene = "text_page"
    composer.pose = DocumentPose(shadow=False, glare=False)
    plain = composer.next_frame().astype(np.int16)
    composer.pose = DocumentPose(shadow=True, glare=False)
    shaded = composer.next_frame().astype(np.int16)
    composer.pose = DocumentPose(shadow=False, glare=True)
    glared = composer.next_frame().astype(np.int16)
    assert (plain - shaded).mean() > 5
    assert (glared - plain).max() > 60


def test_same_seed_same_desk_and_frames_differ_by_noise_only():
    a, b = DocumentSceneComposer(320, 240, seed=4), DocumentSceneComposer(320, 240, seed=4)
    a.scene = b.scene = "form"
    assert np.array_equal(a.next_frame(), b.next_frame())
    first, second = a.next_frame().astype(int), a.next_frame().astype(int)
    assert 0 < np.abs(first - second).mean() < 4
    with pytest.raises(ValueError):
        a.scene = "napkin"
