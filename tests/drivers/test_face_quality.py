"""Face quality gates on the simulator's scenes of the astronaut: one plain hint per frame."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.face_quality import FaceHint, FaceQualityGate, QualityThresholds
from simulator.camera import SceneComposer


@pytest.fixture(scope="module")
def gate() -> FaceQualityGate:
    return FaceQualityGate()


def hints_for(gate: FaceQualityGate, scene: str, frames: int = 16, seed: int = 1) -> Counter:
    gate.reset()
    composer = SceneComposer(seed=seed)
    composer.scene = scene
    return Counter(gate.assess(composer.next_frame()).hint for _ in range(frames))


@pytest.mark.parametrize(
    ("scene", "hint"),
    [
        ("nobody", FaceHint.NO_FACE),
        ("too_far", FaceHint.MOVE_CLOSER),
        ("too_close", FaceHint.MOVE_BACK),
        ("off_centre", FaceHint.CENTER_FACE),
        ("blurred", FaceHint.BLURRED),
        ("dark", FaceHint.TOO_DARK),
        ("backlit", FaceHint.TOO_BRIGHT),
        ("glare", FaceHint.TOO_BRIGHT),
        ("two_faces", FaceHint.TOO_MANY_FACES),
        ("live", FaceHint.OK),
        # The gates judge the picture, not liveness: a good photo passes them.
        ("still_photo", FaceHint.OK),
    ],
)
def test_each_scene_gets_its_one_instruction(gate, scene, hint):
    counts = hints_for(gate, scene)
    assert counts.most_common(1)[0][0] is hint, counts
    assert counts[hint] >= 12, counts


def test_a_face_is_ok_only_when_no_gate_fails(gate):
    gate.reset()
    composer = SceneComposer(seed=2)
    composer.scene = "live"
    for _ in range(10):
        assessment = gate.assess(composer.next_frame())
        if assessment.ok:
            m = assessment.metrics
            th = gate.thresholds
            assert th.min_face_height <= m["face_height"] <= th.max_face_height
            assert abs(m["offset_x"]) <= th.max_offset and abs(m["offset_y"]) <= th.max_offset
            assert m["sharpness"] >= th.min_sharpness
            assert len(assessment.eyes) == 2 and assessment.faces == 1


def test_thresholds_decide_the_hint():
    strict = FaceQualityGate(thresholds=QualityThresholds(min_face_height=0.45))
    assert hints_for(strict, "live").most_common(1)[0][0] is FaceHint.MOVE_CLOSER


def test_a_blink_asks_to_hold_still_rather_than_to_face_the_camera(gate):
    gate.reset()
    composer = SceneComposer(seed=3)
    composer.scene = "live"
    composer.blink_period, composer.blink_frames = 10, 2
    hints = [gate.assess(composer.next_frame()).hint for _ in range(20)]
    blink_frames = [t for t in range(20) if t % 10 >= 8]
    assert all(hints[t] is FaceHint.HOLD_STILL for t in blink_frames), hints
    assert FaceHint.FACE_CAMERA not in hints


def test_someone_stepping_in_is_noticed_within_a_full_scan(gate):
    gate.reset()
    composer = SceneComposer(seed=4)
    composer.scene = "live"
    for _ in range(5):
        gate.assess(composer.next_frame())
    composer.scene = "two_faces"
    hints = [gate.assess(composer.next_frame()).hint for _ in range(gate.full_scan_every)]
    assert FaceHint.TOO_MANY_FACES in hints
    # ...and a full scan on demand sees it at once.
    composer.scene = "live"
    for _ in range(3):
        gate.assess(composer.next_frame())
    composer.scene = "two_faces"
    assert gate.assess(composer.next_frame(), full_scan=True).hint is FaceHint.TOO_MANY_FACES


def test_a_face_moving_fast_asks_to_hold_still(gate):
    gate.reset()
    composer = SceneComposer(seed=5)
    composer.scene = "live"
    frame = composer.next_frame()
    assert gate.assess(frame).ok
    shifted = np.roll(frame, 24, axis=1)  # 24 px in one frame: a fifth of the face
    assert gate.assess(shifted).hint is FaceHint.HOLD_STILL


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 96), st.integers(1, 96), st.sampled_from([1, 3])),
    )
)
def test_any_frame_gets_a_hint_never_an_exception(frame):
    if frame.shape[2] == 1:
        frame = frame[:, :, 0]
    assessment = FaceQualityGate(full_scan_every=1).assess(frame)
    assert isinstance(assessment.hint, FaceHint)
