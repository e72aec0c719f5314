"""Every fault switch of every simulated device, flipped through the control API's uniform
surface (`/devices/{name}/faults`) of a running `kiosk-sim`, seen on the device's real wire
(TCP, the pty, HTTP) by the kiosk's own drivers, and gone again once switched off."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial
from aiohttp.test_utils import TestClient, TestServer

from drivers.active_auth import ActiveAuthVerdict
from drivers.active_auth import authenticate as active_auth
from drivers.bac import AuthenticationRefused
from drivers.barcode_scanner import BarcodeScanner, ScannerError
from drivers.chip_auth import chip_auth_key
from drivers.dispenser import CardDispenser, DispenserError, StockLevel
from drivers.idcard_sam import SamReader, SerialTransport
from drivers.idcard_sam_frames import Command, SamError, Status, encode_request, encode_response
from drivers.ipp import IppError, IppPrinter
from drivers.iso7816 import ChipError
from drivers.pace_session import read_card_access
from drivers.passive_auth import verify_passive_auth
from drivers.receipt_printer import EscposReceiptPrinter, PrinterError
from simulator.control import CHIP_SLOW_S, build_control_app
from simulator.control_client import SimulatorRefused
from simulator.icao_chip import ChipFault, IcaoChip
from simulator.runtime import Simulator, SimulatorOptions
from tests.drivers.test_icao9303 import ChipTransport
from tests.simulator.running import RunningSimulator
from tests.simulator.test_icao_chip import _groups, authenticate

# -- what each device's wire shows: a small value that changes with the fault -----------------


def printer_view(sim: RunningSimulator) -> frozenset[str]:
    """What DLE EOT 1-4 say (a set of raised flags), or the driver's reason it got no status."""
    where = sim.endpoints["printer"]
    printer = EscposReceiptPrinter(where["host"], where["port"], timeout=0.5)
    try:
        status = printer.status()
    except PrinterError as error:
        return frozenset({error.reason.value})
    finally:
        printer.close()
    flags = {"paper_out": status.paper_out, "paper_near_end": status.paper_near_end,
             "cover_open": status.cover_open, "cutter_error": status.cutter_error,
             "offline": not status.online}
    return frozenset(name for name, raised in flags.items() if raised)


def dispenser_view(sim: RunningSimulator) -> frozenset[str]:
    unit = CardDispenser(sim.endpoints["dispenser"], ack_timeout=0.3, motion_timeout=0.5)
    try:
        status = unit.status()
    except DispenserError as error:
        return frozenset({error.reason.value})
    finally:
        unit.close()
    flags = {"stock_empty": status.stock is StockLevel.EMPTY, "bin_full": status.bin_full}
    return frozenset(name for name, raised in flags.items() if raised)


def idcard_view(sim: RunningSimulator, timeout: float = 1.0) -> frozenset[str]:
    """Find, select and read the card lying on the reader, as the kiosk does."""
    try:
        transport = SerialTransport(sim.endpoints["idcard_reader"])
    except SamError as error:
        return frozenset({error.reason.value})
    try:
        SamReader(transport, timeout=timeout, read_timeout=timeout).read_card()
    except SamError as error:
        return frozenset({error.reason.value})
    finally:
        transport.close()
    return frozenset()


def idcard_answers_in_time(sim: RunningSimulator) -> tuple[bool, bool]:
    """(answered within 0.3 s, answered within 3 s): a slow module is late, not silent."""
    quick = idcard_view(sim, timeout=0.3) == frozenset()
    time.sleep(1.0)  # a late answer to the quick try lands now, not in the next exchange
    return quick, idcard_view(sim, timeout=3.0) == frozenset()


def idcard_clean_answers(sim: RunningSimulator) -> int:
    """How many of four answers to 'find card' arrive as the module's clean frame."""
    clean = encode_response(Status.CARD_FOUND, bytes(4))
    answers = []
    with serial.Serial(sim.endpoints["idcard_reader"], 115200, timeout=0.3) as port:
        for _ in range(4):
            port.reset_input_buffer()
            port.write(encode_request(Command.FIND_CARD))
            answers.append(port.read(4096))
    return sum(answer == clean for answer in answers)


