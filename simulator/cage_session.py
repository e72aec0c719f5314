"""The kiosk's display session without a panel: cage (the compositor kiosk-session.service runs)
on a wlroots output of a chosen size, its Xwayland for the kiosk, screenshots through grim.

Debian 12's cage 0.1.4 (wlroots 0.15) gives a headless output a fixed 1280x720 and offers no
output management (`wlr-randr` is refused), so the "panel" here is wlroots' X11 backend: cage's
output is a window on a private Xvfb, sized like the panel before the kiosk starts; cage
re-lays its output when that window's size changes, as on a real panel's mode. What the kiosk
sees is the same as on a kiosk: cage's Xwayland (`DISPLAY`) on one full-screen output.

cage refuses to run as root: as root the compositor runs as `nobody` and admits root's clients
to its Xwayland (`xhost`); the project's venv may live where `nobody` cannot read it. Also a command line for
benchmarks: `python -m simulator.cage_session --size 1080x1920 -- COMMAND...` runs COMMAND with
the session's client environment.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simulator.xvfb import start_xvfb

# The unprivileged user cage runs as when the caller is root (cage refuses root).
NOBODY = 65534


@dataclass(frozen=True)
class CageSession:
    """A running cage: `env` is a client's environment (cage's Xwayland and Wayland socket)."""

    env: dict[str, str]
    runtime_dir: Path
    size: tuple[int, int]
    panel_display: str      # the Xvfb cage's output window is on: where input comes from

    def tap(self, x: int, y: int) -> None:
        """A press and release at (x, y) of the output, from the top left, through cage's
        input (the X11 backend's pointer), as a finger's tap reaches the kiosk: one pointer
        press through Xwayland."""
        xlib, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        display = ctypes.c_void_p(xlib.XOpenDisplay(self.panel_display.encode()))
        try:
            xtst.XTestFakeMotionEvent(display, 0, x, y, 0)
            xtst.XTestFakeButtonEvent(display, 1, True, 0)
            xtst.XTestFakeButtonEvent(display, 1, False, 50)
            xlib.XSync(display, 0)
        finally:
            xlib.XCloseDisplay(display)

    def screenshot(self, path: Path) -> Path:
        """The output as the compositor shows it (grim), not as the client drew it."""
        subprocess.run(["grim", str(path)], env=self.env, check=True, timeout=30,
                       capture_output=True)
        return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def session_command(unit_env: dict[str, str] | None = None) -> list[str]:
    """cage and its placeholder client as kiosk-session.service starts them, with `unit_env`
    (what its EnvironmentFile= holds) for the unit's own variables."""
    unit = (Path(__file__).resolve().parents[1] / "systemd" / "kiosk-session.service")
    (line,) = [li for li in unit.read_text().splitlines() if li.startswith("ExecStart=")]
    words: list[str] = []
    for word in shlex.split(line.removeprefix("ExecStart=").replace("$$", "\0")):
        # systemd.service(5): a word that is just $VAR becomes the value split at whitespace
        # (none when unset); `$$` is a literal `$` for the shell.
        if re.fullmatch(r"\$\w+", word):
            words += (unit_env or {}).get(word[1:], "").split()
        else:
            words.append(word.replace("\0", "$"))
    return ["cage", *words[1:]]  # cage from PATH (the unit names /usr/bin/cage)


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile= reads the simple ones."""
    pairs = (line.partition("=") for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, _, value in pairs}


def _resize_output_window(x_display: str, width: int, height: int) -> None:
    """Sizes cage's output: the one window wlroots' X11 backend opened on our Xvfb."""
    xlib = ctypes.CDLL("libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    display = ctypes.c_void_p(xlib.XOpenDisplay(x_display.encode()))
    if not display.value:
        raise RuntimeError(f"cannot open {x_display}")
    try:
        root = ctypes.c_ulong(xlib.XDefaultRootWindow(display))
        root_ret, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        xlib.XQueryTree(display, root, ctypes.byref(root_ret), ctypes.byref(parent),
                        ctypes.byref(children), ctypes.byref(count))
        if count.value != 1:
            raise RuntimeError(f"expected cage's one output window, found {count.value}")
        xlib.XResizeWindow(display, ctypes.c_ulong(children[0]), width, height)
        xlib.XFree(children)
        xlib.XSync(display, 0)
    finally:
        xlib.XCloseDisplay(display)


def _as_session_user(uid: int, gid: int) -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]


def _wait_for(what: str, ready: object, deadline_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + deadline_s
    while not ready():  # type: ignore[operator]
        if proc.poll() is not None:
            raise RuntimeError(f"cage exited with {proc.returncode} before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"cage: no {what} after {deadline_s} s")
        time.sleep(0.05)


@contextlib.contextmanager
def cage_session(width: int = 1080, height: int = 1920,
                 unit_env: dict[str, str] | None = None) -> Iterator[CageSession]:
    """cage on a `width` x `height` output; yields once a client can connect. `unit_env` is
    the session's EnvironmentFile= (its rotation: then the output, and the screenshot, is
    `height` x `width` for a quarter turn)."""
    for tool in ("cage", "grim", "Xwayland", "xhost"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (scripts/setup.sh installs it)")
    uid = gid = NOBODY if os.geteuid() == 0 else os.geteuid()
    with tempfile.TemporaryDirectory(prefix="cage-session-") as tmp, \
            start_xvfb(width, height) as x_display:
        runtime = Path(tmp) / "runtime"
        runtime.mkdir(mode=0o700)
        os.chown(tmp, uid, gid)
        os.chown(runtime, uid, gid)
        display_file = runtime / "display.env"
        # The environment of kiosk-session.service, with a window for a panel.
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "XDG_RUNTIME_DIR": str(runtime),
               "DISPLAY": x_display, "WLR_BACKENDS": "x11", "WLR_RENDERER": "pixman",
               "WLR_LIBINPUT_NO_DEVICES": "1"}
        with open(Path(tmp) / "cage.log", "wb") as log:
            proc = subprocess.Popen([*_as_session_user(uid, gid), *session_command(unit_env)],
                                    env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            _wait_for("Wayland socket", lambda: (runtime / "wayland-0").is_socket()
                      and display_file.exists(), 15, proc)
            client_env = {k: v for k, v in os.environ.items() if k != "WAYLAND_SOCKET"}
            client_env.update(read_environment_file(display_file), WAYLAND_DISPLAY="wayland-0",
                              XDG_RUNTIME_DIR=str(runtime))
            if uid != os.geteuid():
                # Xwayland admits only its own user (kiosk.service and kiosk-session.service
                # are both `kiosk`); a root caller's clients are admitted by name.
                subprocess.run([*_as_session_user(uid, gid), "xhost", "+si:localuser:root"],
                               env={**env, "DISPLAY": client_env["DISPLAY"]}, check=True,
                               capture_output=True, timeout=30)
            _resize_output_window(x_display, width, height)
            command = session_command(unit_env)
            turns = command[:command.index("--")].count("-r")
            shown = (height, width) if turns % 2 else (width, height)   # as the citizen sees it
            session = CageSession(client_env, runtime, shown, x_display)
            shot = Path(tmp) / "size.png"
            _wait_for(f"{shown[0]}x{shown[1]} output",
                      lambda: png_size(session.screenshot(shot)) == shown, 10, proc)
            yield session
        finally:
            # The whole session: cage, its Xwayland and the placeholder (systemd stops a
            # unit's cgroup; here its process group, which a lone cage would leave behind).
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.cage_session", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1080x1920", help="the output, WIDTHxHEIGHT")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run in the session")
    width, height = (int(v) for v in args.size.lower().split("x"))
    with cage_session(width, height) as session:
        return subprocess.run(command, env=session.env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
