"""scripts/install-kiosk.sh, as a technician runs it (`sudo make install`), on an OS tree of its
own: the users, the folders with their owners and modes, the units (which systemd accepts as
installed), the udev, polkit and core-dump policies; run twice it changes nothing; --uninstall
removes the product and keeps the configuration, the users and the journal; --purge removes the
configuration and the users, never the journal. scripts/setup.sh (dev and CI machines) does none
of it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.systemd.test_units import problems, verify
from tests.systemd.unitfiles import KIOSK_UNITS, ROOT, TRIGGER_UNITS, UNITS, render

INSTALL = ROOT / "scripts" / "install-kiosk.sh"
POLICIES = {
    "etc/polkit-1/rules.d/50-kiosk-reboot.rules": UNITS / "polkit" / "50-kiosk-reboot.rules",
    "etc/systemd/coredump.conf.d/50-kiosk.conf": UNITS / "coredump.conf.d" / "50-kiosk.conf",
    "etc/udev/rules.d/70-kiosk.rules": UNITS / "udev" / "70-kiosk.rules",
}
# Each folder the kiosk's processes rely on: mode, owner, group (the tree's own names).
FOLDERS = {
    "etc/kiosk": (0o750, "root", "kiosk"),
    "var/lib/kiosk": (0o750, "kiosk", "kiosk"),
    "var/lib/kiosk-update": (0o755, "kiosk-update", "kiosk-update"),
    "var/log/kiosk": (0o750, "kiosk", "kiosk"),
    "opt/kiosk": (0o755, "root", "root"),
    "opt/kiosk/bin": (0o755, "root", "root"),
    "opt/kiosk/slots": (0o755, "kiosk-update", "kiosk-update"),
    "opt/kiosk/runtimes": (0o755, "kiosk-update", "kiosk-update"),
}
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="useradd --root needs root")


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", str(INSTALL), *args], env={**os.environ, "DESTDIR": str(root)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def os_tree(tmp_path: Path) -> Path:
    """A Debian system's user database, as a fresh kiosk image has it, in a root of its own."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy2(Path("/etc") / name, root / "etc" / name)
    return root


def table(root: Path, name: str) -> dict[str, list[str]]:
    lines = (root / "etc" / name).read_text().splitlines()
    return {line.split(":")[0]: line.split(":") for line in lines if line}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path of the tree with its type, mode, owner and content."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        body = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        found[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                              st.st_uid, st.st_gid, body)
    return found


def test_staging_puts_every_file_where_its_reader_looks(tmp_path):
    run(tmp_path)   # no etc/passwd there: a package's staging root, files only
    expected = {**{f"etc/systemd/system/{name}": UNITS / name
                   for name in KIOSK_UNITS + TRIGGER_UNITS}, **POLICIES}
    for installed, source in expected.items():
        path = tmp_path / installed
        assert path.read_bytes() == source.read_bytes(), installed
        # Root's files, readable by polkitd's, udev's and systemd's own users.
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, installed
    # The slot guard, where kiosk.service runs it from: outside the slots, root's, executable.
    guard = tmp_path / "opt/kiosk/bin/kiosk-update-guard"
    assert guard.read_bytes() == (ROOT / "kiosk/update/guard.py").read_bytes()
    assert stat.S_IMODE(guard.stat().st_mode) == 0o755
    assert "/opt/kiosk/bin/kiosk-update-guard" in (UNITS / "kiosk.service").read_text()
    for folder, (mode, _, _) in FOLDERS.items():
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == mode, folder
    # The fleet server's unit belongs on the fleet server, not on a kiosk.
    assert not (tmp_path / "etc/systemd/system/kiosk-fleet.service").exists()


@as_root
def test_install_makes_the_users_and_folders_the_units_run_with(tmp_path):
    root = os_tree(tmp_path)
    before = table(root, "passwd")
    run(root)
    users, groups = table(root, "passwd"), table(root, "group")
    assert set(users) - set(before) == {"kiosk", "kiosk-update"}
    for name, home in (("kiosk", "/var/lib/kiosk"), ("kiosk-update", "/nonexistent")):
        _, _, uid, _, _, user_home, shell = users[name]
        assert int(uid) < 1000 and user_home == home and shell == "/usr/sbin/nologin", name
    # The devices' groups the machine has (serial ports, cameras, printers), and the updater
    # reading the kiosk's requests.
    host_groups = table(Path("/"), "group")
    for group in ("dialout", "video", "lp", "plugdev", "input", "render"):
        if group in host_groups:
            assert "kiosk" in groups[group][3].split(","), group
    assert groups["kiosk"][3].split(",") == ["kiosk-update"]
    uid = {name: int(entry[2]) for name, entry in users.items()}
    gid = {name: int(entry[2]) for name, entry in groups.items()}
    for folder, (mode, owner, group) in FOLDERS.items():
        st = (root / folder).stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (
            mode, uid[owner], gid[group]), folder
    for policy, source in POLICIES.items():
        assert (root / policy).read_bytes() == source.read_bytes()


