"""A slot's virtualenv, assembled on the kiosk from the bundle's files.

A bundle carries a built environment, not wheels: the kiosk runs no resolver, no compiler and
no pip, only copies checked files. What cannot travel in a bundle is made here: the venv's
pyvenv.cfg and interpreter links (the kiosk's own Python), a .pth that adds the shared runtime,
and the console scripts, whose first line names the slot's own interpreter.
"""

from __future__ import annotations

import configparser
import os
import platform
import re
from pathlib import Path

RUNTIME_PTH = "_kiosk_runtime.pth"
_ENTRY = re.compile(r"\s*([\w.]+)\s*:\s*([\w.]+)\s*")


def site_packages(venv: Path, python: str) -> Path:
    return venv / "lib" / f"python{python}" / "site-packages"


def make_skeleton(venv: Path, python: str, interpreter: Path) -> None:
    """pyvenv.cfg and bin/python* -> the kiosk's interpreter, as `python -m venv` makes them."""
    (venv / "bin").mkdir(parents=True)
    site_packages(venv, python).mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(
        f"home = {interpreter.parent}\ninclude-system-site-packages = false\n"
        f"version = {platform.python_version()}\n")
    os.symlink(interpreter, venv / "bin" / f"python{python}")
    for alias in ("python3", "python"):
        os.symlink(f"python{python}", venv / "bin" / alias)


def link_runtime(site: Path, runtime_site: Path) -> None:
    """The shared runtime on the slot's path; addsitedir also reads the runtime's own .pth files."""
    (site / RUNTIME_PTH).write_text(f"import site; site.addsitedir({str(runtime_site)!r})\n")


def write_console_scripts(site: Path, bin_dir: Path, python: Path) -> list[str]:
    """The app's console scripts ([console_scripts] of its dist-info), run by `python`: the
    slot's final interpreter path, not the folder it is assembled in."""
    written = []
    for entry_points in sorted(site.glob("*.dist-info/entry_points.txt")):
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
        parser.read(entry_points, encoding="utf-8")
        if not parser.has_section("console_scripts"):
            continue
        for name, target in parser.items("console_scripts"):
            match = _ENTRY.fullmatch(target)
            if match is None:
                continue
            module, attr = match.groups()
            head, _, rest = attr.partition(".")
            call = f"{head}.{rest}" if rest else head
            script = bin_dir / name
            script.write_text(
                f"#!{python}\nimport sys\nfrom {module} import {head}\n\n"
                f"if __name__ == \"__main__\":\n    sys.exit({call}())\n")
            script.chmod(0o755)
            written.append(name)
    return written
