"""`kiosk-read-idcard` against the simulated SAM reader on a pty: masked by default."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from provisioning.read_idcard import main
from simulator.idcard_reader import IdCardReaderSimulator, ResidentCard

CARD = ResidentCard()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[IdCardReaderSimulator]:
    simulator = IdCardReaderSimulator(tmp_path / "ttyIDCARD", CARD)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_command_prints_fields_with_personal_data_masked(sim) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "provisioning.read_idcard", "--port", sim.path, "--wait", "5",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    text = out.decode() + err.decode()
    assert process.returncode == 0, text
    assert "4420**********123X" in text
    for secret in (CARD.id_number, CARD.name, CARD.birth_date, CARD.address):
        assert secret not in text
    assert "check digit ok: True" in text


async def test_json_output_is_masked_unless_asked(sim, capsys) -> None:
    assert await asyncio.to_thread(main, ["--port", sim.path, "--json"]) == 0
    masked = json.loads(capsys.readouterr().out)
    assert masked["ok"] and masked["id_number"] == "4420**********123X"
    assert masked["name"] == CARD.name[0] + "**" and masked["photo_bytes"] == 1024
    assert masked["id_number_valid"] is True

    argv = ["--port", sim.path, "--json", "--show-personal-data"]
    assert await asyncio.to_thread(main, argv) == 0
    clear = json.loads(capsys.readouterr().out)
    assert clear["id_number"] == CARD.id_number and clear["name"] == CARD.name


async def test_no_card_within_the_wait_exits_with_the_reason(sim, capsys) -> None:
    sim.remove()
    argv = ["--port", sim.path, "--json", "--wait", "0.4"]
    assert await asyncio.to_thread(main, argv) == 1
    assert json.loads(capsys.readouterr().out) == {"ok": False, "reason": "timeout"}


async def test_missing_reader_exits_with_reader_unavailable(sim, capsys) -> None:
    sim.unplug()
    assert await asyncio.to_thread(main, ["--port", sim.path]) == 1
    assert "reader_unavailable" in capsys.readouterr().err
