"""One capture per camera: a call's stream and the face step share the face camera service, over
the simulated camera's MJPEG; the face step never waits for the call, the call's picture goes on
through the capture, and the camera is let go when the call stops."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from kiosk.videocall import CameraFeed
from kiosk.videocall.media import LatestFrame
from peripherals.face_camera import CapturedFace, FaceCameraService
from simulator.camera import CameraServer, SceneComposer


@pytest.fixture
async def camera():
    composer = SceneComposer(seed=8)
    composer.scene = "live"
    server = CameraServer(composer, fps=30)
    await server.start()
    service = FaceCameraService(server.url, preview_width=320)
    yield server, service
    service.close()
    await server.stop()


async def test_a_face_capture_during_a_call_shares_the_camera(camera):
    server, service = camera
    arrivals: list[float] = []
    stop = threading.Event()
    streaming = asyncio.get_running_loop().create_task(
        service.stream(lambda frame: arrivals.append(time.monotonic()), stop))
    # The call's picture flows (opening the capture took over a second on a loaded machine:
    # waited for, not timed).
    deadline = time.monotonic() + 15
    while len(arrivals) < 10:
        assert time.monotonic() < deadline, f"{len(arrivals)} frames in 15 s"
        await asyncio.sleep(0.05)
    started = time.monotonic()
    face = await asyncio.wait_for(service.capture(lambda *_: None, stable_frames=5,
                                                  timeout=15), 20)
    ended = time.monotonic()
    assert isinstance(face, CapturedFace)          # the face step got the camera
    during = [t for t in arrivals if started <= t <= ended]
    assert len(during) >= 3                        # ... and the call kept its picture meanwhile
    await asyncio.sleep(0.5)
    before = len(arrivals)
    await asyncio.sleep(0.5)
    assert len(arrivals) > before                  # the stream took the camera back
    stop.set()
    await asyncio.wait_for(streaming, 5)
    settled = len(arrivals)
    await asyncio.sleep(0.5)
    assert len(arrivals) == settled                # and let it go when the call stopped
    assert service._taps == []


async def test_the_call_feed_survives_an_unplugged_camera(camera):
    server, service = camera
    slot = LatestFrame()
    slot.bind(asyncio.get_running_loop())
    feed = CameraFeed(service)
    feed.start(slot)
    frame, seq, _ = await asyncio.wait_for(slot.next(0), 5)
    assert frame.shape == (480, 640, 3)
    await server.unplug()
    await asyncio.sleep(1.5)
    assert feed.on                                 # the call goes on without a picture
    await server.plug()
    _, later, _ = await asyncio.wait_for(slot.next(seq + 5), 10)
    assert later > seq + 5                         # and the picture comes back
    feed.stop()
    await asyncio.sleep(0.3)
    assert not feed.on
