"""kiosk-provision against the running simulator: probe, self-test, receipt, files, re-runs."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import stat
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import load_config
from provisioning.cli import parse_args, printer_spec, provision
from provisioning.config_writer import ProvisioningError, hash_pin, validate_pin, verify_pin
from provisioning.report import EnrollmentState, render_text, to_json
from provisioning.selftest import Outcome
from simulator.runtime import Simulator, SimulatorOptions

PIN = "480913"
PLACE = ("--site", "zs-hall-3", "--region", "442000")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim(tmp_path):
    simulator = Simulator(SimulatorOptions(state_dir=tmp_path / "sim"))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def pin_on_stdin(monkeypatch):
    def feed(pin: str = PIN) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(pin + "\n"))

    feed()
    return feed


def argv(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--config-dir",
        str(tmp_path / "etc"),
        "--state-dir",
        str(tmp_path / "var"),
        *extra,
    ]


def sim_argv(tmp_path: Path, sim: Simulator, *extra: str) -> list[str]:
    return argv(tmp_path, "--simulator", str(sim.state_dir), *extra)


def read_toml(tmp_path: Path) -> dict:
    return tomllib.loads((tmp_path / "etc" / "kiosk.toml").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_probe_finds_the_simulated_devices_and_every_self_test_passes(
    tmp_path, sim, pin_on_stdin
):
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--site", "zs-hall-3"))
    )

    assert report.ok, render_text(report)
    sel = report.selection
    assert sel.chip_reader is not None and sel.chip_reader.address.startswith("Virtual PCD")
    assert sel.printer is not None and sel.printer.address == f"tcp://127.0.0.1:{sim.printer.port}"
    assert sel.face_camera is not None and sel.face_camera.address == sim.face_camera.url
    outcomes = {r.device: r.outcome for r in report.self_tests}
    assert outcomes == {
        "chip_reader": Outcome.PASS,
        "receipt_printer": Outcome.PASS,
        "face_camera": Outcome.PASS,
        # The simulator's serial devices on their ptys answered their own self-tests.
        "id_card_reader": Outcome.PASS,
        "dispenser": Outcome.PASS,
        "barcode_scanner": Outcome.PASS,
    }
    # The configuration points the kiosk at exactly those devices, and the kiosk's loader takes it.
    config = read_toml(tmp_path)
    assert config["kiosk_id"] == report.kiosk_id
    assert config["devices"]["card_reader"] == sel.chip_reader.address
    assert config["devices"]["printer_port"] == sim.printer.port
    assert config["devices"]["face_camera_url"] == sim.face_camera.url
    assert config["backends"]["payment_url"] == sim.endpoints["payment_url"]
    known = {k: v for k, v in config.items() if k not in ("fleet", "technician")}
    assert load_config(None, known).devices.printer_port == sim.printer.port
    assert config["fleet"]["site"] == "zs-hall-3"


async def test_a_test_receipt_comes_out_of_the_printer(tmp_path, sim, pin_on_stdin):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))

    assert report.receipt is not None and report.receipt.outcome is Outcome.PASS
    (receipt,) = await sim.printer.wait_for_receipts(1)
    assert report.kiosk_id in receipt.text
    assert "receipt_printer" in receipt.text and "PASS" in receipt.text
    assert receipt.qr_payloads == (f"kiosk:{report.kiosk_id}",)


async def test_no_receipt_when_told_not_to(tmp_path, sim, pin_on_stdin):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt")))
    assert report.receipt is None
    await asyncio.sleep(0.2)
    assert sim.printer.receipts == []


async def test_files_get_safe_modes_and_the_pin_is_stored_only_as_a_hash(
    tmp_path, sim, pin_on_stdin
):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))

    config_path, key_path = Path(report.config_path), Path(report.key_path)
    assert key_path.parent == config_path.parent == tmp_path / "etc"
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    assert not list((tmp_path / "etc").glob(".*.tmp"))  # no leftovers of the atomic writes

    text = config_path.read_text()
    assert PIN not in text
    pin_hash = read_toml(tmp_path)["technician"]["pin_hash"]
    assert verify_pin(PIN, pin_hash)
    assert not verify_pin("480914", pin_hash)
    assert read_toml(tmp_path)["fleet"]["device_key_path"] == str(key_path)
    # Neither the report nor its JSON carries the PIN or the key.
    dumped = json.dumps(to_json(report)) + render_text(report)
    assert PIN not in dumped and "PRIVATE KEY" not in dumped


async def test_rerun_keeps_kiosk_id_key_and_pin(tmp_path, sim, pin_on_stdin):
    first = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    key_before = Path(first.key_path).read_bytes()
    config_before = read_toml(tmp_path)

    # Second run: no PIN given (not interactive), the technician only re-checks the hardware.
    pin_on_stdin("")
    second = await provision(parse_args(sim_argv(tmp_path, sim)))

    assert second.ok, render_text(second)
    assert second.kiosk_id == first.kiosk_id
    assert not second.key_created and first.key_created
    assert Path(second.key_path).read_bytes() == key_before
    assert read_toml(tmp_path) == config_before
    assert second.pin_present and not second.pin_set


async def test_rekey_makes_a_new_identity(tmp_path, sim, pin_on_stdin):
    first = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    key_before = Path(first.key_path).read_bytes()
    second = await provision(parse_args(sim_argv(tmp_path, sim, "--rekey")))
    assert second.kiosk_id != first.kiosk_id
    assert second.key_created
    assert Path(second.key_path).read_bytes() != key_before
    assert stat.S_IMODE(Path(second.key_path).stat().st_mode) == 0o600


async def test_settings_made_by_hand_survive_a_rerun(tmp_path, sim, pin_on_stdin):
    await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    path = tmp_path / "etc" / "kiosk.toml"
    path.write_text(path.read_text() + '\n[ui]\nlanguage = "en"\n')
    await provision(parse_args(sim_argv(tmp_path, sim)))
    assert read_toml(tmp_path)["ui"] == {"language": "en"}


async def test_missing_devices_are_reported_and_exit_nonzero(tmp_path):
    # No simulator: a printer address nobody listens on, no camera.
    closed = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioning.cli",
        *argv(tmp_path, "--no-scan", "--printer", f"127.0.0.1:{closed}", "--pin-stdin", "--json"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(PIN.encode() + b"\n"), 60)
    assert proc.returncode == 1, err.decode()[-2000:]
    report = json.loads(out)
    assert report["ok"] is False
    results = {r["device"]: r for r in report["self_tests"]}
    assert results["receipt_printer"]["outcome"] == "fail"
    assert results["receipt_printer"]["reason"] == "printer_offline"
    assert results["face_camera"]["reason"] == "camera_unavailable"
    assert report["receipt"]["outcome"] == "fail"
    assert any(f.startswith("receipt_printer") for f in report["failures"])
    # What could be written was written: the identity exists for the next run.
    assert (tmp_path / "etc" / "device.key").exists()


async def test_cli_against_the_simulator_exits_zero_with_a_readable_report(tmp_path, sim):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioning.cli",
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(PIN.encode() + b"\n"), 60)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()[-2000:]
    assert "RESULT: READY" in text
    assert sim.face_camera.url in text
    assert PIN not in text


async def test_a_weak_pin_is_refused_before_anything_is_written(tmp_path, sim, pin_on_stdin):
    pin_on_stdin("111111")
    with pytest.raises(ProvisioningError, match="repeated digit"):
        await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    assert not (tmp_path / "etc" / "kiosk.toml").exists()
    assert not (tmp_path / "etc" / "device.key").exists()


async def test_first_run_without_a_pin_is_refused(tmp_path, sim, pin_on_stdin):
    pin_on_stdin("")
    with pytest.raises(ProvisioningError, match="PIN is needed"):
        await provision(parse_args(sim_argv(tmp_path, sim)))


async def test_a_broken_existing_config_is_a_clear_error(tmp_path, sim, pin_on_stdin):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "kiosk.toml").write_text("kiosk_id = [unclosed\n")
    with pytest.raises(ProvisioningError, match="not valid TOML"):
        await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))


async def test_no_simulator_running_is_a_clear_error(tmp_path, pin_on_stdin):
    with pytest.raises(ProvisioningError, match="no running simulator"):
        await provision(parse_args(argv(tmp_path, "--simulator", str(tmp_path / "nothing"))))


async def test_enrollment_is_skipped_without_a_fleet_server(tmp_path, sim, pin_on_stdin):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    assert report.enrollment.state is EnrollmentState.SKIPPED
    assert read_toml(tmp_path)["fleet"]["enrolled_at"] == ""


# -- parsers ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_verify_pin_never_raises_on_a_malformed_hash(encoded):
    assert verify_pin(PIN, encoded) in (True, False)


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="0123456789$abcdef", max_size=80))
def test_verify_pin_rejects_mangled_real_hashes(suffix):
    real = hash_pin(PIN, salt=b"\0" * 16)
    mangled = real[: len(real) // 2] + suffix
    assert verify_pin(PIN, mangled) is (mangled == real)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_pin_validation_accepts_only_digit_pins(pin):
    try:
        validate_pin(pin)
    except ProvisioningError:
        return
    assert pin.isascii() and pin.isdigit() and 6 <= len(pin) <= 12


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_printer_spec_parses_or_says_why(text):
    import argparse

    try:
        host, port = printer_spec(text)
    except argparse.ArgumentTypeError:
        return
    given_host, _, given_port = text.rpartition(":")
    assert port == int(given_port) and 0 < port < 65536
    assert host == (given_host or "127.0.0.1")


def test_hash_pin_salts_every_hash():
    assert hash_pin(PIN) != hash_pin(PIN)
    assert verify_pin(PIN, hash_pin(PIN))


def test_no_world_access_even_with_a_permissive_umask(tmp_path):
    from provisioning.config_writer import atomic_write

    old = os.umask(0)
    try:
        atomic_write(tmp_path / "secret", b"x", 0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


# -- enrollment with a real fleet server -----------------------------------------------------


@pytest.fixture
async def fleet(tmp_path):
    """The fleet server on port 0, and a way to mint one-time enrollment tokens."""
    from aiohttp import web

    from fleet.app import create_app, open_store
    from fleet.auth import new_secret_token
    from fleet.config import FleetConfig

    config = FleetConfig(data_dir=tmp_path / "fleet")
    store = await open_store(config)
    runner = web.AppRunner(create_app(config, store), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    class Fleet:
        url = f"http://127.0.0.1:{port}"

        def __init__(self) -> None:
            self.store = store

        async def token(self) -> str:
            token, hashed = new_secret_token()
            await store.create_enrollment_token(hashed, "test", 3600)
            return token

    yield Fleet()
    await runner.cleanup()
    await store.close()


async def test_enrolls_with_the_fleet_server_and_a_rerun_does_not_enroll_again(
    tmp_path, sim, fleet, pin_on_stdin
):
    from kiosk.fleet_agent import load_private_key
    from kiosk.fleet_wire import key_id

    token_file = tmp_path / "token"
    token_file.write_text(await fleet.token())
    args = ["--fleet-url", fleet.url, "--enroll-token-file", str(token_file)]
    first = await provision(
        parse_args(
            sim_argv(
                tmp_path, sim, "--pin-stdin", "--site", "zs-hall-3", "--region", "442000", *args
            )
        )
    )

    assert first.enrollment.state is EnrollmentState.ENROLLED, first.enrollment
    assert first.ok
    kiosk = await fleet.store.get_kiosk(first.kiosk_id)
    assert kiosk is not None
    config = read_toml(tmp_path)["fleet"]
    assert config["server_url"] == fleet.url and config["enrolled_at"]
    device_key = load_private_key(Path(first.key_path).read_bytes())
    assert config["key_id"] == key_id(device_key.public_key())
    assert (await fleet.store.kiosk_key(config["key_id"]))["kiosk_id"] == first.kiosk_id
    assert token_file.read_text() not in Path(first.config_path).read_text()

    # Same token again (the technician re-runs the same command): nothing to enroll.
    second = await provision(parse_args(sim_argv(tmp_path, sim, *args)))
    assert second.enrollment.state is EnrollmentState.ALREADY_ENROLLED
    assert second.ok and second.kiosk_id == first.kiosk_id
    assert read_toml(tmp_path)["fleet"]["key_id"] == config["key_id"]


async def test_a_spent_token_is_reported_not_raised(tmp_path, sim, fleet, pin_on_stdin):
    token = await fleet.token()
    first = await provision(
        parse_args(
            sim_argv(
                tmp_path / "a",
                sim,
                "--pin-stdin",
                "--fleet-url",
                fleet.url,
                "--enroll-token",
                token,
                *PLACE,
            )
        )
    )
    assert first.enrollment.state is EnrollmentState.ENROLLED
    pin_on_stdin()
    other = await provision(
        parse_args(
            sim_argv(
                tmp_path / "b",
                sim,
                "--pin-stdin",
                "--fleet-url",
                fleet.url,
                "--enroll-token",
                token,
                *PLACE,
            )
        )
    )
    assert other.enrollment.state is EnrollmentState.FAILED
    assert "token_used" in other.enrollment.detail
    assert not other.ok
    assert read_toml(tmp_path / "b")["fleet"]["enrolled_at"] == ""


async def test_enrolling_without_site_and_region_is_refused_up_front(tmp_path, sim, pin_on_stdin):
    args = sim_argv(tmp_path, sim, "--pin-stdin", "--fleet-url", "http://x", "--enroll-token", "t")
    with pytest.raises(ProvisioningError, match="--site and --region"):
        await provision(parse_args(args))
    assert not (tmp_path / "etc" / "kiosk.toml").exists()


def test_site_with_spaces_is_refused_by_the_command_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--site", "Hall 3"])
    assert exit_info.value.code == 2
    assert "ASCII letters" in capsys.readouterr().err


async def test_an_unreachable_fleet_server_is_reported(tmp_path, sim, pin_on_stdin):
    url = f"http://127.0.0.1:{free_port()}"
    report = await provision(
        parse_args(
            sim_argv(
                tmp_path, sim, "--pin-stdin", "--fleet-url", url, "--enroll-token", "x", *PLACE
            )
        )
    )
    assert report.enrollment.state is EnrollmentState.FAILED
    assert "unreachable" in report.enrollment.detail
    assert any(f.startswith("enrollment") for f in report.failures)


# -- serial devices through their own services' self-tests -----------------------------------


@pytest.fixture
async def serial_devices(tmp_path):
    from simulator.barcode_scanner import BarcodeScannerSimulator
    from simulator.dispenser import DispenserSimulator

    dispenser = DispenserSimulator(tmp_path / "dev" / "dispenser")
    scanner = BarcodeScannerSimulator(tmp_path / "dev" / "scanner")
    await dispenser.start()
    await scanner.start()
    yield dispenser, scanner
    await scanner.stop()
    await dispenser.stop()


def serial_args(tmp_path: Path) -> list[str]:
    dev = tmp_path / "dev"
    return ["--serial", f"{dev / 'dispenser'}=dispenser", "--serial", f"{dev / 'scanner'}=scanner"]


async def test_serial_devices_pass_their_own_self_tests(
    tmp_path, sim, serial_devices, pin_on_stdin
):
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", *serial_args(tmp_path)))
    )
    results = {r.device: r for r in report.self_tests}
    assert results["dispenser"].outcome is Outcome.PASS, results["dispenser"]
    assert results["barcode_scanner"].outcome is Outcome.PASS, results["barcode_scanner"]
    assert "CRT-591" in results["dispenser"].detail  # the model the unit reported
    assert report.ok


async def test_an_empty_dispenser_fails_its_self_test(tmp_path, sim, serial_devices, pin_on_stdin):
    from simulator.dispenser import DispenserFault

    dispenser, _scanner = serial_devices
    dispenser.set_fault(DispenserFault.STOCK_EMPTY, True)
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", *serial_args(tmp_path)))
    )
    result = next(r for r in report.self_tests if r.device == "dispenser")
    assert result.outcome is Outcome.FAIL
    assert result.reason == "stock_empty"
    assert not report.ok and "dispenser: stock_empty" in report.failures


async def test_a_silent_scanner_fails_its_self_test(tmp_path, sim, serial_devices, pin_on_stdin):
    from simulator.barcode_scanner import ScannerFault

    _dispenser, scanner = serial_devices
    scanner.faults.add(ScannerFault.SILENT)
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", *serial_args(tmp_path)))
    )
    result = next(r for r in report.self_tests if r.device == "barcode_scanner")
    assert result.outcome is Outcome.FAIL, result
