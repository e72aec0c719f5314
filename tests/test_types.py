"""mypy on the layers whose contracts others build on: strict on drivers/, peripherals/, the
fleet wire (wire/), the fleet server (fleet/) and the kiosk core (kiosk/), as everywhere else in
time (STYLE.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
         *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("package", ["drivers", "peripherals", "wire", "fleet", "kiosk"])
def test_mypy_strict_passes(package):
    proc = mypy("--strict", package)
    assert proc.returncode == 0, proc.stdout[-4000:]


def _unexplained_any(package: str) -> list[str]:
    """Lines of `package` that use `Any` without saying why: a comment with "Any:" on the line
    or in the comment lines right above it."""
    import io
    import tokenize

    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        uses = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.NAME and tok.string == "Any"}
        for number in sorted(uses):
            line = lines[number - 1]
            if line.lstrip().startswith(("from typing import", "import typing")):
                continue
            said = "Any:" in line.partition("#")[2]
            above = number - 2
            while not said and above >= 0 and lines[above].lstrip().startswith("#"):
                said = "Any:" in lines[above]
                above -= 1
            if not said:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("package", ["drivers", "peripherals", "wire", "fleet", "kiosk"])
def test_every_any_says_why(package):
    """`Any` only where a library's untyped values force it, each with its reason (issue 11)."""
    assert _unexplained_any(package) == []
