"""The kiosk on its real display session: cage, as kiosk-session.service starts it, on an output
of a panel's size; the kiosk with kiosk.service's environment (its display through the
session's display.env) on the simulator; the screen taken from the compositor with grim.

cage refuses root: run as root, the compositor and the kiosk both run as `nobody` (as both
units run as `kiosk`), the kiosk on Debian's Python over the project's packages, with
kiosk.service's groups (simulator.session_user); run as a user, both run as that user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.process_end import EndReason, end_line
from screens.theme import STANDARD
from simulator.cage_session import CageSession, cage_session, read_environment_file
from simulator.session_user import NOBODY, process_user, session_user
from tests.systemd.test_watchdog import NotifySocket
from tests.systemd.unitfiles import load, values

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("cage", "grim", "Xwayland", "xhost")),
    reason="cage, grim, Xwayland, xhost: scripts/setup.sh installs them")

PORTRAIT, LANDSCAPE, SMALL_LANDSCAPE = (1080, 1920), (1920, 1080), (1280, 720)
SESSION_RUNTIME_DIR = "/run/kiosk-session"
# Where the attract screen's language button is on a portrait panel, as a share of its height.
LANGUAGE_BUTTON_Y = 0.955


def unit_environment(name: str, session: CageSession) -> dict[str, str]:
    """The unit's Environment= and EnvironmentFile=, the session's runtime folder for
    /run/kiosk-session (the display file kiosk-session.service writes there)."""
    env: dict[str, str] = {}
    unit = load(name)
    for line in values(unit, "Service", "Environment"):
        for pair in line.split():
            key, _, value = pair.partition("=")
            env[key] = value.replace(SESSION_RUNTIME_DIR, str(session.runtime_dir))
    for path in values(unit, "Service", "EnvironmentFile"):
        env.update(read_environment_file(
            Path(path.removeprefix("-").replace(SESSION_RUNTIME_DIR, str(session.runtime_dir)))))
    return env


@dataclass
class Shown:
    shot: Path
    last_line: str
    user: tuple[int, tuple[int, ...]]   # the kiosk process's uid and groups
    tapped: Path | None = None   # after one tap on the language button (portrait)


def kiosk_home(session: CageSession, name: str) -> Path:
    """A folder of the kiosk's user for its state, logs and output (pytest's own folders are
    the caller's alone), in the session's folder: gone with the session."""
    user = session_user()
    home = session.runtime_dir.parent / name
    home.mkdir(parents=True, exist_ok=True)
    return user.give(home)


def as_kiosk(session: CageSession, name: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
    """`kiosk.cli ARGS` as the unit runs it: its user, its environment, its home."""
    env = {**session.env, **unit_environment(name, session),
           "HOME": str(kiosk_home(session, "home"))}
    return session_user().command(["-m", "kiosk.cli", *args]), env


def run_until_ready(session: CageSession, name: str, args: list[str], root: Path) -> tuple[
        subprocess.Popen, NotifySocket, Path]:
    root.mkdir(parents=True, exist_ok=True)
    notify = NotifySocket(abstract=f"kiosk-notify-{os.getpid()}-{time.monotonic_ns()}")
    journal = root / "journal.txt"
    command, env = as_kiosk(session, name, args)
    with open(journal, "w") as out:
        proc = subprocess.Popen(command, env={**env, "NOTIFY_SOCKET": notify.address},
                                stdout=out, stderr=subprocess.STDOUT, cwd="/")
    if not notify.wait_for("READY=1", timeout=150):
        proc.kill()
        proc.wait()
        notify.close()
        raise AssertionError(journal.read_text(errors="replace")[-3000:])
    return proc, notify, journal


def settled_screenshot(session: CageSession, path: Path) -> Path:
    """A screenshot once the window covers the output (READY=1 comes as the attract screen
    starts; cage sizes the window once it is mapped), or after 15 s, whatever it shows."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        image = np.asarray(Image.open(session.screenshot(path)).convert("RGB"))
        if not any(black_at(edge) for edge in edges(image)):
            break
        time.sleep(0.25)
    time.sleep(1.0)  # the window's settled size, and the screens built for it
    return session.screenshot(path)


def edges(image: np.ndarray) -> list[np.ndarray]:
    return [image[0], image[-1], image[:, 0], image[:, -1]]


def black_at(edge: np.ndarray) -> bool:
    """Any pixel of cage's black background (no window there) along an edge."""
    return bool((edge.max(axis=-1) < 8).any())


