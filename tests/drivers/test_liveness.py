"""Liveness evidence: motion and blinks of a live face versus a photo held still."""

import dataclasses
import json

import pytest

from drivers.face_detection import to_grey
from drivers.face_quality import FaceQualityGate
from drivers.liveness import LivenessEvidence, LivenessObserver
from simulator.camera import SceneComposer


def evidence_for(scene: str, frames: int = 45, seed: int = 1) -> LivenessEvidence:
    gate = FaceQualityGate()
    observer = LivenessObserver()
    composer = SceneComposer(seed=seed)
    composer.scene = scene
    for t in range(frames):
        frame = composer.next_frame()
        assessment = gate.assess(frame)
        face = assessment.face
        if face is not None:
            observer.observe(
                to_grey(frame), (face.x, face.y, face.w, face.h), len(assessment.eyes) == 2, t / 15
            )
    return observer.evidence()


@pytest.fixture(scope="module")
def live() -> LivenessEvidence:
    return evidence_for("live")


@pytest.fixture(scope="module")
def photo() -> LivenessEvidence:
    return evidence_for("still_photo")


def test_a_live_face_moves_and_blinks(live):
    assert live.blinks >= 1
    assert live.moving_fraction > 0.1
    assert live.still_photo_score < 0.3


def test_a_photo_held_still_neither_moves_nor_blinks(photo, live):
    assert photo.blinks == 0 and photo.eye_state_changes == 0
    assert photo.motion_energy < live.motion_energy / 3
    assert photo.still_photo_score > 0.8


def test_evidence_is_json_with_numbers_only(live):
    encoded = json.loads(json.dumps(live.as_json()))
    assert set(encoded) == {f.name for f in dataclasses.fields(LivenessEvidence)}
    assert all(isinstance(v, int | float) for v in encoded.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        live.blinks = 0  # type: ignore[misc]


def test_too_few_frames_say_neither_way():
    evidence = evidence_for("still_photo", frames=3)
    assert evidence.still_photo_score == 0.5


@pytest.mark.parametrize(
    ("eyes", "blinks", "changes"),
    [
        ([True, True, False, False, True, True], 1, 2),
        ([True, False, True, False, True], 2, 4),
        ([False, False, True, True], 0, 1),  # shut before ever seen open: not a blink
        ([True] + [False] * 12 + [True], 0, 2),  # shut for a second: not a blink either
        ([True] * 6, 0, 0),
    ],
)
def test_blinks_are_open_then_briefly_shut_then_open(eyes, blinks, changes):
    import numpy as np

    observer = LivenessObserver()
    grey = np.full((120, 160), 128, np.uint8)
    for t, open_ in enumerate(eyes):
        observer.observe(grey, (40, 20, 60, 60), open_, t / 15)
    evidence = observer.evidence()
    assert (evidence.blinks, evidence.eye_state_changes) == (blinks, changes)
    assert evidence.frames == len(eyes)
