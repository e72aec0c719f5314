"""The kiosk's user on a test machine: an unprivileged account running Debian's own Python.

On a kiosk the units run as `kiosk`, from /opt/kiosk/venv built on Debian's Python (the
installer, scripts/install-kiosk.sh). A developer's or CI machine has neither: the project's
venv may be built on another interpreter (pyenv's, under a home no other user may enter). So
a test that runs the kiosk as an unprivileged user gets, from `unprivileged_python()`, a venv
built on Debian's `/usr/bin/python3` that sees the project's installed packages (the same
minor version, so the same compiled extensions), and runs it as `nobody` with the groups
kiosk.service gives (`SupplementaryGroups=`). Nothing is installed system-wide.
"""

from __future__ import annotations

import atexit
import grp
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NOBODY = 65534
DEBIAN_PYTHON = Path("/usr/bin/python3")
# kiosk.service's SupplementaryGroups= (those this machine has).
KIOSK_GROUPS = ("dialout", "plugdev", "video", "lp")


class NoUnprivilegedPython(RuntimeError):
    """No interpreter an unprivileged user can run the project with, and why."""


@dataclass(frozen=True)
class SessionUser:
    uid: int
    gid: int
    groups: tuple[int, ...]
    python: Path | None       # None: the caller's own interpreter
    why_not: str = ""         # why the caller (root) runs the kiosk itself, when it does

    def command(self, argv: list[str]) -> list[str]:
        """`python ARGV...` as this user: setpriv to the user when the caller is root."""
        python = str(self.python) if self.python else sys.executable
        if os.geteuid() != 0 or self.uid == 0:
            return [python, *argv]
        groups = ",".join(str(g) for g in self.groups)
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                *([f"--groups={groups}"] if groups else ["--clear-groups"]), python, *argv]

    def give(self, path: Path) -> Path:
        """`path` (a folder or socket the caller made) made this user's."""
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)
        return path


def _groups() -> tuple[int, ...]:
    found = []
    for name in KIOSK_GROUPS:
        try:
            found.append(grp.getgrnam(name).gr_gid)
        except KeyError:
            continue
    return tuple(found)


@cache
def session_user() -> SessionUser:
    """`nobody` with Debian's Python when the caller is root, else the caller as it is. When
    `nobody` cannot run the project here, root itself, with the reason in `why_not`."""
    if os.geteuid() != 0:
        return SessionUser(os.geteuid(), os.getegid(), (), None)
    try:
        return SessionUser(NOBODY, NOBODY, _groups(), unprivileged_python())
    except NoUnprivilegedPython as exc:
        return SessionUser(0, 0, (), None, str(exc))


def process_user(pid: int) -> tuple[int, tuple[int, ...]]:
    """The real uid and the supplementary groups of a running process."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["Uid"].split()[0]), tuple(int(g) for g in fields["Groups"].split())


@cache
def unprivileged_python() -> Path:
    """A venv on Debian's Python (made once per process, in /tmp) that adds the project's venv
    site-packages as a site folder, so its .pth files (the editable install) work too."""
    if not DEBIAN_PYTHON.exists():
        raise NoUnprivilegedPython(f"no {DEBIAN_PYTHON} (Debian's python3)")
    version = subprocess.run([str(DEBIAN_PYTHON), "-c",
                              "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if version != ours:
        raise NoUnprivilegedPython(f"{DEBIAN_PYTHON} is {version}, the project's venv {ours}")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-user-python-"))
    atexit.register(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    venv = folder / "venv"
    subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(venv)],
                   check=True, capture_output=True)
    site = venv / "lib" / f"python{ours}" / "site-packages"
    ours_site = sysconfig.get_paths()["purelib"]
    (site / "kiosk-project.pth").write_text(f"import site; site.addsitedir({ours_site!r})\n")
    python = venv / "bin" / "python"
    probe = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(python),
         "-c", "import kiosk.cli, kivy, smartcard, cv2"],
        capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/tmp",
                                                      "KIVY_NO_ARGS": "1"})
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise NoUnprivilegedPython(
            f"nobody cannot import the project from {ours_site} (is the checkout readable by "
            f"other users?): {last}")
    return python
