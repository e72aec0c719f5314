"""`kiosk-sim` as a developer or technician types it, against a running simulator (or none)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.crash_harness import ROOT
from tests.simulator.running import RunningSimulator


def kiosk_sim(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "--state-dir", str(state_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", [["state"], ["unplug", "printer"], ["card-insert"],
                                     ["endpoints"]])
def test_without_a_simulator_it_says_so(tmp_path, command):
    done = kiosk_sim(tmp_path / "nothing-here", *command)
    assert done.returncode == 1
    assert "no simulator is running with state folder" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_simulator_that_died_is_named_not_a_traceback(tmp_path):
    # What a killed simulator leaves behind: its endpoints file, pointing at nothing.
    (tmp_path / "endpoints.json").write_text(
        json.dumps({"control_url": f"http://127.0.0.1:{free_port()}"}))
    done = kiosk_sim(tmp_path, "state")
    assert done.returncode == 1
    assert "no simulator answers at http://127.0.0.1:" in done.stderr and "stopped" in done.stderr
    assert "Traceback" not in done.stderr


def test_state_shows_each_device_plugged_and_its_faults(running_simulator: RunningSimulator):
    running_simulator.switch("dispenser", jam=True)
    running_simulator.switch("barcode_scanner", unplugged=True)
    try:
        done = kiosk_sim(running_simulator.state_dir, "state")
    finally:
        running_simulator.switch("dispenser", jam=False)
        running_simulator.switch("barcode_scanner", unplugged=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("DEVICE"))
    assert lines[header].split() == ["DEVICE", "PLUGGED", "FAULTS", "ON"]
    table = {line.split()[0]: line.split()[1:] for line in lines[header + 1:]}
    assert set(table) == set(running_simulator.control("devices"))
    assert table["dispenser"] == ["yes", "jam"]
    assert table["barcode_scanner"] == ["NO", "-"]
    assert table["receipt_printer"] == ["yes", "-"]
    as_json = json.loads(kiosk_sim(running_simulator.state_dir, "state", "--json").stdout)
    assert as_json["devices"]["dispenser"]["switches"]["jam"] is False


# (command line, device as the API names it, switch it sets)
SHORTCUTS = [
    (["paper-out", "printer"], "receipt_printer", "paper_out"),
    (["cover-open", "receipt_printer"], "receipt_printer", "cover_open"),
    (["jam", "dispenser"], "dispenser", "jam"),
    (["slow", "idcard"], "idcard_reader", "slow"),
    (["slow", "chip"], "chip", "slow"),
    (["garbage", "scanner"], "barcode_scanner", "garbage"),
    (["fault", "dispenser", "stock-empty"], "dispenser", "stock_empty"),
    (["fault", "chip", "wrong_key"], "chip", "wrong_key"),
]


@pytest.mark.parametrize(("command", "device", "switch"), SHORTCUTS,
                         ids=[" ".join(c) for c, _, _ in SHORTCUTS])
def test_fault_subcommand_switches_on_then_off(running_simulator, command, device, switch):
    on = kiosk_sim(running_simulator.state_dir, *command)
    try:
        assert on.returncode == 0, on.stderr
        assert on.stdout.startswith(f"{device}: ") and switch in on.stdout
        assert running_simulator.control("device_faults", device)["on"] == [switch]
    finally:
        off = kiosk_sim(running_simulator.state_dir, *command, "--off")
    assert off.returncode == 0 and "faults on: none" in off.stdout
    assert running_simulator.control("device_faults", device)["on"] == []


def test_unplug_takes_the_printer_off_its_port_and_plug_brings_it_back(running_simulator):
    printer = running_simulator.endpoints["printer"]
    done = kiosk_sim(running_simulator.state_dir, "unplug", "printer")
    try:
        assert done.returncode == 0 and done.stdout.startswith("receipt_printer: UNPLUGGED")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((printer["host"], printer["port"]), timeout=2).close()
    finally:
        done = kiosk_sim(running_simulator.state_dir, "plug", "printer")
    assert done.returncode == 0 and done.stdout.startswith("receipt_printer: plugged")
    with socket.create_connection((printer["host"], printer["port"]), timeout=2) as link:
        link.sendall(b"\x10\x04\x01")  # DLE EOT 1: the printer answers its status at once
        assert len(link.recv(1)) == 1


@pytest.mark.parametrize(("command", "says"), [
    (["jam", "printer"], "the receipt_printer has no 'jam' switch"),
    (["unplug", "toaster"], "no simulated device 'toaster'"),
    (["fault", "scanner", "paper_out"], "the barcode_scanner has no 'paper_out' switch"),
])
def test_a_switch_the_device_lacks_is_refused_with_the_choices(running_simulator, command, says):
    done = kiosk_sim(running_simulator.state_dir, *command)
    assert done.returncode == 2 and says in done.stderr and "one of:" in done.stderr
    assert "Traceback" not in done.stderr


def test_link_is_shaped_shown_and_refused_from_the_command_line(running_simulator):
    state_dir = running_simulator.state_dir
    done = kiosk_sim(state_dir, "link", "--kbps", "64", "--latency-ms", "300", "--loss", "0.01")
    assert done.returncode == 0, done.stderr
    shown = json.loads(kiosk_sim(state_dir, "link").stdout)
    assert (shown["bandwidth_bps"], shown["latency_s"], shown["loss"]) == (64000, 0.3, 0.01)
    assert running_simulator.control("link")["bandwidth_bps"] == 64000
    assert json.loads(kiosk_sim(state_dir, "link", "--down").stdout)["down"] is True
    assert json.loads(kiosk_sim(state_dir, "link", "--up").stdout)["down"] is False
    refused = kiosk_sim(state_dir, "link", "--loss", "2")
    assert refused.returncode == 2 and "loss" in refused.stderr and "Traceback" not in refused.stderr
    unknown = kiosk_sim(state_dir, "link", "fleet")
    assert unknown.returncode == 2 and "backends" in unknown.stderr
    running_simulator.control("set_link", bandwidth_bps=0, latency_s=0, loss=0)


def test_the_backends_answer_through_the_running_simulators_link(running_simulator):
    import urllib.request

    url = running_simulator.endpoints["backends_link_url"] + "/health"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert json.loads(resp.read()) == {"ok": True}
