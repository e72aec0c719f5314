"""The units' sandbox: systemd's own exposure score, no core dumps, and the access the kiosk needs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.out_of_service import EXIT_NOT_PROVISIONED
from tests.systemd.unitfiles import (
    KIOSK_UNITS,
    UNIT_NAMES,
    UNITS,
    last,
    load,
    values,
    words,
)

MAX_EXPOSURE = 4.5  # issue 17: every unit at 4.5 or lower


def _has_offline_security() -> bool:
    if shutil.which("systemd-analyze") is None:
        return False
    help_text = subprocess.run(["systemd-analyze", "--help"], capture_output=True, text=True)
    return "--offline" in help_text.stdout


needs_offline = pytest.mark.skipif(
    not _has_offline_security(), reason="systemd-analyze has no `security --offline` (< 250)"
)


def exposure(unit_file: Path) -> float:
    """`systemd-analyze security --offline=true`'s overall exposure (0 safe .. 10 unsafe)."""
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit_file)],
        capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1))


@needs_offline
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_every_unit_scores_at_most_4_5(name):
    assert exposure(UNITS / name) <= MAX_EXPOSURE


@needs_offline
def test_the_score_tells_an_unhardened_unit_apart(tmp_path):
    # The check above must be able to fail: the kiosk's unit without its sandbox.
    unit = tmp_path / "kiosk.service"
    unit.write_text("[Service]\nType=notify\nExecStart=/bin/true\nUser=kiosk\n")
    assert exposure(unit) > MAX_EXPOSURE


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_no_unit_leaves_a_core_dump(name):
    # The kiosk's memory holds face images, chip data and keys; the compositor's, the screen.
    assert last(load(name), "Service", "LimitCORE") == "0"


def test_machine_wide_coredump_policy_keeps_nothing():
    conf = configparser.ConfigParser()
    conf.read(UNITS / "coredump.conf.d" / "50-kiosk.conf")
    assert conf["Coredump"]["Storage"] == "none"
    assert conf["Coredump"]["ProcessSizeMax"] == "0"


@pytest.mark.parametrize("name", ["kiosk.service", "kiosk-out-of-service.service"])
def test_a_watchdog_timeout_aborts_for_a_stack_not_a_core(name):
    unit = load(name)
    # SIGABRT: faulthandler prints the Python stacks (test_unit_commands checks it does);
    # with LimitCORE=0 no core is written.
    assert last(unit, "Service", "WatchdogSignal") == "SIGABRT"
    assert last(unit, "Service", "LimitCORE") == "0"


def test_kiosk_keeps_the_devices_it_drives():
    unit = load("kiosk.service")
    assert last(unit, "Service", "DevicePolicy") == "closed"
    allowed = dict(v.split() for v in values(unit, "Service", "DeviceAllow"))
    for device_class in ("char-ttyS", "char-ttyUSB", "char-ttyACM",  # serial devices
                         "char-usb_device",                          # USB printer (libusb)
                         "char-video4linux",                         # cameras
                         "char-drm"):                                # OpenGL
        assert allowed.get(device_class) == "rw", device_class
    assert {"dialout", "video", "plugdev"} <= words(unit, "Service", "SupplementaryGroups")
    assert last(unit, "Service", "PrivateDevices") in (None, "no")


def test_kiosk_reaches_pcscd_the_display_the_backends_and_logind():
    unit = load("kiosk.service")
    families = words(unit, "Service", "RestrictAddressFamilies")
    # pcscd.comm, Wayland, the system bus: AF_UNIX; backends and fleet: IP; libusb: netlink.
    assert {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"} <= families
    assert last(unit, "Service", "PrivateNetwork") in (None, "no")
    assert not values(unit, "Service", "IPAddressDeny")
    hidden = words(unit, "Service", "InaccessiblePaths")
    assert not any("/run".startswith(p) or p.startswith("/run") for p in hidden)


@pytest.mark.parametrize("name", ["kiosk.service", "kiosk-out-of-service.service"])
def test_kiosk_writes_only_its_state_and_logs(name):
    unit = load(name)
    assert last(unit, "Service", "ProtectSystem") == "strict"
    assert last(unit, "Service", "StateDirectory") == "kiosk"
    assert last(unit, "Service", "LogsDirectory") == "kiosk"
    assert not values(unit, "Service", "ReadWritePaths")
    assert "/etc/kiosk" in words(unit, "Service", "ReadOnlyPaths")


@pytest.mark.parametrize("name", ["kiosk.service", "kiosk-out-of-service.service"])
def test_logs_go_where_logs_directory_says(name):
    # The kiosk writes its log files to the folder systemd creates for LogsDirectory=
    # (test_unit_commands runs the command and finds them there).
    unit = load(name)
    (command,) = values(unit, "Service", "ExecStart")
    assert "--log-dir ${LOGS_DIRECTORY}" in command


def test_session_keeps_display_input_and_its_tty():
    unit = load("kiosk-session.service")
    assert last(unit, "Service", "DevicePolicy") == "closed"
    allowed = dict(v.split() for v in values(unit, "Service", "DeviceAllow"))
    assert allowed == {"char-drm": "rw", "char-input": "rw", "/dev/tty1": "rw"}
    assert "AF_UNIX" in words(unit, "Service", "RestrictAddressFamilies")
    # PAM (the seat session) needs the real user.
    assert last(unit, "Service", "PrivateUsers") in (None, "no")


def test_an_unprovisioned_kiosk_fails_into_the_out_of_service_screen():
    kiosk = load("kiosk.service")
    # A condition would skip the unit without a word: the kiosk must run and say why.
    assert not [k for k, _ in kiosk["Unit"] if k.startswith("Condition")]
    assert words(kiosk, "Service", "RestartPreventExitStatus") == {str(EXIT_NOT_PROVISIONED)}
    assert "kiosk-out-of-service.service" in words(kiosk, "Unit", "OnFailure")
    screen = load("kiosk-out-of-service.service")
    assert not [k for k, _ in screen["Unit"] if k.startswith("Condition")]


@pytest.mark.parametrize("name", KIOSK_UNITS)
def test_kiosk_units_run_without_capabilities(name):
    unit = load(name)
    assert last(unit, "Service", "CapabilityBoundingSet") == ""
    assert last(unit, "Service", "NoNewPrivileges") == "yes"
