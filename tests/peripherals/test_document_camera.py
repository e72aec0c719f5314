"""The document camera service against the simulated desk camera over HTTP."""

import pytest

from drivers.document_scan import PageFormat, ScanFailure
from peripherals.document_camera import DocumentCameraService, PageNotFound
from peripherals.errors import DeviceError, DeviceReason
from simulator.camera import CameraServer
from simulator.camera.document_scene import DocumentPose, DocumentSceneComposer


@pytest.fixture
async def desk():
    composer = DocumentSceneComposer(1280, 960, seed=3)
    server = CameraServer(composer, fps=10)
    await server.start()
    service = DocumentCameraService(server.url)
    yield composer, service
    service.close()
    await server.stop()


async def test_each_material_is_scanned_in_turn_into_one_pdf(desk):
    composer, service = desk
    pages = []
    for scene, angle in (("id_card", -10.0), ("form", 6.0), ("text_page", 14.0)):
        composer.scene = scene
        composer.pose = DocumentPose(angle_deg=angle)
        pages.append(await service.scan_page(timeout=8))
    assert [p.format for p in pages] == [PageFormat.ID1, PageFormat.A4, PageFormat.A4]
    assert all(p.image.ndim == 2 and p.image.dtype.name == "uint8" for p in pages)
    pdf = DocumentCameraService.pages_to_pdf(pages)
    assert pdf.startswith(b"%PDF") and b"/Count 3" in pdf


@pytest.mark.parametrize(
    ("scene", "reason"), [("empty", ScanFailure.NO_PAGE), ("cut_off", ScanFailure.PAGE_CUT_OFF)]
)
async def test_no_page_in_time_says_why(desk, scene, reason):
    composer, service = desk
    composer.scene = scene
    with pytest.raises(PageNotFound) as failure:
        await service.scan_page(timeout=1.0)
    assert isinstance(failure.value, DeviceError)
    assert failure.value.reason is DeviceReason.TIMEOUT
    assert failure.value.scan_reason is reason


async def test_a_stopped_camera_is_a_camera_fault(desk):
    composer, service = desk
    composer.scene = "text_page"
    await service.scan_page(timeout=8)
    other = DocumentCameraService("http://127.0.0.1:9/stream.mjpg")
    try:
        with pytest.raises(DeviceError) as failure:
            await other.scan_page(timeout=3)
        assert failure.value.reason is DeviceReason.CAMERA_UNAVAILABLE
    finally:
        other.close()
