"""The simulated face camera: what the scene shows, and how the server streams it."""

import asyncio
import contextlib
import time

import aiohttp
import cv2
import numpy as np
import pytest

from drivers.face_detection import FaceDetector
from simulator.camera import CameraServer, SceneComposer


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.mark.parametrize("face_scale", [0.2, 0.25, 0.35])
def test_visible_face_is_found_once_near_the_centre_in_every_frame(detector, face_scale):
    composer = SceneComposer(seed=3)
    composer.face_visible = True
    composer.face_scale = face_scale
    for _ in range(20):
        frame = composer.next_frame()
        faces = detector.detect(frame)
        assert len(faces) == 1
        cx, cy = faces[0].centre
        assert abs(cx - 320) < 0.1 * 640
        assert abs(cy - 0.45 * 480) < 0.1 * 480
        assert faces[0].h == pytest.approx(face_scale * 480, rel=0.25)


def test_empty_hall_has_no_face(detector):
    composer = SceneComposer(seed=3)
    for _ in range(20):
        assert detector.detect(composer.next_frame()) == []


def test_frames_are_bgr_and_change_like_a_live_camera():
    composer = SceneComposer(width=320, height=240)
    composer.face_visible = True
    first, second = composer.next_frame(), composer.next_frame()
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert not np.array_equal(first, second)
    # ...but only slightly: noise, flicker and sway, not a different picture.
    assert np.mean(np.abs(first.astype(int) - second.astype(int))) < 6


def test_same_seed_composes_the_same_scene():
    a, b = SceneComposer(seed=7), SceneComposer(seed=7)
    for composer in (a, b):
        composer.face_visible = True
    assert all(np.array_equal(a.next_frame(), b.next_frame()) for _ in range(3))


@pytest.fixture
async def server():
    composer = SceneComposer()
    camera = CameraServer(composer, fps=30)
    await camera.start()
    yield camera
    await camera.stop()


async def test_snapshot_is_a_jpeg_of_the_scene(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.snapshot_url) as response:
            assert response.status == 200
            assert response.content_type == "image/jpeg"
            body = await response.read()
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)


async def test_stream_parts_carry_boundary_type_and_length(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as response:
            assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            for _ in range(3):
                assert await response.content.readline() == b"--frame\r\n"
                headers = {}
                while (line := await response.content.readline()) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                assert headers["content-type"] == "image/jpeg"
                jpeg = await response.content.readexactly(int(headers["content-length"]))
                assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
                assert await response.content.readline() == b"\r\n"


async def test_stop_cuts_open_streams_promptly(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as response:
            await response.content.readline()
            started = time.monotonic()
            await server.stop()
            # The stream must end (cleanly or cut) rather than hang on an idle connection.
            async with asyncio.timeout(2):
                with contextlib.suppress(aiohttp.ClientError):
                    while await response.content.read(65536):
                        pass
            assert time.monotonic() - started < 2
