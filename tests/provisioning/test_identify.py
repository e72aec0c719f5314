"""The probe finds out what answers on each serial port, in that device's own protocol.

The simulator's ID-card SAM, dispenser and scanner sit on ptys under names that say nothing (or
the wrong thing) about them; only what answers tells them apart.
"""

from __future__ import annotations

import json
import os

import pytest

from provisioning.cli import parse_args
from tests.provisioning.provkit import argv, read_toml, run_cli


@pytest.fixture
async def ports(tmp_path):
    """The three serial devices on ptys named like anonymous USB-serial adapters."""
    from simulator.barcode_scanner import BarcodeScannerSimulator
    from simulator.dispenser import DispenserSimulator
    from simulator.idcard_reader import IdCardReaderSimulator

    dev = tmp_path / "dev"
    devices = {
        "dispenser": DispenserSimulator(dev / "ttyUSB0"),
        "idcard": IdCardReaderSimulator(dev / "ttyUSB1"),
        "scanner": BarcodeScannerSimulator(dev / "ttyUSB2"),
    }
    for device in devices.values():
        await device.start()
    yield {name: str(dev / f"ttyUSB{i}") for i, name in enumerate(devices)}
    for device in devices.values():
        await device.stop()


def serial_report(run) -> dict[str, dict]:
    report = json.loads(run.out)
    return {d["address"]: d for d in report["probe"]["devices"] if d["transport"] == "serial"}


async def test_each_port_is_identified_by_what_answers_on_it(tmp_path, ports):
    # A link named "scanner" that leads to the dispenser: the name must not decide anything.
    misleading = tmp_path / "scanner"
    misleading.symlink_to(os.readlink(ports["dispenser"]))
    given = [ports["idcard"], ports["scanner"], str(misleading)]
    serial = [arg for path in given for arg in ("--serial", path)]
    run = await run_cli(*argv(tmp_path, "--no-scan", "--pin-stdin", "--json", *serial))

    found = serial_report(run)
    assert found[ports["idcard"]]["kind"] == "id_card_reader", found
    assert found[ports["scanner"]]["kind"] == "barcode_scanner"
    assert found[str(misleading)]["kind"] == "dispenser"
    assert "answers as the dispenser: CRT-591" in found[str(misleading)]["detail"]
    devices = read_toml(tmp_path)["devices"]
    assert devices["idcard_reader_port"] == ports["idcard"]
    assert devices["barcode_scanner_port"] == ports["scanner"]
    assert devices["dispenser_port"] == str(misleading)


async def test_a_port_given_for_the_wrong_device_is_refused(tmp_path, ports):
    dispenser = ports["dispenser"]
    run = await run_cli(
        *argv(tmp_path, "--no-scan", "--pin-stdin", "--serial", f"{dispenser}=idcard")
    )

    assert run.code == 1, run.out + run.err
    refusal = f"port {dispenser} answers as the dispenser, not the ID-card reader"
    assert f"  - {refusal}" in run.out.splitlines()
    devices = read_toml(tmp_path)["devices"]
    assert "idcard_reader_port" not in devices and "dispenser_port" not in devices


async def test_an_unknown_device_name_is_refused(tmp_path, ports):
    run = await run_cli(*argv(tmp_path, "--serial", f"{ports['idcard']}=printer"))
    assert run.code == 2
    assert "unknown device 'printer'" in run.err and "idcard, dispenser, scanner" in run.err
    assert not (tmp_path / "etc").exists()
    with pytest.raises(SystemExit):
        parse_args(["--serial", "/dev/ttyUSB0=unknown"])


async def test_a_port_where_no_known_device_answers_says_so(tmp_path):
    from provisioning.identify import identify_serial

    master, slave = os.openpty()  # a port with nothing behind it
    try:
        silent = identify_serial(os.ttyname(slave), timeout=0.2)
    finally:
        os.close(master)
        os.close(slave)
    assert silent.kind is None and silent.detail.startswith("no known device answers")
    missing = identify_serial(str(tmp_path / "ttyUSB9"))
    assert (missing.kind, missing.port_opens, missing.detail) == (
        None,
        False,
        "the port does not exist",
    )
