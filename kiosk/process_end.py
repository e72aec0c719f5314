"""How a kiosk process ends: stop signals that unwind it (so it stops the simulator it started
and closes its journal), and the one line that says why it ended, on stderr and in the log."""

from __future__ import annotations

import logging
import os
import signal
import sys
from enum import StrEnum
from types import FrameType

log = logging.getLogger(__name__)

# Signals that mean "stop" (systemctl stop, a closed terminal, Ctrl-C) before the app's event
# loop takes SIGTERM over (it stops the app the same way once running).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class EndReason(StrEnum):
    """Why the process ended, the first word of its last line."""

    FINISHED = "finished"            # the app stopped (a restart for an update, a scripted run)
    STOPPED = "stopped"              # a stop signal
    NO_WINDOW = "no_window"          # no display to show the kiosk on
    NOT_PROVISIONED = "not_provisioned"
    CRASHED = "crashed"              # an exception escaped


class StopRequested(BaseException):
    """A stop signal arrived: unwinds the kiosk through its `finally` blocks. A BaseException,
    like KeyboardInterrupt, so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class NoWindow(RuntimeError):
    """Kivy could not open a window (no display, or a video driver its SDL2 lacks)."""


_signalled: list[int] = []


def stopped_by(signum: int) -> None:
    """The running app's own stop-signal handler notes the signal here before it stops."""
    _signalled.append(signum)


def signal_noted() -> str | None:
    return signal.Signals(_signalled[-1]).name if _signalled else None


_raised: list[int] = []   # stop signals turned into StopRequested


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    _raised.append(signum)
    raise StopRequested(signum)


def unwind_on_stop_signals() -> None:
    """From here on a stop signal raises StopRequested instead of ending the process on the
    spot (which left the embedded simulator running, an orphan)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)


def end_line(reason: EndReason, detail: str) -> str:
    return f"kiosk ended: {reason.value}: {detail}"


def say_why(reason: EndReason, detail: str) -> None:
    """The one line, through the kiosk's log (stderr, the journal, kiosk.log) or, before the
    log is set up, on stderr alone."""
    line = end_line(reason, detail)
    if logging.getLogger().handlers:
        (log.info if reason in (EndReason.FINISHED, EndReason.STOPPED) else log.error)(line)
    else:
        print(line, file=sys.stderr, flush=True)


def classify(exc: BaseException) -> tuple[EndReason, str, int]:
    """An exception that ended the kiosk: its reason, the detail and the exit status."""
    if isinstance(exc, StopRequested):
        return EndReason.STOPPED, f"signal {exc}", 0
    if isinstance(exc, KeyboardInterrupt):
        return EndReason.STOPPED, "signal SIGINT", 0
    if isinstance(exc, NoWindow):
        return EndReason.NO_WINDOW, str(exc), 1
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 1
        return EndReason.CRASHED if code else EndReason.FINISHED, f"exit status {code}", code
    if _raised:   # the stop came inside a library that turned it into its own error (pyo3:
        # a PanicException when it lands in an extension's import): still the stop
        return EndReason.STOPPED, f"signal {signal.Signals(_raised[-1]).name}", 0
    return EndReason.CRASHED, f"{type(exc).__name__}: {exc}", 1


def require_window() -> None:
    """Kivy leaves its Window None when no provider could open one; say so before anything
    is built on it (Kivy itself would exit later with only a log line)."""
    from kivy.core.window import Window

    if Window is None:
        shown = {name: os.environ.get(name, "") for name in
                 ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
        raise NoWindow("Kivy's SDL2 could not open a window on "
                       + ", ".join(f"{k}={v!r}" for k, v in shown.items()))
