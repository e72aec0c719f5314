"""The document camera's MRZ read against the simulated desk camera over HTTP: the simulator's
data pages (the real producer) on its 5 MP main stream, as the kiosk's devices see them."""

import pytest

from peripherals.document_camera import DataPageNotRead, DataPageProblem, DocumentCameraService
from peripherals.errors import DeviceReason
from simulator.camera import CameraServer
from simulator.camera.data_page import (
    PAGE_MM,
    PageFault,
    random_faults,
    random_holder,
    render_data_page,
)
from simulator.camera.document_scene import DocumentSceneComposer
from simulator.icao_chip.mrz import MrzLayout
from simulator.runtime import DOCUMENT_CAMERA_FULL


@pytest.fixture
async def desk():
    composer = DocumentSceneComposer(seed=5)
    main = CameraServer(composer.at(*DOCUMENT_CAMERA_FULL), fps=5)
    await main.start()
    service = DocumentCameraService("http://127.0.0.1:9/stream.mjpg", full_url=main.url)
    yield composer, service
    service.close()
    await main.stop()


def lay(composer, layout, fault=PageFault.CLEAN, seed=7):
    holder = random_holder(seed, layout)
    page = render_data_page(holder, layout, random_faults(fault, layout, seed), seed, 300.0)
    composer.show_data_page(page, PAGE_MM[layout][0])
    return holder


@pytest.mark.parametrize("layout", [MrzLayout.TD1, MrzLayout.TD3])
async def test_a_data_page_on_the_desk_gives_its_chip_keys(desk, layout):
    composer, service = desk
    holder = lay(composer, layout)
    mrz = await service.read_data_page(timeout=10)
    assert (mrz.document_number, mrz.birth_date, mrz.expiry_date) == (
        holder.document_number, holder.birth_date, holder.expiry_date)
    assert holder.document_number not in repr(mrz)


async def test_a_finger_over_the_mrz_is_refused_in_a_few_frames(desk):
    composer, service = desk
    lay(composer, MrzLayout.TD3, PageFault.OCCLUSION)
    with pytest.raises(DataPageNotRead) as failure:
        await service.read_data_page(timeout=15, refusals=2)
    assert failure.value.reason is DeviceReason.TIMEOUT
    assert failure.value.problem is DataPageProblem.MRZ_UNCLEAR


@pytest.mark.parametrize(("scene", "problem"), [("empty", DataPageProblem.NO_PAGE),
                                                ("text_page", DataPageProblem.NO_MRZ)])
async def test_no_data_page_says_what_the_camera_saw(desk, scene, problem):
    composer, service = desk
    composer.scene = scene
    with pytest.raises(DataPageNotRead) as failure:
        await service.read_data_page(timeout=2.5, refusals=1)
    assert failure.value.problem is problem
