"""Capturing the simulated face camera through OpenCV, over real HTTP."""

import asyncio
import socket
import time

import cv2
import numpy as np
import pytest

from drivers.camera import CameraError, CameraErrorReason, CameraUnavailable, VideoSource
from drivers.face_detection import FaceDetector, crop_face, encode_jpeg
from simulator.camera import CameraServer, SceneComposer


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture
async def scene():
    composer = SceneComposer(seed=5)
    server = CameraServer(composer, fps=15)
    await server.start()
    yield composer, server
    await server.stop()


@pytest.fixture
async def source(scene):
    _, server = scene
    video = VideoSource(server.url, open_timeout=2.0, read_timeout=1.0)
    await asyncio.to_thread(video.open)
    yield video
    video.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_reads_frames_of_the_stream_size(source):
    for _ in range(5):
        frame = await asyncio.to_thread(source.read)
        assert frame.shape == (480, 640, 3)
        assert frame.dtype == np.uint8


async def test_face_appearing_and_leaving_is_seen_within_a_few_frames(scene, source, detector):
    composer, _ = scene

    async def frames_until(wanted_faces: int) -> int:
        for count in range(1, 6):
            frame = await asyncio.to_thread(source.read)
            if len(detector.detect(frame)) == wanted_faces:
                return count
        raise AssertionError(f"no frame with {wanted_faces} face(s) in 5 frames")

    assert await frames_until(0) == 1
    composer.face_visible = True
    await frames_until(1)
    composer.face_visible = False
    await frames_until(0)


async def test_read_after_idle_returns_the_present_not_buffered_frames(scene, source, detector):
    composer, _ = scene
    await asyncio.to_thread(source.read)
    await asyncio.sleep(1.0)  # about 15 face-less frames queue up meanwhile
    composer.face_visible = True
    frame = await asyncio.to_thread(source.read)
    assert len(detector.detect(frame)) == 1


async def test_face_crop_is_encoded_in_memory(scene, source, detector):
    composer, _ = scene
    composer.face_visible = True
    frame = await asyncio.to_thread(source.read)
    (box,) = detector.detect(frame)
    crop = crop_face(frame, box, margin=0.3)
    assert crop.shape[0] == pytest.approx(box.h * 1.6, abs=2)
    jpeg = encode_jpeg(crop, quality=90)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == crop.shape


async def test_stopped_server_makes_read_fail_promptly(scene, source):
    _, server = scene
    await asyncio.to_thread(source.read)
    await server.stop()
    started = time.monotonic()
    with pytest.raises(CameraUnavailable) as failure:
        for _ in range(50):  # frames already in flight may still arrive
            await asyncio.to_thread(source.read)
    assert failure.value.reason is CameraErrorReason.READ_FAILED
    assert time.monotonic() - started < 3


async def test_open_fails_promptly_when_nothing_listens():
    video = VideoSource(f"http://127.0.0.1:{_free_port()}/stream.mjpg", open_timeout=2.0)
    started = time.monotonic()
    with pytest.raises(CameraUnavailable) as failure:
        await asyncio.to_thread(video.open)
    assert failure.value.reason is CameraErrorReason.UNREACHABLE
    assert time.monotonic() - started < 3
    assert not video.is_open


async def test_open_times_out_when_the_camera_accepts_but_never_answers():
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    video = VideoSource(f"http://127.0.0.1:{port}/stream.mjpg", open_timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(CameraUnavailable) as failure:
            await asyncio.to_thread(video.open)
    finally:
        silent.close()
    assert failure.value.reason is CameraErrorReason.OPEN_TIMED_OUT
    assert time.monotonic() - started < 3


async def test_read_times_out_when_the_stream_stalls():
    composer = SceneComposer()
    ok, jpeg = cv2.imencode(".jpg", composer.next_frame())
    assert ok
    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
    part += jpeg.tobytes() + b"\r\n"
    writers = []

    async def stall_after_two_frames(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
            b"Connection: close\r\n\r\n" + part + part
        )
        writers.append(writer)  # keep the connection open, and silent

    stalling = await asyncio.start_server(stall_after_two_frames, "127.0.0.1", 0)
    port = stalling.sockets[0].getsockname()[1]
    video = VideoSource(f"http://127.0.0.1:{port}/stream.mjpg", read_timeout=1.0)
    try:
        await asyncio.to_thread(video.open)
        started = time.monotonic()
        with pytest.raises(CameraUnavailable):
            for _ in range(5):
                await asyncio.to_thread(video.read)
        assert time.monotonic() - started < 4
    finally:
        video.close()
        for writer in writers:
            writer.close()
        stalling.close()


def test_read_before_open_is_an_error():
    with pytest.raises(CameraError) as failure:
        VideoSource("http://127.0.0.1:9/stream.mjpg").read()
    assert failure.value.reason is CameraErrorReason.NOT_OPEN


async def test_context_manager_opens_and_closes(scene):
    _, server = scene

    def capture_one():
        with VideoSource(server.url) as video:
            assert video.is_open
            frame = video.read()
        assert not video.is_open
        return frame

    frame = await asyncio.to_thread(capture_one)
    assert frame.shape == (480, 640, 3)