def scanner_view(sim: RunningSimulator) -> frozenset[str]:
    scanner = BarcodeScanner(sim.endpoints["barcode_scanner"], timeout=0.5)
    try:
        model = scanner.query_info()
    except ScannerError as error:
        return frozenset({error.reason.value})
    finally:
        scanner.close()
    return frozenset() if "SIM" in model else frozenset({"unexpected_model"})


def camera_view(url_key: str) -> Callable[[RunningSimulator], str]:
    def view(sim: RunningSimulator) -> str:
        url = sim.endpoints[url_key].replace("stream.mjpg", "snapshot.jpg")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return f"{answer.status} {answer.headers['Content-Type']}"
        except urllib.error.URLError as error:
            return f"refused: {error.reason.__class__.__name__}"

    return view


def a4_view(sim: RunningSimulator) -> frozenset[str]:
    """The A4 printer's own printer-state-reasons (severity suffix dropped)."""
    try:
        reasons = IppPrinter(sim.endpoints["a4_printer_uri"]).status().reasons
    except IppError as error:
        return frozenset({error.failure.name.lower()})
    return frozenset(r.rsplit("-", 1)[0] for r in reasons)


def a4_job_view(sim: RunningSimulator) -> str:
    """How a one-page job ends (an open door is seen when the printer tries to print)."""
    printer = IppPrinter(sim.endpoints["a4_printer_uri"])
    job = printer.print_job(MINIMAL_PDF, "fault-surface")
    for _ in range(100):
        state = printer.job(job).state
        if state.final:
            return state.name.lower()
        time.sleep(0.05)
    return "still " + state.name.lower()


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages"
               b"/Kids[3 0 R]/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595"
               b" 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


@dataclass(frozen=True)
class Case:
    device: str
    switch: str
    view: Callable[[RunningSimulator], object]
    when_on: object


JPEG = "200 image/jpeg"
CASES = [
    Case("receipt_printer", "paper_out", printer_view, frozenset({"paper_out", "offline"})),
    Case("receipt_printer", "paper_near_end", printer_view, frozenset({"paper_near_end"})),
    Case("receipt_printer", "cover_open", printer_view, frozenset({"cover_open", "offline"})),
    Case("receipt_printer", "cutter_error", printer_view, frozenset({"cutter_error", "offline"})),
    Case("receipt_printer", "silent", printer_view, frozenset({"no_reply"})),
    Case("receipt_printer", "garbage", printer_view, frozenset({"io_error"})),
    Case("receipt_printer", "unplugged", printer_view, frozenset({"offline"})),
    Case("dispenser", "jam", dispenser_view, frozenset({"jam"})),
    Case("dispenser", "stock_empty", dispenser_view, frozenset({"stock_empty"})),
    Case("dispenser", "bin_full", dispenser_view, frozenset({"bin_full"})),
    Case("dispenser", "silent", dispenser_view, frozenset({"no_reply"})),
    Case("dispenser", "garbage", dispenser_view, frozenset({"garbled"})),
    Case("dispenser", "unplugged", dispenser_view, frozenset({"offline"})),
    Case("idcard_reader", "no_card", idcard_view, frozenset({"no_card"})),
    Case("idcard_reader", "unreadable", idcard_view, frozenset({"read_failed"})),
    Case("idcard_reader", "silent", idcard_view, frozenset({"no_response"})),
    Case("idcard_reader", "slow", idcard_answers_in_time, (False, True)),
    Case("idcard_reader", "broken_frames", idcard_clean_answers, 1),
    Case("idcard_reader", "unplugged", idcard_view, frozenset({"port_gone"})),
    Case("barcode_scanner", "silent", scanner_view, frozenset({"no_reply"})),
    Case("barcode_scanner", "garbage", scanner_view, frozenset({"garbled"})),
    Case("barcode_scanner", "unplugged", scanner_view, frozenset({"offline"})),
    Case("face_camera", "unplugged", camera_view("face_camera_url"),
         "refused: ConnectionRefusedError"),
    Case("document_camera", "unplugged", camera_view("document_camera_url"),
         "refused: ConnectionRefusedError"),
    Case("a4_printer", "media_empty", a4_view, frozenset({"media-empty"})),
    Case("a4_printer", "toner_low", a4_view, frozenset({"toner-low"})),
    Case("a4_printer", "door_open", a4_job_view, "aborted"),
    Case("a4_printer", "unplugged", a4_view, frozenset({"unreachable"})),
]
# The chip's switches go with the next card inserted: tested below without a card in the reader.
CHIP_SWITCHES = {"wrong_key", "corrupt_dg2", "forged_sod", "slow"}
CHIP_SHAPE_SWITCHES = {"no_sfi", "no_extended_length", "no_ef_com", "no_dg2", "no_ef_sod"}
# What the chip offers beyond BAC, and the clone: tested below as well, also without a card.
CHIP_ACCESS_SWITCHES = {"pace", "no_bac", "active_auth", "active_auth_rsa", "chip_auth", "clone"}


