"""Codes read by a camera, delivered as the serial scanner delivers them."""

import asyncio

import pytest

from peripherals.camera_scanner import CameraScannerService
from peripherals.scan_event import ScanEvent, ScanKind, ScanSource
from simulator.camera import CameraServer, SceneComposer

PAYMENT = "134567890123456789"


@pytest.fixture
async def camera():
    composer = SceneComposer(seed=9)
    server = CameraServer(composer, fps=30)
    await server.start()
    service = CameraScannerService(server.url, repeat_after_s=30.0)
    yield composer, service
    service.close()
    await server.stop()


async def test_a_payment_code_shown_is_one_scan_event(camera):
    composer, service = camera
    composer.scene = "live"
    composer.show_code(PAYMENT, "code128")
    event = await service.next_scan(timeout=10)
    assert event == ScanEvent(ScanKind.PAYMENT_CODE, PAYMENT, ScanSource.CAMERA)
    assert PAYMENT not in repr(event)


async def test_only_wanted_kinds_are_taken(camera):
    composer, service = camera
    composer.show_code("BILL8812345670", "code128")
    with pytest.raises(TimeoutError):
        await service.next_scan(timeout=1.0, kinds={ScanKind.APPOINTMENT})
    composer.show_code("APPT-A042", "qr")
    event = await service.next_scan(timeout=10, kinds={ScanKind.APPOINTMENT})
    assert (event.kind, event.data) == (ScanKind.APPOINTMENT, "APPT-A042")


async def test_a_code_held_still_is_reported_once_and_again_when_shown_again(camera):
    composer, service = camera
    events: list[ScanEvent] = []
    composer.show_code("APPT-A042", "qr")
    service.start(events.append)
    assert service.watching
    await asyncio.sleep(1.5)  # about 45 frames with the code in view
    assert [e.data for e in events] == ["APPT-A042"]
    composer.hide_code()
    await asyncio.sleep(1.5)  # out of view long enough to be forgotten
    composer.show_code("APPT-A042", "qr")
    await asyncio.sleep(1.0)
    await service.stop()
    assert not service.watching
    assert [e.data for e in events] == ["APPT-A042", "APPT-A042"]
    assert {e.source for e in events} == {ScanSource.CAMERA}


def test_serial_text_gets_the_same_kinds():
    assert ScanEvent.from_text(PAYMENT).kind is ScanKind.PAYMENT_CODE
    assert ScanEvent.from_text("BILL8812345670").kind is ScanKind.BILL_BARCODE
    assert ScanEvent.from_text("https://gov.example/a?id=1").kind is ScanKind.APPOINTMENT
    assert ScanEvent.from_text(PAYMENT).source is ScanSource.SERIAL
