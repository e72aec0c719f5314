"""kiosk-provision against the running simulator: probe, self-test, receipt, files, re-runs."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import load_config
from provisioning.cli import parse_args, printer_spec, provision
from provisioning.config_writer import (
    SESSION_ENV_NAME,
    ProvisioningError,
    hash_pin,
    validate_pin,
    verify_pin,
)
from provisioning.enrollment import EnrollmentState
from provisioning.report import render_text, to_json
from provisioning.selftest import Outcome
from simulator.cage_session import read_environment_file
from tests.provisioning.provkit import (
    PIN,
    PLACE,
    ROOT,
    argv,
    free_port,
    read_toml,
    sim_argv,
)

NO_FLEET = "--no-enroll"


async def test_probe_finds_the_simulated_devices_and_every_self_test_passes(
    tmp_path, sim, pin_on_stdin
):
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--site", "zs-hall-3", NO_FLEET))
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
        "document_camera": Outcome.PASS,
        "csca_store": Outcome.PASS,
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


async def test_document_camera_and_csca_store_are_written_when_the_hardware_has_them(
    tmp_path, sim, pin_on_stdin
):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt")))

    devices = read_toml(tmp_path)["devices"]
    assert devices["document_camera_url"] == sim.document_camera.url
    installed = tmp_path / "etc" / "csca.pem"
    assert devices["csca_store"] == str(installed)  # the kiosk's own copy, not the source
    assert installed.read_bytes() == sim.pki.csca_cert_pem
    assert stat.S_IMODE(installed.stat().st_mode) == 0o640
    known = {k: v for k, v in read_toml(tmp_path).items() if k not in ("fleet", "technician")}
    assert load_config(None, known).devices.csca_store == str(installed)
    passed = {r.device for r in report.self_tests if r.outcome is Outcome.PASS}
    assert {"document_camera", "csca_store"} <= passed


async def test_a_csca_file_without_certificates_fails_and_is_not_written(
    tmp_path, sim, pin_on_stdin
):
    junk = tmp_path / "csca.pem"
    junk.write_text("not a certificate\n")
    args = sim_argv(
        tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET, "--csca-store", str(junk)
    )
    report = await provision(parse_args(args))

    result = next(r for r in report.self_tests if r.device == "csca_store")
    assert result.outcome is Outcome.FAIL and result.reason == "no_trusted_certificate"
    assert not report.ok and "csca_store" not in read_toml(tmp_path)["devices"]


async def test_a_test_receipt_comes_out_of_the_printer(tmp_path, sim, pin_on_stdin):
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", NO_FLEET)))

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
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", NO_FLEET)))

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
    first = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", NO_FLEET)))
    key_before = Path(first.key_path).read_bytes()
    config_before = read_toml(tmp_path)

    # Second run: no PIN given (not interactive), the technician only re-checks the hardware.
    pin_on_stdin("")
    second = await provision(parse_args(sim_argv(tmp_path, sim, NO_FLEET)))

    assert second.ok, render_text(second)
    assert second.kiosk_id == first.kiosk_id
    assert not second.key_created and first.key_created
    assert Path(second.key_path).read_bytes() == key_before
    assert read_toml(tmp_path) == config_before
    assert second.pin_present and not second.pin_set


async def test_settings_made_by_hand_survive_a_rerun(tmp_path, sim, pin_on_stdin):
    await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin")))
    path = tmp_path / "etc" / "kiosk.toml"
    path.write_text(path.read_text() + '\n[ui]\nlanguage = "en"\n')
    await provision(parse_args(sim_argv(tmp_path, sim)))
    assert read_toml(tmp_path)["ui"] == {"language": "en"}


async def test_the_panel_s_rotation_reaches_the_display_session_and_stays(
        tmp_path, sim, pin_on_stdin):
    await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", NO_FLEET,
                                        "--rotation", "270")))
    assert read_toml(tmp_path)["ui"]["rotation"] == 270
    session = read_environment_file(tmp_path / "etc" / SESSION_ENV_NAME)
    assert session["KIOSK_CAGE_ROTATE"].split() == ["-r", "-r", "-r"]   # cage: 3 x 90 clockwise
    assert stat.S_IMODE((tmp_path / "etc" / SESSION_ENV_NAME).stat().st_mode) == 0o640
    pin_on_stdin("")
    await provision(parse_args(sim_argv(tmp_path, sim, NO_FLEET)))   # not given: kept
    assert read_toml(tmp_path)["ui"]["rotation"] == 270
    assert read_environment_file(tmp_path / "etc" / SESSION_ENV_NAME)["KIOSK_CAGE_ROTATE"]
    with pytest.raises(SystemExit):   # only quarter turns
        parse_args(sim_argv(tmp_path, sim, "--rotation", "45"))


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
    assert results["csca_store"]["reason"] == "missing"  # no trust store: every chip refused
    assert report["receipt"] is None  # a printer that failed its self-test prints nothing
    assert any(f.startswith("receipt_printer") for f in report["failures"])
    # What could be written was written: the identity exists for the next run.
    assert (tmp_path / "etc" / "device.key").exists()


async def test_cli_against_the_simulator_exits_zero_with_a_readable_report(tmp_path, sim):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioning.cli",
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET),
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


async def test_enrolls_with_the_fleet_server_and_a_rerun_does_not_enroll_again(
    tmp_path, sim, fleet, pin_on_stdin
):
    from wire.fleet import key_id, load_private_key

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
    assert "this token was used already" in other.enrollment.detail
    assert not other.ok
    assert read_toml(tmp_path / "b")["fleet"]["enrolled_at"] == ""


async def test_enrolling_without_site_and_region_is_refused_up_front(tmp_path, sim, pin_on_stdin):
    token = "t" * 43
    args = sim_argv(
        tmp_path, sim, "--pin-stdin", "--fleet-url", "http://x", "--enroll-token", token
    )
    with pytest.raises(ProvisioningError, match="--site and --region"):
        await provision(parse_args(args))
    assert not (tmp_path / "etc" / "kiosk.toml").exists()


# -- serial devices through their own services' self-tests -----------------------------------


def result_of(report, role: str, address: str):
    return next(r for r in report.self_tests if r.device == role and r.address == address)


async def test_serial_devices_pass_their_own_self_tests(tmp_path, sim, pin_on_stdin):
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET))
    )
    dispenser = result_of(report, "dispenser", sim.dispenser.endpoint["port"])
    scanner = result_of(report, "barcode_scanner", sim.scanner.endpoint["port"])
    assert dispenser.outcome is Outcome.PASS, dispenser
    assert scanner.outcome is Outcome.PASS, scanner
    assert "CRT-591" in dispenser.detail  # the model the unit reported
    assert report.ok


async def test_an_empty_dispenser_fails_its_self_test(tmp_path, sim, pin_on_stdin):
    from simulator.dispenser import DispenserFault

    sim.dispenser.set_fault(DispenserFault.STOCK_EMPTY, True)
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET))
    )
    result = result_of(report, "dispenser", sim.dispenser.endpoint["port"])
    assert result.outcome is Outcome.FAIL
    assert result.reason == "stock_empty"
    assert not report.ok and "dispenser: stock_empty" in report.failures


async def test_a_silent_scanner_fails_its_self_test(tmp_path, sim, pin_on_stdin):
    from simulator.barcode_scanner import ScannerFault

    sim.scanner.faults.add(ScannerFault.SILENT)
    report = await provision(
        parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET))
    )
    result = result_of(report, "barcode_scanner", sim.scanner.endpoint["port"])
    assert result.outcome is Outcome.FAIL, result
    assert not report.ok


async def test_a_printer_cutter_error_is_reported_as_such(tmp_path, sim, pin_on_stdin):
    from simulator.escpos_printer import PrinterFault

    sim.printer.set_fault(PrinterFault.CUTTER_ERROR, True)
    report = await provision(parse_args(sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt")))
    result = next(r for r in report.self_tests if r.device == "receipt_printer")
    # The kiosk's own printer service judges the status: before, this read "printer_offline".
    assert (result.outcome, result.reason) == (Outcome.FAIL, "cutter_error")


async def test_release_keys_are_written_for_updates_and_a_bad_one_is_refused(
    tmp_path, sim, pin_on_stdin, capsys
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from wire.update.manifest import Manifest, RuntimeRef, public_key_text

    release = Ed25519PrivateKey.generate()
    key = public_key_text(release)
    base = sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt", NO_FLEET)
    await provision(parse_args([*base, "--release-key", key, "--release-key", key]))
    written = read_toml(tmp_path)
    assert written["update"]["trusted_keys"] == [key]
    known = {k: v for k, v in written.items() if k not in ("fleet", "technician")}
    trusted = load_config(None, known).update.trusted_keys
    # The kiosk's updater checks a release's manifest against exactly these keys.
    manifest = Manifest("1.1.0", "0", "3.11", 0, RuntimeRef("r" * 64, False), ())
    manifest.signed_with(release).verify(trusted)
    pin_on_stdin()
    await provision(parse_args(base))  # a re-run without the option keeps them
    assert read_toml(tmp_path)["update"]["trusted_keys"] == [key]
    with pytest.raises(SystemExit):
        parse_args([*base, "--release-key", "not-a-key"])
    assert "not a release key" in capsys.readouterr().err