def show_attract(size: tuple[int, int], out: Path,
                 session_env: dict[str, str] | None = None, name: str = "") -> Shown:
    """The kiosk on the simulator, started as kiosk.service does, in a cage of `size` (with
    the display session's settings `session_env`, as kiosk-provision writes them)."""
    with cage_session(*size, unit_env=session_env) as session:
        root = out / (name or f"{size[0]}x{size[1]}")
        home = kiosk_home(session, "kiosk")
        proc, notify, journal = run_until_ready(
            session, "kiosk.service",
            ["--simulator", "--state-dir", str(home / "state"), "--log-dir", str(home / "logs")],
            root)
        user = process_user(proc.pid)
        tapped = None
        try:
            shot = settled_screenshot(session,
                                      out / f"attract-{name or f'{size[0]}x{size[1]}'}.png")
            if size == PORTRAIT:
                # The language button: the middle of the bottom row on the portrait panel.
                session.tap(size[0] // 2, round(size[1] * LANGUAGE_BUTTON_Y))
                time.sleep(2.0)
                tapped = session.screenshot(out / "tapped-language.png")
        finally:
            proc.terminate()
            proc.wait(60)
            notify.close()
    return Shown(shot, journal.read_text(errors="replace").strip().splitlines()[-1], user, tapped)


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> Iterator[dict[tuple[int, int], Shown]]:
    out = tmp_path_factory.mktemp("cage")
    yield {size: show_attract(size, out) for size in (PORTRAIT, LANDSCAPE, SMALL_LANDSCAPE)}


def rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)])


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE, SMALL_LANDSCAPE])
def test_attract_screen_fills_the_output(shown, size):
    image = np.asarray(Image.open(shown[size].shot).convert("RGB")).astype(int)
    assert image.shape[:2] == (size[1], size[0])  # grim: the output, at the panel's size
    # The window covers the output: every edge of the output is the kiosk's own background
    # or its drawing, never cage's black (no window there).
    for edge in edges(image):
        assert not black_at(edge), "cage's black shows at the output's edge"
    # Its corners are the theme's background: the attract screen, not something else.
    background = rgb(STANDARD.background)
    for corner in (image[2, 2], image[2, -3], image[-3, 2], image[-3, -3]):
        assert np.abs(corner - background).max() <= 3, corner


def layout_difference(one: Image.Image, other: Image.Image) -> float:
    """The share of an image's area where two screenshots differ, compared at 1/8 of the
    smaller one's size (blocks averaged): the layout, not the type's pixels at each size nor
    the start button's pulsing halo (a halo in another phase differed in 3% of the pixels at
    full size, ci33). A layout cut to fit, or shifted by 40 px, differs in about 30%."""
    width, height = min(one.size[0], other.size[0]), min(one.size[1], other.size[1])
    size = (width // 8, height // 8)
    a, b = (np.asarray(im.convert("L").resize(size, Image.BOX), dtype=int) for im in (one, other))
    return float((np.abs(a - b) > 64).mean())


def test_kiosk_scales_to_the_output_it_got(shown):
    """kiosk.toml says 1080x1920 (the defaults); a 1280x720 output shows the 1920x1080 layout
    scaled by 2/3, not the design's sizes cut to fit (issue 19's QR code over the header)."""
    different = layout_difference(Image.open(shown[LANDSCAPE].shot),
                                  Image.open(shown[SMALL_LANDSCAPE].shot))
    assert different < 0.02, different


def test_a_panel_mounted_turned_shows_the_kiosk_upright(shown, tmp_path):
    """A portrait panel mounted on its side: the physical output is landscape, kiosk-provision
    --rotation 90 writes the session's settings, cage turns its output, and the kiosk sees a
    portrait screen and lays out for it, as on the upright portrait panel."""
    from provisioning.config_writer import write_session_env

    env = read_environment_file(write_session_env(tmp_path, 90))
    turned = show_attract(LANDSCAPE, tmp_path, env, name="turned")
    image = Image.open(turned.shot).convert("L")
    assert image.size == PORTRAIT          # as the citizen sees it: upright
    different = layout_difference(image, Image.open(shown[PORTRAIT].shot))
    assert different < 0.02, different


def test_a_tap_through_the_compositor_counts_once(shown):
    """A press through cage (its pointer, to Xwayland, to SDL, to Kivy) switches the language
    once: a tap counted twice would switch it back and leave the header as it was."""
    before = np.asarray(Image.open(shown[PORTRAIT].shot).convert("L"), dtype=int)
    assert shown[PORTRAIT].tapped is not None
    after = np.asarray(Image.open(shown[PORTRAIT].tapped).convert("L"), dtype=int)
    header = slice(0, PORTRAIT[1] // 6)   # the headline, in the other language now
    assert (np.abs(after[header] - before[header]) > 64).mean() > 0.01


def test_the_kiosk_runs_unprivileged_with_the_units_groups(shown):
    """As kiosk.service runs it: not root, with its SupplementaryGroups= (the serial ports,
    USB, cameras, printers), on Debian's own Python (simulator.session_user), and it still
    reaches pcscd and everything else the attract screen needs."""
    user = session_user()
    if os.geteuid() == 0 and user.why_not:
        pytest.skip(f"the kiosk cannot run as nobody here: {user.why_not}")
    for seen in shown.values():
        uid, groups = seen.user
        assert uid != 0
        if os.geteuid() == 0:
            assert uid == NOBODY
            assert set(groups) == set(user.groups) and user.groups   # the unit's, as found


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE, SMALL_LANDSCAPE])
def test_a_stopped_kiosk_says_so_in_its_last_line(shown, size):
    assert shown[size].last_line.endswith(end_line(EndReason.STOPPED, "signal SIGTERM"))


