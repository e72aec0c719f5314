"""scripts/install-kiosk.sh puts the units, the polkit rule and the core policy where systemd,
polkitd and systemd-coredump read them; scripts/setup.sh (dev and CI machines) does none of it."""

from __future__ import annotations

import os
import stat
import subprocess

from tests.systemd.unitfiles import KIOSK_UNITS, ROOT, TRIGGER_UNITS, UNITS

INSTALL = ROOT / "scripts" / "install-kiosk.sh"


def test_install_puts_every_file_where_its_reader_looks(tmp_path):
    proc = subprocess.run(["bash", str(INSTALL)], env={**os.environ, "DESTDIR": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    expected = {
        **{f"etc/systemd/system/{name}": UNITS / name for name in KIOSK_UNITS + TRIGGER_UNITS},
        "etc/polkit-1/rules.d/50-kiosk-reboot.rules": UNITS / "polkit" / "50-kiosk-reboot.rules",
        "etc/systemd/coredump.conf.d/50-kiosk.conf": UNITS / "coredump.conf.d" / "50-kiosk.conf",
    }
    for installed, source in expected.items():
        path = tmp_path / installed
        assert path.read_bytes() == source.read_bytes(), installed
        # Root's files, readable by polkitd's and systemd's own users.
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, installed
    # The slot guard, where kiosk.service runs it from: outside the slots, root's, executable.
    guard = tmp_path / "opt/kiosk/bin/kiosk-update-guard"
    assert guard.read_bytes() == (ROOT / "kiosk/update/guard.py").read_bytes()
    assert stat.S_IMODE(guard.stat().st_mode) == 0o755
    assert "/opt/kiosk/bin/kiosk-update-guard" in (UNITS / "kiosk.service").read_text()
    assert (tmp_path / "opt/kiosk/slots").is_dir() and (tmp_path / "opt/kiosk/runtimes").is_dir()
    # The fleet server's unit belongs on the fleet server, not on a kiosk.
    assert not (tmp_path / "etc/systemd/system/kiosk-fleet.service").exists()


def test_setup_of_a_dev_machine_installs_no_system_policy():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    for kiosk_only in ("install-kiosk", "polkit-1/rules.d", "coredump.conf.d", "systemctl"):
        assert kiosk_only not in setup
