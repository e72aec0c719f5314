"""The unit files: systemd itself accepts them, and they say what the kiosk relies on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.systemd.unitfiles import (
    FLEET_BIN,
    INSTALLED_BIN,
    TRIGGER_UNITS,
    UNIT_NAMES,
    UNITS,
    VENV_BIN,
    parse_unit,
    render,
    values,
    words,
)

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def verify(folder: Path, names: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *[str(folder / n) for n in names]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )


def problems(proc: subprocess.CompletedProcess, folder: Path) -> list[str]:
    """Every complaint about our units (systemd warns about unknown keys but exits 0)."""
    return [
        line
        for line in proc.stderr.splitlines()
        if str(folder) in line or any(name in line for name in UNIT_NAMES + TRIGGER_UNITS)
    ]


def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    folder = render(tmp_path)
    proc = verify(folder, UNIT_NAMES + TRIGGER_UNITS)
    assert proc.returncode == 0, proc.stderr
    assert problems(proc, folder) == []


def test_verify_catches_a_typo_and_a_missing_binary(tmp_path):
    # The check above must be able to fail: the same units, each broken one way.
    folder = render(tmp_path)
    kiosk = folder / "kiosk.service"
    kiosk.write_text(kiosk.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    proc = verify(folder, ["kiosk.service"])
    assert any("WatchdogSecs" in line for line in problems(proc, folder))

    fleet = folder / "kiosk-fleet.service"
    fleet.write_text(fleet.read_text().replace(f"{VENV_BIN}/kiosk-fleet", "/nonexistent/fleet"))
    proc = verify(folder, ["kiosk-fleet.service"])
    assert proc.returncode != 0
    assert "/nonexistent/fleet" in proc.stderr


def test_installed_units_run_the_project_scripts_that_exist():
    """The units name console scripts this project installs (pyproject [project.scripts])."""
    for name in UNIT_NAMES:
        unit = parse_unit((UNITS / name).read_text())
        for command in values(unit, "Service", "ExecStart"):
            binary = command.split()[0]
            for prefix in (INSTALLED_BIN, FLEET_BIN):
                if binary.startswith(prefix):
                    assert (VENV_BIN / binary.removeprefix(prefix)).exists(), command


def test_kiosk_unit_is_notify_with_watchdog_and_restarts_always():
    unit = parse_unit((UNITS / "kiosk.service").read_text())
    assert values(unit, "Service", "Type") == ["notify"]
    assert values(unit, "Service", "NotifyAccess") == ["main"]
    assert values(unit, "Service", "Restart") == ["always"]
    (watchdog,) = values(unit, "Service", "WatchdogSec")
    assert watchdog not in ("0", "infinity")


def test_kiosk_start_limit_ends_in_the_out_of_service_screen():
    unit = parse_unit((UNITS / "kiosk.service").read_text())
    # The start limit lives in [Unit] since systemd 230; in [Service] it would be ignored.
    assert int(values(unit, "Unit", "StartLimitBurst")[0]) >= 2
    assert values(unit, "Unit", "StartLimitIntervalSec")
    assert "kiosk-out-of-service.service" in words(unit, "Unit", "OnFailure")
    # Coming back into service (a technician's or the fleet's restart) ends the screen.
    assert "kiosk-out-of-service.service" in words(unit, "Unit", "Conflicts")
    oos = parse_unit((UNITS / "kiosk-out-of-service.service").read_text())
    assert "kiosk-session.service" in words(oos, "Unit", "Requires")


def test_kiosk_starts_after_pcscd_and_inside_the_session():
    unit = parse_unit((UNITS / "kiosk.service").read_text())
    after = words(unit, "Unit", "After")
    assert {"pcscd.socket", "pcscd.service", "kiosk-session.service"} <= after
    assert "kiosk-session.service" in words(unit, "Unit", "Requires")
    session = parse_unit((UNITS / "kiosk-session.service").read_text())
    (runtime_dir,) = values(session, "Service", "RuntimeDirectory")
    # The kiosk finds the compositor's Wayland socket where the session creates it.
    env = {v.split("=", 1)[0]: v.split("=", 1)[1] for v in values(unit, "Service", "Environment")}
    assert env["XDG_RUNTIME_DIR"] == f"/run/{runtime_dir}"
    assert values(session, "Service", "ExecStart")[0].startswith("/usr/bin/cage ")