def test_killed_kiosk_leaves_the_session_to_the_out_of_service_screen(shown, tmp_path):
    """kill -9 (a crash systemd does not restart past its start limit): the out-of-service
    unit's command comes up on the same session, full screen, and says so on the screen."""
    with cage_session(*PORTRAIT) as session:
        kiosk, notify, _ = run_until_ready(
            session, "kiosk.service",
            ["--simulator", "--state-dir", str(kiosk_home(session, "state")),
             "--log-dir", str(kiosk_home(session, "logs"))], tmp_path / "kiosk")
        kiosk.kill()
        kiosk.wait(30)
        notify.close()
        screen, notify, journal = run_until_ready(
            session, "kiosk-out-of-service.service",
            ["--out-of-service", "--state-dir", str(kiosk_home(session, "state")),
             "--log-dir", str(kiosk_home(session, "logs"))], tmp_path / "out-of-service")
        try:
            shot = settled_screenshot(session, tmp_path / "out-of-service.png")
        finally:
            screen.terminate()
            screen.wait(60)
            notify.close()
    assert "STATUS=out of service: start_failed" in notify.lines()
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape[:2] == (PORTRAIT[1], PORTRAIT[0])
    assert not any(black_at(edge) for edge in edges(image)), "the screen does not fill the output"
    attract = np.asarray(Image.open(shown[PORTRAIT].shot).convert("RGB")).astype(int)
    assert (np.abs(image - attract).max(axis=-1) > 64).mean() > 0.02, "still the attract screen"
    assert journal.read_text().strip().splitlines()[-1].endswith(
        end_line(EndReason.STOPPED, "signal SIGTERM"))


def test_no_display_ends_the_kiosk_with_no_window(tmp_path):
    """With kiosk.service's environment a display that is not there (the session not up, an
    Xwayland that refuses the kiosk) ends it with its reason. Without SDL_VIDEODRIVER=x11,
    SDL falls back to another driver: a window nobody sees, READY=1 and a black panel."""
    number = next(n for n in range(150, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for line in values(load("kiosk.service"), "Service", "Environment"):
        env.update(pair.partition("=")[::2] for pair in line.split())
    env.update(DISPLAY=f":{number}", XDG_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--out-of-service", "--state-dir",
         str(tmp_path / "state")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"{EndReason.NO_WINDOW.value}: " in proc.stderr.strip().splitlines()[-1]


def test_a_scripted_endorsement_completes_on_the_session(tmp_path):
    """The whole endorsement (ID card, chip, face with its preview, payment, printed receipt)
    by the scripted citizen, in the kiosk started as kiosk.service starts it, on cage's output;
    what the panel showed meanwhile is taken from the compositor: always the whole output."""
    with cage_session(*PORTRAIT) as session:
        root = tmp_path / "kiosk"
        root.mkdir()
        home = kiosk_home(session, "kiosk")
        command, env = as_kiosk(session, "kiosk.service", [
            "--simulator", "--scenario", "endorsement", "--state-dir", str(home / "state"),
            "--log-dir", str(home / "logs"), "--out", str(home / "out")])
        with open(root / "stdout.json", "w") as out, open(root / "journal.txt", "w") as err:
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd="/")
            shots: list[np.ndarray] = []
            deadline = time.monotonic() + 180
            try:
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(1.0)
                    shot = session.screenshot(root / f"shot-{len(shots):03d}.png")
                    shots.append(np.asarray(Image.open(shot).convert("RGB")).astype(int))
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(60)
    text = (root / "stdout.json").read_text()
    assert "{" in text, (root / "journal.txt").read_text(errors="replace")[-3000:]
    summary = json.loads(text[text.index("{"):])
    assert summary["ok"], summary.get("error")
    assert [(o["status"], o["amount_fen"]) for o in summary["orders"]] == [("SUCCESS", 1500)]
    assert summary["receipt_text"], "no receipt printed"
    assert {"read_idcard", "place_permit", "face", "pay", "result"} <= set(summary["screens_seen"])
    # Once the window was up, the compositor showed it over the whole output, and more than
    # one screen of the visit (not the attract screen the whole time).
    assert shots and all(image.shape[:2] == (PORTRAIT[1], PORTRAIT[0]) for image in shots)
    covered = [not any(black_at(edge) for edge in edges(image)) for image in shots]
    gone = [all(black_at(edge) for edge in edges(image)) for image in shots]  # before, after
    assert True in covered, "the window never covered the output"
    first = covered.index(True)
    assert all(covered[i] or gone[i] for i in range(first, len(shots)))
    assert len({image[::40, ::40].tobytes() for image in shots[first:]}) >= 3
