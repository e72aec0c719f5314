"""Configures Kivy before anything imports its window: size, full screen, inputs, fonts."""

from __future__ import annotations

import os
from pathlib import Path


def configure_kivy(width: int, height: int, fullscreen: bool, font_path: str) -> None:
    """Must run before the first `import kivy.core.window` in the process."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the kiosk's own argv is not Kivy's
    os.environ.setdefault("KIVY_NO_CONFIG", "1")  # no ~/.kivy/config.ini drifting per machine
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # logs go through our own handlers
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    # The window only: sizes follow the window the kiosk gets (screens.app.fit_to_window), and
    # only Kivy's SDL2 window (an X11 fallback ends the process from C when it cannot connect,
    # leaving the simulator behind and no word of why).
    os.environ.setdefault("KIVY_WINDOW", "sdl2")
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    # Full screen, the window must take the size the compositor gives it: cage shows a window
    # of fixed size (min = max in its size hints) as a dialog at its own size, not full screen.
    Config.set("graphics", "resizable", "1" if fullscreen else "0")
    # No multisampling (Kivy's default is 2): the screens are flat boxes and text the font
    # renderer already smooths, and on a kiosk without a GPU (Mesa's llvmpipe) it tripled the
    # cost of every frame: a tap to the guide took 450 ms at the median instead of 190 (bench.menu).
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")  # a citizen must not close the kiosk
    Config.set("kivy", "keyboard_mode", "systemanddock")
    # mtdev/hidinput next to SDL's mouse doubles every touch on Linux: keep SDL's events only.
    if Config.has_section("input"):
        for option in list(Config.options("input")):
            Config.remove_option("input", option)
    Config.set("input", "mouse", "mouse,disable_multitouch")
    if Path(font_path).exists():
        from kivy.core.text import DEFAULT_FONT, LabelBase

        LabelBase.register(DEFAULT_FONT, font_path)