@pytest.fixture
def sim(running_simulator: RunningSimulator):
    running_simulator.control("insert_idcard")  # a citizen's card lies on the ID-card reader
    yield running_simulator
    running_simulator.control("remove_idcard")


def test_every_switch_of_every_device_has_a_case_here(running_simulator):
    listed = {(name, switch) for name, device in running_simulator.control("devices").items()
              for switch in device["switches"]}
    tested = {(case.device, case.switch) for case in CASES}
    tested |= {("chip", switch)
               for switch in CHIP_SWITCHES | CHIP_SHAPE_SWITCHES | CHIP_ACCESS_SWITCHES}
    assert listed == tested


@pytest.mark.parametrize("case", CASES, ids=[f"{c.device}-{c.switch}" for c in CASES])
def test_switch_shows_on_the_wire_and_clears(sim, case: Case):
    healthy = case.view(sim)
    assert healthy != case.when_on
    described = sim.switch(case.device, **{case.switch: True})
    try:
        assert described["switches"][case.switch] is True
        assert case.view(sim) == case.when_on
    finally:
        described = sim.switch(case.device, **{case.switch: False})
    assert described["switches"][case.switch] is False and described["on"] == []
    assert case.view(sim) == healthy


def test_device_list_says_plugged_and_what_is_on(running_simulator):
    running_simulator.switch("printer", unplugged=True, paper_out=True)  # an alias works too
    try:
        printer = running_simulator.control("device_faults", "receipt_printer")
        assert printer["plugged"] is False and printer["on"] == ["paper_out"]
        state = running_simulator.control("state")
        assert state["devices"]["receipt_printer"] == printer
        assert state["devices"]["chip"]["plugged"] is None  # a card has no cable
    finally:
        running_simulator.switch("receipt_printer", unplugged=False, paper_out=False)
    assert running_simulator.control("device_faults", "printer")["plugged"] is True


@pytest.mark.parametrize(("device", "body", "status", "error"), [
    ("toaster", {"silent": True}, 404, "unknown_device"),
    ("dispenser", {"paper_out": True}, 400, "unknown_switch"),
    ("dispenser", {"jam": "yes"}, 400, "bad_value"),
    ("dispenser", {"jam": True, "on_fire": True}, 400, "unknown_switch"),
])
def test_refused_requests_say_what_is_accepted_and_change_nothing(
        running_simulator, device, body, status, error):
    with pytest.raises(SimulatorRefused) as refused:
        running_simulator.switch(device, **body)
    assert refused.value.status == status and refused.value.body["error"] == error
    assert refused.value.body["accepted"]
    assert running_simulator.control("device_faults", "dispenser")["on"] == []


async def test_chip_switches_go_with_the_next_card(tmp_path: Path):
    """No card goes into the shared reader here: the chip the simulator would insert is
    checked at APDU level, with the same checks as tests/simulator/test_icao_chip.py."""
    sim = Simulator(SimulatorOptions(state_dir=tmp_path))
    client = TestClient(TestServer(build_control_app(sim)))
    await client.start_server()
    try:
        answer = await client.put("/devices/chip/faults", json={
            "wrong_key": True, "corrupt_dg2": True, "forged_sod": True, "slow": True})
        described = await answer.json()
        assert sorted(described["on"]) == sorted(CHIP_SWITCHES)
        chip = sim.next_chip()
        with pytest.raises(AuthenticationRefused):
            authenticate(chip, sim.holder)
        result = verify_passive_auth(chip.file(0x011D), _groups(chip), [sim.pki.csca_cert])
        assert result.hashes_valid[2] is False and not result.signature_valid
        assert chip.slow_s == CHIP_SLOW_S
        started = time.monotonic()
        chip.process_apdu(bytes.fromhex("00A4040C07A0000002471001"))
        assert time.monotonic() - started >= CHIP_SLOW_S  # a floor set by the fault

        await client.post("/devices/chip/faults", json=dict.fromkeys(CHIP_SWITCHES, False))
        clean = sim.next_chip()
        authenticate(clean, sim.holder)
        result = verify_passive_auth(clean.file(0x011D), _groups(clean), [sim.pki.csca_cert])
        assert result.hashes_valid[2] and result.signature_valid and clean.slow_s == 0
        # A test that asks for a card with its own faults still gets exactly those.
        assert sim.next_chip(faults=frozenset({ChipFault.WRONG_KEY})).faults == {
            ChipFault.WRONG_KEY}
    finally:
        await client.close()


