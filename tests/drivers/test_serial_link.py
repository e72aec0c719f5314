"""The one serial link, against a simulated device on a real pty (the scanner's far side):
open, read with a deadline, the port going away and coming back. And that every serial
driver goes through it: no other module of drivers/ or peripherals/ opens a port."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from drivers.barcode_scanner import INFO_QUERY, MENU_PREFIX
from drivers.serial_link import SERIAL_SCANNER, LinkFailure, SerialLink, SerialLinkError
from simulator.barcode_scanner import BarcodeScannerSimulator

ROOT = Path(__file__).resolve().parents[2]
QUERY = MENU_PREFIX + INFO_QUERY + b"."


@pytest.fixture
async def scanner(tmp_path):
    sim = BarcodeScannerSimulator(tmp_path / "ttySCAN")
    await sim.start()
    yield sim
    await sim.stop()


async def ask(link: SerialLink, timeout: float = 2.0) -> bytes:
    def round_trip() -> bytes:
        link.write(QUERY)
        reply = b""
        while not reply.endswith(b"."):
            chunk = link.read(64, timeout)
            if not chunk:
                break
            reply += chunk
        return reply

    return await asyncio.to_thread(round_trip)


async def test_a_query_and_its_reply_cross_the_link(scanner):
    link = SerialLink(scanner.endpoint["port"], SERIAL_SCANNER)
    try:
        assert (await ask(link)).startswith(b"REVINF" + scanner.model.encode())
    finally:
        link.close()


async def test_a_read_on_a_silent_line_ends_empty_at_its_deadline(scanner):
    link = SerialLink(scanner.endpoint["port"], SERIAL_SCANNER)
    try:
        assert await asyncio.to_thread(link.read, 64, 0.2) == b""
        assert link.connected
    finally:
        link.close()


def test_a_port_that_does_not_exist_cannot_be_opened(tmp_path):
    link = SerialLink(str(tmp_path / "ttyNOTHING"), SERIAL_SCANNER)
    with pytest.raises(SerialLinkError) as info:
        link.write(QUERY)
    assert info.value.reason is LinkFailure.CANNOT_OPEN and not link.connected


async def test_the_link_closes_when_the_port_goes_away_and_reopens_when_it_is_back(scanner):
    link = SerialLink(scanner.endpoint["port"], SERIAL_SCANNER)
    try:
        assert await ask(link)
        scanner.unplug()
        with pytest.raises(SerialLinkError) as info:
            for _ in range(20):                     # the pty's far side closes: a read fails
                await ask(link, timeout=0.1)
        assert info.value.reason in (LinkFailure.GONE, LinkFailure.CANNOT_OPEN)
        assert not link.connected
        scanner.plug()
        assert (await ask(link)).startswith(b"REVINF")
    finally:
        link.close()


def test_only_the_serial_link_opens_serial_ports():
    openers = []
    for package in ("drivers", "peripherals"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n == "serial" or n.startswith("serial.") or n.startswith("escpos.printer")
                       and "Serial" in {a.name for a in node.names} for n in names):
                    openers.append(path.relative_to(ROOT).as_posix())
    assert openers == ["drivers/serial_link.py"]
