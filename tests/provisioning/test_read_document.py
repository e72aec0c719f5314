"""`kiosk-read-document` against the simulator's chip through the real pcscd."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from drivers.pcsc import card_present, list_readers
from provisioning.read_document import main
from simulator.icao_chip import NEITHER, ChipFault, ChipShape, IcaoChip, TravelDocumentHolder
from simulator.icao_pki import create_pki
from simulator.pcscd import PcscdNotFound, ensure_pcscd, vpcd_reader_name, vpcd_slot
from simulator.vicc import VirtualCardSlot

READER = vpcd_reader_name()  # this machine's vpcd slot (simulator.pcscd.vpcd_slot)
HOLDER = TravelDocumentHolder(
    document_number="G12345678", birth_date="770707", expiry_date="350707",
    surname="ZHAO", given_names="LEI",
)  # fmt: skip
ARGS = ["--doc-number", "G12345678", "--birth", "770707", "--expiry", "350707"]
PKI = create_pki()
# Without --reader the command takes the first reader that holds a card. The other worker's chip
# tests use the other vpcd slot (tests/conftest.py): only slot 0, listed first, can let the
# command find its reader without ever meeting the other worker's card.
HERE: list[str] = [] if vpcd_slot() == 0 else ["--reader", READER]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def slot() -> AsyncIterator[VirtualCardSlot]:
    try:
        await asyncio.to_thread(ensure_pcscd)
    except PcscdNotFound as exc:
        pytest.skip(str(exc))
    await until(lambda: READER in list_readers())
    await until(lambda: not card_present(READER), timeout=60.0)
    slot = VirtualCardSlot()
    yield slot
    await slot.remove()
    await until(lambda: not card_present(READER))


async def run(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


async def test_json_report(slot: VirtualCardSlot, tmp_path: Path, capsys) -> None:
    (tmp_path / "csca.pem").write_bytes(PKI.csca_cert_pem)
    await slot.insert(IcaoChip(HOLDER, pki=PKI))
    await until(lambda: card_present(READER))
    assert await run([*ARGS, *HERE, "--csca", str(tmp_path / "csca.pem"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["reader"] == READER
    assert report["mrz"]["surname"] == "ZHAO" and report["mrz"]["document_number"] == "G12345678"
    assert report["data_groups_read"] == {"1": 95, "2": 20480}
    assert report["face_image"]["type"] == "image/jpeg"
    assert 15_000 < report["face_image"]["bytes"] < 20_480  # the JPEG inside DG2
    assert report["passive_auth"]["verdict"] == "passed"
    # EF.CardAccess (none), SELECT, BAC, one READ BINARY each: DG1, DG2, EF.SOD
    assert report["apdus"] == 1 + 3 + 3
    assert report["chip_access"] == {"access_control": "BAC", "short_ef_id": True,
                                     "extended_length": True}
    assert report["files_missing"] == [] and report["data_groups_listed"] == [1, 2]
    assert report["document_expired"] is False


async def test_text_report_and_failed_integrity(slot: VirtualCardSlot, capsys) -> None:
    await slot.insert(IcaoChip(HOLDER, pki=PKI, faults={ChipFault.CORRUPT_DG2}))
    await until(lambda: card_present(READER))
    assert await run([*ARGS, "--reader", READER]) == 3
    out = capsys.readouterr().out
    assert "FAILED" in out and "DG2 BAD" in out and "DG1 ok" in out
    assert "ZHAO, LEI" in out and "APDUs in" in out


async def test_wrong_mrz_is_a_clear_message(slot: VirtualCardSlot, capsys) -> None:
    await slot.insert(IcaoChip(HOLDER, pki=PKI))
    await until(lambda: card_present(READER))
    assert await run(["--doc-number", "G12345679", "--birth", "770707", "--expiry", "350707",
                      *HERE]) == 1
    err = capsys.readouterr().err
    assert "refused access" in err and "Traceback" not in err


async def test_no_card_and_bad_usage(slot: VirtualCardSlot, capsys) -> None:
    assert await run([*ARGS, "--json", "--reader", READER]) == 1   # nothing on this one
    assert json.loads(capsys.readouterr().out)["error"] == "no_card"
    assert await run(["--doc-number", "X", "--birth", "771307", "--expiry", "350707"]) == 2


async def test_a_pace_chip_opens_with_the_can_and_says_pace(slot: VirtualCardSlot, capsys) -> None:
    await slot.insert(IcaoChip(HOLDER, pki=PKI, shape={ChipShape.NO_BAC}))
    await until(lambda: card_present(READER))
    assert await run(["--can", "123456", "--json", *HERE]) == 0   # the simulated chip's CAN
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["chip_access"]["access_control"] == "PACE"
    assert report["mrz"]["surname"] == "ZHAO"
    assert await run(["--can", "654321", *HERE]) == 1
    assert "refused access" in capsys.readouterr().err
    assert await run(["--can", "12345"]) == 2                 # not 6 digits
    assert await run(["--can", "123456", *ARGS]) == 2         # the CAN or the MRZ, not both


async def test_a_clone_fails_active_authentication_in_the_report(slot: VirtualCardSlot,
                                                                  capsys) -> None:
    chip = IcaoChip(HOLDER, pki=PKI, shape={ChipShape.ACTIVE_AUTH}, faults={ChipFault.CLONE})
    await slot.insert(chip)
    await until(lambda: card_present(READER))
    assert await run([*ARGS, *HERE]) == 3
    out = capsys.readouterr().out
    assert "active auth:     FAILED (the chip's signature does not verify" in out
    assert "DG15 ok" in out   # the data itself is genuine


async def test_a_can_cannot_open_a_bac_only_chip(slot: VirtualCardSlot, capsys) -> None:
    await slot.insert(IcaoChip(HOLDER, pki=PKI))
    await until(lambda: card_present(READER))
    assert await run(["--can", "123456", *HERE]) == 1
    assert "refused access" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ({ChipShape.NO_EF_SOD}, [
            "data groups:     listed [1, 2], read DG1 (95 B), DG2 (20480 B)",
            "not on the chip: EF.SOD",
            "passive auth:    NOT POSSIBLE (the chip holds no EF.SOD: its data cannot be verified)",
        ]),
        ({ChipShape.NO_DG2}, [
            "data groups:     listed [1], read DG1 (95 B)", "not on the chip: DG2",
            "face image:      none",
        ]),
        (NEITHER, ["chip access:     BAC, SELECT, then READ BINARY, short APDUs"]),
        (frozenset(), ["chip access:     BAC, by short EF identifier, extended length",
                       "cost:            7 APDUs in"]),
    ],
    ids=["no-ef-sod", "no-dg2", "neither", "modern"],
)  # fmt: skip
async def test_every_shape_is_reported_for_what_it_is(
    slot: VirtualCardSlot, tmp_path: Path, capsys, shape, expected: list[str]
) -> None:
    (tmp_path / "csca.pem").write_bytes(PKI.csca_cert_pem)
    await slot.insert(IcaoChip(HOLDER, pki=PKI, shape=shape))
    await until(lambda: card_present(READER))
    assert await run([*ARGS, *HERE, "--csca", str(tmp_path / "csca.pem")]) == 0
    out = capsys.readouterr().out
    for line in expected:
        assert line in out, out
    assert "ZHAO, LEI" in out and "unreadable" not in out