async def test_chip_shape_switches_go_with_the_next_card(tmp_path: Path):
    """What each shape switch takes away, seen at APDU level on the chip the simulator would
    insert (no card goes into the shared reader), and back once switched off."""
    sim = Simulator(SimulatorOptions(state_dir=tmp_path))
    client = TestClient(TestServer(build_control_app(sim)))
    await client.start_server()
    read_dg1_by_sfi, extended_read = bytes.fromhex("00B0810000"), bytes.fromhex("00B08100000000")

    def lacks(chip: IcaoChip) -> set[str]:
        sm = authenticate(chip, sim.holder)
        seen = {name for name, fid in (("no_ef_com", "011E"), ("no_dg2", "0102"),
                                       ("no_ef_sod", "011D"))
                if sm.transmit(bytes.fromhex("00A4020C02" + fid))[1] == 0x6A82}
        if sm.transmit(read_dg1_by_sfi)[1] == 0x6A86:
            seen.add("no_sfi")
        if chip.process_apdu(sm.protect(extended_read)) == b"\x67\x00":
            seen.add("no_extended_length")
        return seen

    try:
        answer = await client.put("/devices/chip/faults", json=dict.fromkeys(CHIP_SHAPE_SWITCHES, True))
        assert sorted((await answer.json())["on"]) == sorted(CHIP_SHAPE_SWITCHES)
        assert lacks(sim.next_chip()) == CHIP_SHAPE_SWITCHES
        await client.put("/devices/chip/faults", json=dict.fromkeys(CHIP_SHAPE_SWITCHES, False))
        assert lacks(sim.next_chip()) == set()
        await client.put("/devices/chip/faults", json={"no_ef_sod": True})
        assert lacks(sim.next_chip()) == {"no_ef_sod"}
        assert sim.next_chip(shape=frozenset()).has_file(0x011D)  # a test's own shape wins
    finally:
        await client.close()


async def test_chip_access_switches_go_with_the_next_card(tmp_path: Path):
    """PACE, PACE only, an AA key (ECDSA or RSA), a CA key, a clone: each seen on the chip the
    simulator would insert, with the kiosk's own drivers over the chip's APDU handler."""
    sim = Simulator(SimulatorOptions(state_dir=tmp_path))
    client = TestClient(TestServer(build_control_app(sim)))
    await client.start_server()

    async def next_chip(**switches: bool) -> IcaoChip:
        await client.put("/devices/chip/faults", json=switches)
        chip = sim.next_chip()
        await client.put("/devices/chip/faults", json=dict.fromkeys(switches, False))
        return chip

    try:
        chip = await next_chip(pace=True)
        assert read_card_access(ChipTransport(chip)) is not None
        authenticate(chip, sim.holder)                       # BAC still opens it
        chip = await next_chip(no_bac=True)
        with pytest.raises(ChipError):
            authenticate(chip, sim.holder)
        for key in ("active_auth", "active_auth_rsa"):
            for clone, verdict in ((False, ActiveAuthVerdict.PASSED),
                                   (True, ActiveAuthVerdict.FAILED)):
                chip = await next_chip(**{key: True, "clone": clone})
                sm = authenticate(chip, sim.holder)
                dg14 = chip.file(0x010E) if chip.has_file(0x010E) else None
                assert active_auth(sm, chip.file(0x010F), dg14).verdict is verdict
        chip = await next_chip(chip_auth=True)
        assert chip_auth_key(chip.file(0x010E)) is not None and not chip.has_file(0x010F)
        assert read_card_access(ChipTransport(await next_chip())) is None   # all off again
    finally:
        await client.close()
