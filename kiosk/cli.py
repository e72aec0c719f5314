"""`kiosk`: run the kiosk, on real devices or on the embedded hardware simulator."""

from __future__ import annotations

import argparse
import faulthandler
import gc
import logging
import os
import sys
from pathlib import Path

from kiosk.process_end import (
    EndReason,
    classify,
    say_why,
    signal_noted,
    unwind_on_stop_signals,
)


def configured_state_dir(config_path: Path | None) -> Path:
    """The state folder the configuration names (the defaults' when it cannot be read: the
    kiosk itself then says why, on its out-of-service screen)."""
    from kiosk.config import load_config

    try:
        return load_config(config_path if config_path and config_path.exists() else None).state_dir
    except (OSError, ValueError):
        return load_config(None).state_dir


def cache_printer_capabilities(state_dir: Path) -> None:
    """python-escpos parses its printer capability table (YAML) when imported and caches the
    result in a new temporary folder every time, so it never finds it again: 0.3-0.7 s of every
    start and a 70 KB folder left in /tmp per start. Its cache goes under the state folder;
    must run before anything imports escpos (kiosk.app does, after the attract screen)."""
    folder = state_dir / "cache" / "escpos"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # an unwritable state folder: the kiosk reports it; escpos keeps its default
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    parser.add_argument("--config", type=Path, help="kiosk.toml (default: built-in defaults)")
    parser.add_argument("--state-dir", type=Path, help="where the journal, logs and keys live")
    parser.add_argument("--log-dir", type=Path,
                        help="where the log files go (default: STATE_DIR/logs; the systemd units "
                             "pass their LogsDirectory=)")
    parser.add_argument(
        "--simulator",
        action="store_true",
        help="start the hardware simulator and point every device at it",
    )
    parser.add_argument(
        "--scenario",
        choices=("startup", "endorsement", "bill", "certificate", "queue", "prereview", "technician", "card_pulled",
                 "payment_never", "gallery", "elder_endorsement", "hall_gallery",
                 # The service hall's items (scenarios.headless_hall), with --headless only.
                 "progress", "checkin", "booking", "collect", "fine",
                 # A visitor's passport, its chip keys from its data page (issue 18).
                 "passport", "passport_retry", "passport_keypad", "passport_other_chip"),
        help="with --simulator: a scripted citizen carries this scenario through",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="where the scripted citizen leaves screenshots and the receipt",
    )
    parser.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    parser.add_argument("--attach", type=Path, metavar="SIM_STATE_DIR",
                        help="use the simulator already running with this state folder")
    parser.add_argument("--headless", action="store_true",
                        help="no screens: recovery, then the scenario through the intents")
    parser.add_argument("--out-of-service", action="store_true",
                        help="show only the out-of-service screen (systemd's last resort)")
    parser.add_argument("--repeat", type=int, default=1, help="with --headless: scenario runs")
    args = parser.parse_args(argv)
    # SIGABRT (systemd's WatchdogSignal=), SIGSEGV and friends print every thread's Python stack
    # (files, lines, functions: no data) to stderr, the journal; LimitCORE=0 keeps the core away.
    faulthandler.enable()
    if args.scenario and not (args.simulator or args.attach):
        parser.error("--scenario needs --simulator or --attach")
    unwind_on_stop_signals()
    try:
        ended = _finished(_run(args))
    except BaseException as exc:  # noqa: BLE001 - every ending says why, in one line
        ended = _failed(exc)
    # What an interrupted start left unreferenced (an aiohttp session it never closed) warns
    # as it is collected: now, so that the line saying why stays the last one.
    gc.collect()
    say_why(ended[0], ended[1])
    return ended[2]


def _finished(status: int) -> tuple[EndReason, str, int]:
    """A kiosk that returned: stopped by a signal its loop took, unprovisioned, or done."""
    from kiosk.out_of_service import EXIT_NOT_PROVISIONED

    if (signalled := signal_noted()) is not None:
        return EndReason.STOPPED, f"signal {signalled}", status
    if status == EXIT_NOT_PROVISIONED:
        return EndReason.NOT_PROVISIONED, f"exit status {status}", status
    return EndReason.FINISHED, f"exit status {status}", status


def _failed(exc: BaseException) -> tuple[EndReason, str, int]:
    """A kiosk an exception ended; a crash leaves its traceback in the log first."""
    ended = classify(exc)
    if ended[0] is EndReason.CRASHED and not isinstance(exc, SystemExit):
        logging.getLogger("kiosk").error("the kiosk crashed", exc_info=exc)
    return ended


def _run(args: argparse.Namespace) -> int:
    cache_printer_capabilities(args.state_dir or configured_state_dir(args.config))
    from kiosk.main import run_kiosk

    return run_kiosk(
        args.config,
        simulator=args.simulator,
        scenario=args.scenario,
        out_dir=args.out if args.scenario else None,
        windowed=args.windowed,
        state_dir=args.state_dir,
        attach=args.attach,
        headless=args.headless,
        repeat=args.repeat,
        out_of_service=args.out_of_service,
        log_dir=args.log_dir,
    )


if __name__ == "__main__":
    sys.exit(main())
