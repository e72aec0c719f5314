"""The vision devices end to end over HTTP: the control API changes what the simulated
cameras show, and the kiosk's services see it through their real capture path."""

import asyncio

import aiohttp
import pytest
from aiohttp import web

from drivers.face_quality import FaceHint
from peripherals.camera_scanner import CameraScannerService
from peripherals.document_camera import DocumentCameraService
from peripherals.face_camera import FaceCameraService
from peripherals.scan_event import ScanKind
from simulator.camera import CameraServer, SceneComposer
from simulator.camera.control import add_control_routes
from simulator.camera.document_scene import DocumentSceneComposer


@pytest.fixture
async def rig():
    face, document = SceneComposer(seed=10), DocumentSceneComposer(1024, 768, seed=10)
    face_server, document_server = CameraServer(face, fps=30), CameraServer(document, fps=10)
    routes = web.RouteTableDef()
    add_control_routes(routes, face, document)
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    await face_server.start()
    await document_server.start()
    async with aiohttp.ClientSession(control_url) as http:
        yield http, face_server.url, document_server.url
    await face_server.stop()
    await document_server.stop()
    await runner.cleanup()


async def test_citizen_is_guided_closer_then_captured(rig):
    http, face_url, _ = rig
    service = FaceCameraService(face_url)
    hints: list[FaceHint] = []
    try:
        await http.post("/face/scene", json={"scene": "too_far"})
        task = asyncio.create_task(
            service.capture(lambda frame, hint: hints.append(hint), stable_frames=5, timeout=20)
        )
        while FaceHint.MOVE_CLOSER not in hints:
            await asyncio.sleep(0.05)
            assert not task.done()
        await http.post("/face/scene", json={"scene": "live"})
        captured = await asyncio.wait_for(task, 15)
    finally:
        service.close()
    assert hints[-1] is FaceHint.OK
    assert captured.liveness.frames >= 5


async def test_codes_and_pages_shown_through_the_control_api_are_read(rig):
    http, face_url, document_url = rig
    scanner = CameraScannerService(face_url)
    camera = DocumentCameraService(document_url)
    try:
        response = await http.post("/camera/code", json={"data": "APPT-7", "kind": "qr"})
        assert response.status == 200
        event = await scanner.next_scan(timeout=10)
        assert (event.kind, event.data) == (ScanKind.APPOINTMENT, "APPT-7")
        await http.post("/document/scene", json={"scene": "form", "angle_deg": -9})
        page = await camera.scan_page(timeout=10)
        assert page.image.shape[0] > page.image.shape[1]
    finally:
        scanner.close()
        camera.close()
