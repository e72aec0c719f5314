"""`kiosk-read-document --mrz-from-camera`: the MRZ data from the data page on the simulator's
document camera (its 5 MP stream, over HTTP), then the chip opened with them through the real
pcscd; and a clear outcome when the page does not read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from drivers.pcsc import card_present
from simulator.camera import CameraServer
from simulator.camera.data_page import (
    PAGE_MM,
    PageFault,
    random_faults,
    render_data_page,
)
from simulator.camera.document_scene import DocumentSceneComposer
from simulator.icao_chip import ChipShape, IcaoChip
from simulator.icao_chip.mrz import MrzLayout
from simulator.runtime import DOCUMENT_CAMERA_FULL
from simulator.vicc import VirtualCardSlot
from tests.provisioning.test_read_document import HERE, HOLDER, PKI, READER, run, slot, until

__all__ = ["slot"]   # the chip's card slot fixture, shared


@pytest.fixture
async def camera() -> AsyncIterator[tuple[DocumentSceneComposer, str]]:
    composer = DocumentSceneComposer(seed=9)
    server = CameraServer(composer.at(*DOCUMENT_CAMERA_FULL), fps=5)
    await server.start()
    yield composer, server.url
    await server.stop()


def lay(composer: DocumentSceneComposer, fault: PageFault = PageFault.CLEAN) -> None:
    layout = MrzLayout.TD1
    page = render_data_page(HOLDER, layout, random_faults(fault, layout, 2), 2, 300.0)
    composer.show_data_page(page, PAGE_MM[layout][0])


async def test_the_chip_opens_with_the_mrz_read_from_the_page(
        slot: VirtualCardSlot, camera, capsys) -> None:
    composer, url = camera
    lay(composer)
    await slot.insert(IcaoChip(HOLDER, pki=PKI, shape={ChipShape.PACE}))
    await until(lambda: card_present(READER))
    assert await run(["--mrz-from-camera", "--camera", url, "--json", *HERE]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["keys_from"] == "data_page"
    assert report["chip_access"]["access_control"] == "PACE"   # with the MRZ as its password
    assert report["mrz"]["document_number"] == HOLDER.document_number


async def test_a_page_that_does_not_read_says_why(slot: VirtualCardSlot, camera, capsys) -> None:
    composer, url = camera
    lay(composer, PageFault.OCCLUSION)
    assert await run(["--mrz-from-camera", "--camera", url, "--camera-wait", "8", *HERE]) == 1
    err = capsys.readouterr().err
    assert "no MRZ read from the document camera: the MRZ did not read" in err
    composer.scene = "empty"
    assert await run(["--mrz-from-camera", "--camera", url, "--camera-wait", "1", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "mrz_no_page"
    assert await run(["--mrz-from-camera", "--can", "123456"]) == 2
