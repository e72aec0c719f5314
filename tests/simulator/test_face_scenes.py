"""The face camera's scenes, codes held up to it, and the cameras' control routes."""

import itertools

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pyzbar import pyzbar

from drivers.face_detection import FaceDetector
from simulator.camera import FaceScene, SceneComposer
from simulator.camera.control import add_control_routes
from simulator.camera.document_scene import DocumentSceneComposer


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(min_face_fraction=0.08)


def test_scene_and_face_visible_agree():
    composer = SceneComposer()
    assert composer.scene == "nobody" and not composer.face_visible
    composer.scene = "blurred"
    assert composer.face_visible
    composer.face_visible = False
    assert composer.scene == "nobody"
    composer.face_visible = True  # the person comes back as they were
    assert composer.scene == "blurred"
    composer.scene = "nobody"
    assert not composer.face_visible
    with pytest.raises(ValueError):
        composer.scene = "astronaut_in_orbit"
    assert composer.scene == "nobody"


@pytest.mark.parametrize(("scene", "faces"), [("nobody", 0), ("live", 1), ("two_faces", 2),
                                              ("still_photo", 1), ("too_far", 1)])  # fmt: skip
def test_scenes_show_as_many_faces_as_they_say(detector, scene, faces):
    composer = SceneComposer(seed=6)
    composer.scene = scene
    assert len(detector.detect(composer.next_frame())) == faces


def test_face_scale_still_sizes_the_live_face(detector):
    composer = SceneComposer(seed=6)
    composer.scene = "live"
    heights = []
    for scale in (0.2, 0.3):
        composer.face_scale = scale
        (face,) = detector.detect(composer.next_frame())
        heights.append(face.h / composer.height)
    assert heights[0] == pytest.approx(0.2, rel=0.25) and heights[1] == pytest.approx(0.3, rel=0.25)


def test_a_live_face_blinks_and_a_photo_does_not(detector):
    for scene, expect_blink in (("live", True), ("still_photo", False)):
        composer = SceneComposer(seed=6)
        composer.scene = scene
        composer.blink_period = 8
        eyes = []
        for _ in range(16):
            frame = composer.next_frame()
            (face,) = detector.detect(frame)
            eyes.append(len(detector.find_eyes(frame, face)))
        assert (0 in eyes) is expect_blink, eyes
        assert 2 in eyes


def test_a_photo_is_still_where_a_person_sways():
    def change(scene: str) -> float:
        composer = SceneComposer(seed=6)
        composer.scene = scene
        frames = [composer.next_frame().astype(np.int16) for _ in range(12)]
        centre = (slice(150, 330), slice(240, 400))
        return max(
            float(np.abs(a[centre] - b[centre]).mean()) for a, b in itertools.pairwise(frames)
        )

    assert change("still_photo") < change("live") / 2


def test_dark_and_backlit_scenes_change_the_light():
    def mean(scene: str) -> float:
        composer = SceneComposer(seed=6)
        composer.scene = scene
        return float(composer.next_frame().mean())

    assert mean("dark") < 0.4 * mean("live") < 0.4 * mean("backlit")


@pytest.mark.parametrize(("data", "kind", "zbar_type"),
                         [("A042 预约", "qr", "QRCODE"), ("134567890123456789", "code128", "CODE128")])  # fmt: skip
def test_a_code_is_shown_until_taken_away(data, kind, zbar_type):
    composer = SceneComposer(seed=6)
    composer.show_code(data, kind)
    assert composer.code == (data, kind)
    (found,) = pyzbar.decode(composer.next_frame())
    assert found.type == zbar_type
    composer.hide_code()
    assert composer.code is None and pyzbar.decode(composer.next_frame()) == []


@pytest.fixture
async def control():
    face, document = SceneComposer(), DocumentSceneComposer(320, 240)
    routes = web.RouteTableDef()
    add_control_routes(routes, face, document)
    app = web.Application()
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        yield client, face, document


async def test_control_sets_the_face_scene(control):
    client, face, _ = control
    response = await client.post("/face/scene", json={"scene": "two_faces"})
    assert response.status == 200 and (await response.json()) == {"scene": "two_faces"}
    assert face.scene == "two_faces"
    response = await client.post("/face/scene", json={"scene": "martian"})
    assert response.status == 400
    assert set((await response.json())["accepted"]) == {s.value for s in FaceScene}
    assert face.scene == "two_faces"


async def test_control_sets_the_document_scene_and_pose(control):
    client, _, document = control
    body = {"scene": "id_card", "angle_deg": -12, "shadow": False}
    response = await client.post("/document/scene", json=body)
    assert response.status == 200
    assert document.scene == "id_card" and document.pose.angle_deg == -12
    assert not document.pose.shadow and document.pose.glare
    assert (await client.post("/document/scene", json={"scene": "napkin"})).status == 400
    bad_pose = {"scene": "form", "angle_deg": "steep"}
    assert (await client.post("/document/scene", json=bad_pose)).status == 400


async def test_control_shows_and_hides_codes(control):
    client, face, document = control
    response = await client.post("/camera/code", json={"data": "A042", "kind": "qr"})
    assert response.status == 200 and face.code == ("A042", "qr")
    await client.post("/camera/code", json={"data": None})
    assert face.code is None
    body = {"data": "BILL1", "kind": "code128", "camera": "document"}
    assert (await client.post("/camera/code", json=body)).status == 200
    assert document.next_frame() is not None
    assert (await client.post("/camera/code", json={"data": "x", "kind": "aztec"})).status == 400
    not_json = await client.post(
        "/camera/code", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status == 400
    assert isinstance(not_json, aiohttp.ClientResponse)
