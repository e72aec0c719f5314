"""The face camera service against the simulated camera over HTTP: hints, capture, evidence."""

import asyncio
import socket
import threading

import cv2
import numpy as np
import pytest

from drivers.face_detection import FaceDetector
from drivers.face_quality import FaceHint
from drivers.liveness import LivenessEvidence
from peripherals.errors import DeviceError, DeviceReason
from peripherals.face_camera import CapturedFace, FaceCameraService
from simulator.camera import CameraServer, SceneComposer


@pytest.fixture
async def camera():
    composer = SceneComposer(seed=8)
    server = CameraServer(composer, fps=30)
    await server.start()
    service = FaceCameraService(server.url, preview_width=320)
    yield composer, service
    service.close()
    await server.stop()


class Previews:
    """Collects what the screen would be shown, and on which thread it arrived."""

    def __init__(self) -> None:
        self.hints: list[FaceHint] = []
        self.frames: list[np.ndarray] = []
        self.threads: set[int] = set()

    def __call__(self, frame: np.ndarray, hint: FaceHint) -> None:
        self.threads.add(threading.get_ident())
        self.hints.append(hint)
        self.frames.append(frame)


async def test_a_good_face_is_captured_by_itself(camera):
    composer, service = camera
    composer.scene = "live"
    previews = Previews()
    face = await service.capture(previews, stable_frames=5, timeout=15)
    assert isinstance(face, CapturedFace)
    crop = cv2.imdecode(np.frombuffer(face.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and 100 < crop.shape[0] < 300
    assert isinstance(face.liveness, LivenessEvidence) and face.liveness.frames >= 5
    assert face.quality["face_height"] == pytest.approx(0.29, abs=0.06)
    assert "eye_distance" in face.quality
    assert repr(face).count("bytes>") == 1  # the image never shows in a repr
    # Previews arrived on the loop's thread, as instructions the screen can show.
    assert previews.threads == {threading.get_ident()}
    assert previews.hints and all(isinstance(h, FaceHint) for h in previews.hints)
    assert previews.frames[-1].shape == (240, 320, 3)


async def test_previews_are_mirrored(camera):
    composer, service = camera
    composer.scene = "off_centre"  # the face is on the camera's right
    previews = Previews()
    with pytest.raises(DeviceError):
        await service.capture(previews, timeout=1.0)
    assert FaceHint.CENTER_FACE in previews.hints
    bgr = cv2.cvtColor(previews.frames[-1], cv2.COLOR_RGB2BGR)
    (box,) = FaceDetector().detect(bgr)
    assert box.centre[0] < bgr.shape[1] / 2  # ...and on the citizen's left, as in a mirror


@pytest.mark.parametrize(
    ("scene", "hint"),
    [("two_faces", FaceHint.TOO_MANY_FACES), ("too_far", FaceHint.MOVE_CLOSER),
     ("nobody", FaceHint.NO_FACE)],
)  # fmt: skip
async def test_no_capture_while_a_gate_fails(camera, scene, hint):
    composer, service = camera
    composer.scene = scene
    previews = Previews()
    with pytest.raises(DeviceError) as failure:
        await service.capture(previews, stable_frames=3, timeout=1.2)
    assert failure.value.reason is DeviceReason.TIMEOUT
    assert previews.hints.count(hint) >= len(previews.hints) * 0.8


async def test_a_still_photo_is_captured_with_evidence_against_it(camera):
    composer, service = camera
    composer.scene = "still_photo"
    face = await service.capture(Previews(), stable_frames=10, timeout=15)
    assert face.liveness.blinks == 0
    assert face.liveness.still_photo_score > 0.8


async def test_the_capture_waits_for_the_citizen_to_step_up(camera):
    composer, service = camera
    previews = Previews()
    task = asyncio.create_task(service.capture(previews, stable_frames=4, timeout=15))
    await asyncio.sleep(0.5)
    assert not task.done()
    composer.scene = "live"
    face = await asyncio.wait_for(task, 10)
    assert FaceHint.NO_FACE in previews.hints and previews.hints[-1] is FaceHint.OK
    assert face.frames_seen > 4


async def test_an_unreachable_camera_is_a_camera_fault():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = FaceCameraService(f"http://127.0.0.1:{port}/stream.mjpg")
    try:
        with pytest.raises(DeviceError) as failure:
            await service.capture(Previews(), timeout=5)
        assert failure.value.reason is DeviceReason.CAMERA_UNAVAILABLE
    finally:
        service.close()