@as_root
def test_systemd_accepts_the_units_as_installed(tmp_path):
    root = os_tree(tmp_path)
    run(root)
    names = KIOSK_UNITS + TRIGGER_UNITS
    folder = render(tmp_path, root / "etc/systemd/system", names)
    proc = verify(folder, names)
    assert proc.returncode == 0, proc.stderr
    assert problems(proc, folder) == []


@as_root
def test_a_second_install_changes_nothing(tmp_path):
    root = os_tree(tmp_path)
    run(root)
    first = snapshot(root)
    run(root)
    assert snapshot(root) == first


@as_root
def test_uninstall_keeps_the_journal_and_purge_never_removes_it(tmp_path):
    root = os_tree(tmp_path)
    original = (table(root, "passwd"), table(root, "group"))
    run(root)
    journal = root / "var/lib/kiosk/journal.sqlite3"
    journal.write_bytes(b"the kiosk's transactions")
    (root / "etc/kiosk/kiosk.toml").write_text("kiosk_id = 'K-1'\n")

    said = run(root, "--uninstall").stdout
    for gone in (*(f"etc/systemd/system/{n}" for n in KIOSK_UNITS + TRIGGER_UNITS), *POLICIES,
                 "opt/kiosk", "var/lib/kiosk-update"):
        assert not (root / gone).exists(), gone
    assert (root / "etc/kiosk/kiosk.toml").exists() and journal.exists()
    assert {"kiosk", "kiosk-update"} <= set(table(root, "passwd"))
    assert "/var/lib/kiosk" in said and "--purge" in said

    run(root)   # installed again over what was kept
    assert (root / "etc/kiosk/kiosk.toml").exists() and (root / "opt/kiosk/slots").is_dir()

    said = run(root, "--purge").stdout
    assert not (root / "etc/kiosk").exists() and not (root / "var/log/kiosk").exists()
    assert (table(root, "passwd"), table(root, "group")) == original
    assert journal.read_bytes() == b"the kiosk's transactions" and "/var/lib/kiosk" in said
    # Root's alone now: a system user made later with the kiosk's old id must not own it.
    for kept in (journal, journal.parent):
        assert (kept.stat().st_uid, kept.stat().st_gid) == (0, 0), kept
    assert stat.S_IMODE(journal.parent.stat().st_mode) == 0o700

    run(root)   # a new kiosk user: the journal is its own again, every file of it
    uid = int(table(root, "passwd")["kiosk"][2])
    assert journal.stat().st_uid == uid and journal.parent.stat().st_uid == uid


def test_setup_of_a_dev_machine_installs_no_system_policy():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    for kiosk_only in ("install-kiosk", "polkit-1/rules.d", "coredump.conf.d", "udev/rules.d",
                       "systemctl", "useradd"):
        assert kiosk_only not in setup


@as_root
def test_provisioning_without_the_installer_gives_the_folder_to_the_kiosk_s_group(tmp_path):
    # kiosk-provision writes its files 0640 to the kiosk's group: the group must enter the
    # folder too (it made /etc/kiosk root:root before, which the kiosk user could not enter).
    import grp

    from provisioning.config_writer import DIR_MODE, prepare_folder

    group = "video"   # a group every Debian machine has, standing in for "kiosk"
    folder = tmp_path / "etc" / "kiosk"
    umask = os.umask(0o077)
    try:
        prepare_folder(folder, group)
    finally:
        os.umask(umask)
    st = folder.stat()
    assert st.st_gid == grp.getgrnam(group).gr_gid and stat.S_IMODE(st.st_mode) == DIR_MODE
    # A folder that was there already (--config-dir /etc) keeps its own group and mode.
    before = tmp_path.stat()
    prepare_folder(tmp_path, group)
    assert (tmp_path.stat().st_gid, tmp_path.stat().st_mode) == (before.st_gid, before.st_mode)
