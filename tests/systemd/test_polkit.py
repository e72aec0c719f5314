"""The polkit rule that lets the kiosk reboot its machine, and nothing more, judged by polkitd."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.systemd.unitfiles import ROOT, UNITS

RULE = UNITS / "polkit" / "50-kiosk-reboot.rules"
PROBE = Path(__file__).with_name("polkit_probe.py")
REBOOT = "org.freedesktop.login1.reboot"
REBOOT_MULTIPLE = "org.freedesktop.login1.reboot-multiple-sessions"
REFUSED_TO_KIOSK = [
    "org.freedesktop.login1.power-off",
    "org.freedesktop.login1.power-off-multiple-sessions",
    "org.freedesktop.login1.reboot-ignore-inhibit",
    "org.freedesktop.login1.halt",
    "org.freedesktop.login1.set-reboot-parameter",
    "org.freedesktop.systemd1.manage-units",
]


def test_rule_names_only_the_kiosk_user_and_the_two_reboot_actions():
    text = RULE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    assert re.findall(r"polkit\.(add\w+)\(", code) == ["addRule"]
    assert set(re.findall(r'"(org\.freedesktop\.[\w.-]+)"', code)) == {REBOOT, REBOOT_MULTIPLE}
    assert re.findall(r'subject\.user !== "(\w+)"', code) == ["kiosk"]
    assert code.count("polkit.Result.YES") == 1
    assert "subject.isInGroup" not in code  # a group would reach beyond the one user


def _can_run_polkitd() -> str | None:
    """Why the real polkitd cannot be asked here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root: a private mount namespace and setuid subjects"
    missing = [tool for tool in ("unshare", "dbus-daemon", "dbus-send", "pkcheck", "setpriv")
               if shutil.which(tool) is None]
    if not Path("/usr/lib/polkit-1/polkitd").exists():
        missing.append("polkitd")
    if missing:
        return f"not installed: {', '.join(missing)} (Debian: polkitd dbus)"
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        return "mount namespaces are not available"
    return None


needs_polkitd = pytest.mark.skipif(_can_run_polkitd() is not None,
                                   reason=str(_can_run_polkitd()))


@pytest.fixture
def rules_dir() -> Iterator[Path]:
    # polkitd drops to its own user before reading rules: a folder it can read, not pytest's.
    folder = Path(tempfile.mkdtemp(prefix="kiosk-polkit-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def ask_polkitd(rules: Path, queries: list[tuple[str, str]]) -> dict:
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private",
         sys.executable, str(PROBE), str(rules), json.dumps(queries)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def install(rule_text: str, rules: Path) -> None:
    target = rules / RULE.name
    target.write_text(rule_text)
    target.chmod(0o644)


@needs_polkitd
def test_polkitd_lets_the_kiosk_user_reboot_and_nothing_else(rules_dir):
    install(RULE.read_text(), rules_dir)
    queries = [("kiosk", REBOOT), ("kiosk", REBOOT_MULTIPLE),
               *[("kiosk", action) for action in REFUSED_TO_KIOSK],
               ("technician", REBOOT), ("technician", REBOOT_MULTIPLE)]
    result = ask_polkitd(rules_dir, queries)
    # polkit's JavaScript engine compiled the rule (a syntax error is logged and skipped).
    assert "Error" not in result["polkitd"], result["polkitd"]
    decisions = result["decisions"]
    # pkcheck: 0 = authorized; anything else = not (1 refused, 2 needs authentication).
    assert decisions[f"kiosk {REBOOT}"] == 0
    assert decisions[f"kiosk {REBOOT_MULTIPLE}"] == 0
    for action in REFUSED_TO_KIOSK:
        assert decisions[f"kiosk {action}"] != 0, action
    assert decisions[f"technician {REBOOT}"] != 0
    assert decisions[f"technician {REBOOT_MULTIPLE}"] != 0


@needs_polkitd
def test_without_the_rule_polkitd_refuses_the_kiosk_a_reboot(rules_dir):
    # What a kiosk without the set-up's rule gets: the reboot fails (and must say so).
    result = ask_polkitd(rules_dir, [("kiosk", REBOOT)])
    assert result["decisions"][f"kiosk {REBOOT}"] != 0


@needs_polkitd
def test_polkitd_reports_a_rule_it_cannot_compile(rules_dir):
    # The "no Error" check above can fail: the same rule with one brace too many.
    install(RULE.read_text().replace("{", "{{", 1), rules_dir)
    result = ask_polkitd(rules_dir, [("kiosk", REBOOT)])
    assert f"Error compiling script /etc/polkit-1/rules.d/{RULE.name}" in result["polkitd"]
    assert result["decisions"][f"kiosk {REBOOT}"] != 0
