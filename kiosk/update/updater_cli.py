"""`kiosk-update`: the updater (what kiosk-update.service runs), a technician's install of a
bundle file, and a plain view of where updates stand."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from kiosk.config import DEFAULT_CONFIG_PATH, KioskConfig, load_config
from kiosk.update.guard import Guard, read_json
from kiosk.update.installer import EXIT_RETRY, Updater, UpdaterSettings
from kiosk.update.layout import layout_for
from wire.update.errors import UpdatePostponed, UpdateRefused

EXIT_NO_CONFIG = 78  # EX_CONFIG, as the kiosk: the trusted keys live in kiosk.toml


def settings_for(config: KioskConfig) -> UpdaterSettings:
    u = config.update
    return UpdaterSettings(tuple(u.trusted_keys), u.start_tries, u.health_deadline_s,
                           config.debug.update_crash_after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-update", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--state-dir", type=Path, help="the kiosk's state folder (its requests)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="handle the kiosk's update request (kiosk-update.service)")
    install = sub.add_parser("install", help="install a bundle file into the spare slot")
    install.add_argument("bundle", type=Path)
    install.add_argument("--digest", help="the manifest digest to insist on")
    status = sub.add_parser("status", help="where updates stand")
    status.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if not args.config.exists():
        print(f"kiosk-update: {args.config} does not exist (not provisioned)", file=sys.stderr)
        return EXIT_NO_CONFIG
    overrides = {"state_dir": str(args.state_dir)} if args.state_dir else {}
    config = load_config(args.config, overrides)
    layout = layout_for(config)
    if args.command == "run":
        return Updater(layout, settings_for(config)).run()
    if args.command == "install":
        try:
            staged = Updater(layout, settings_for(config)).install(args.bundle, args.digest)
        except UpdateRefused as refused:
            print(f"refused ({refused.reason.value}): {refused}")
            return 1
        except UpdatePostponed as postponed:
            print(f"not now ({postponed.reason.value}): {postponed.detail}")
            return EXIT_RETRY
        print(f"staged {staged['version']} in slot {staged['slot']}: the kiosk restarts into it "
              "between citizens in its maintenance window")
        return 0
    updater = read_json(layout.updater_file) or {}
    boot = Guard(layout).load()
    if args.json:
        print(json.dumps({"updater": updater, "boot": boot}, indent=1, sort_keys=True))
        return 0
    print(f"good slot: {boot.get('good') or '-'} "
          f"({(layout.release(boot['good']) or {}).get('version', '-') if boot.get('good') else '-'})")
    trial = boot.get("trial")
    if trial:
        print(f"on trial: {trial['version']} in slot {trial['slot']}, "
              f"{trial['tries_left']} starts left")
    print(f"updater: {updater.get('phase', 'idle')}"
          + (f" ({updater.get('target_version')})" if updater.get("target_version") else ""))
    for name, result in (("last update", boot.get("last_result")),
                         ("last request", updater.get("last_result"))):
        if result:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(result.get("at", 0)))
            reason = f" ({result['reason']}: {result.get('detail', '')})" \
                if result.get("reason") else ""
            print(f"{name}: {result['outcome']} {result.get('version', '')} at {when}{reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
