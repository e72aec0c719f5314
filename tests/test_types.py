"""mypy on the layers whose contracts others build on: strict on drivers/, peripherals/, the
fleet wire (wire/) and the fleet server (fleet/), as everywhere else in time; the rest of kiosk/
as it stands (STYLE.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
         *args], cwd=ROOT, capture_output=True, text=True)


def test_mypy_passes_on_drivers_and_kiosk():
    proc = mypy("drivers", "kiosk")
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.parametrize("package", ["drivers", "peripherals", "wire", "fleet"])
def test_mypy_strict_passes(package):
    proc = mypy("--strict", package)
    assert proc.returncode == 0, proc.stdout[-4000:]
