"""'RESULT: READY' means ready: enrolled (or declined on purpose), and every device written passed.

Each test runs `kiosk-provision` as its own process against the simulator, as a technician
would, and checks the exit code, the report's last block and the files it left behind.
"""

from __future__ import annotations

from tests.provisioning.provkit import PLACE, free_port, read_toml, run_cli, sim_argv


def result_block(out: str) -> list[str]:
    """The machine-checkable end of the report: the RESULT line and the lines after it."""
    lines = out.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("RESULT: "))
    return lines[start:]


async def test_a_kiosk_nobody_enrolled_is_not_ready_unless_enrollment_is_declined(tmp_path, sim):
    run = await run_cli(*sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"))

    assert run.code == 1, run.out + run.err
    block = result_block(run.out)
    assert block[0].startswith("RESULT: NOT READY")
    assert any("enrollment: no enrollment token given" in line for line in block), block
    assert read_toml(tmp_path)["fleet"]["enrolled_at"] == ""

    declined = await run_cli(*sim_argv(tmp_path, sim, "--no-receipt", "--no-enroll"), stdin="")
    assert declined.code == 0, declined.out + declined.err
    assert result_block(declined.out)[0].startswith("RESULT: READY")
    assert "Fleet enrollment: declined" in declined.out


async def test_an_empty_token_file_is_refused_before_anything_is_written(tmp_path, sim):
    token_file = tmp_path / "token.txt"
    token_file.write_text("\n")
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--fleet-url", "http://127.0.0.1:9"),
        *("--enroll-token-file", str(token_file), *PLACE),
    )

    assert run.code == 2, run.out + run.err
    assert f"the token file {token_file} is empty" in run.err
    assert "RESULT: READY" not in run.out
    assert not (tmp_path / "etc").exists()  # nothing written, not even the folder


async def test_rekey_without_a_token_is_refused_and_the_kiosk_keeps_its_key(tmp_path, sim):
    await run_cli(*sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"))
    key_before = (tmp_path / "etc" / "device.key").read_bytes()
    config_before = read_toml(tmp_path)

    rekey = await run_cli(*sim_argv(tmp_path, sim, "--no-receipt", "--rekey"), stdin="")

    assert rekey.code == 2, rekey.out + rekey.err
    assert "--rekey gives this kiosk a new device key" in rekey.err
    assert "re-key token" in rekey.err
    assert (tmp_path / "etc" / "device.key").read_bytes() == key_before
    assert read_toml(tmp_path) == config_before


async def test_a_device_that_fails_its_self_test_is_not_written_and_the_run_is_not_ready(
    tmp_path, sim
):
    from simulator.barcode_scanner import ScannerFault

    await run_cli(*sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"))
    scanner = sim.scanner.endpoint["port"]
    assert read_toml(tmp_path)["devices"]["barcode_scanner_port"] == scanner

    sim.scanner.faults.add(ScannerFault.SILENT)
    bad = await run_cli(*sim_argv(tmp_path, sim, "--no-receipt"), stdin="")

    assert bad.code == 1, bad.out + bad.err
    block = result_block(bad.out)
    assert block[0].startswith("RESULT: NOT READY")
    assert "  - barcode_scanner: device_silent" in block
    devices = read_toml(tmp_path)["devices"]
    assert "barcode_scanner_port" not in devices  # the earlier run's setting is gone too
    assert devices["dispenser_port"] == sim.dispenser.endpoint["port"]  # the others stay
    assert f"NOT WRITTEN: barcode_scanner {scanner}" in bad.out


async def test_a_fleet_that_cannot_be_reached_is_not_saved(tmp_path, sim):
    closed = f"http://127.0.0.1:{free_port()}"
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", "--fleet-url", closed),
        *("--enroll-token", "A" * 43, *PLACE),
    )

    assert run.code == 1, run.out + run.err
    assert any(line.startswith("  - enrollment: ") for line in result_block(run.out))
    fleet = read_toml(tmp_path)["fleet"]
    assert fleet["server_url"] == "" and fleet["enrolled_at"] == "" and fleet["key_id"] == ""
