"""`kiosk-fleet`: run the fleet server; add operators and enrollment tokens from the command line.

kiosk-fleet serve --host 0.0.0.0 --port 8443 --data /var/lib/kiosk-fleet [--database-url URL]
kiosk-fleet add-user --data DIR --username NAME --role admin   (password on stdin)
kiosk-fleet create-token --data DIR [--ttl-hours H] [--rekey KIOSK_ID]   (prints the token)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from fleet.app import create_app, open_store
from fleet.auth import hash_password, new_secret_token
from fleet.config import FleetConfig
from fleet.status import Thresholds
from fleet.store import NoSuchKiosk, Role
from kiosk.fleet_wire import MAX_ID_LEN

MAX_TOKEN_TTL_HOURS = 30 * 24.0  # a token lying about for longer is a standing risk


def _config(args: argparse.Namespace) -> FleetConfig:
    kwargs = {"data_dir": Path(args.data), "database_url": args.database_url}
    if getattr(args, "interval", None):
        kwargs["heartbeat_interval_s"] = args.interval
    if getattr(args, "late_multiple", None):
        kwargs["thresholds"] = Thresholds(args.late_multiple, args.offline_multiple)
    if getattr(args, "cookie_secure", False):
        kwargs["cookie_secure"] = True
    return FleetConfig(**kwargs)  # type: ignore[arg-type]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-fleet", description="The kiosk fleet server")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", default="var/fleet", help="state directory (SQLite lives here)")
        p.add_argument(
            "--database-url", default=None, help="postgresql://... to keep state in PostgreSQL"
        )

    serve = sub.add_parser("serve", help="run the server")
    common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    serve.add_argument("--interval", type=float, default=None, help="heartbeat interval to ask for")
    serve.add_argument("--late-multiple", type=float, default=None)
    serve.add_argument("--offline-multiple", type=float, default=10.0)
    serve.add_argument("--cookie-secure", action="store_true", help="behind HTTPS")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--switch-interval", type=float, default=0.0002, help=argparse.SUPPRESS)

    user = sub.add_parser("add-user", help="create an operator account (password read on stdin)")
    common(user)
    user.add_argument("--username", required=True)
    user.add_argument("--role", choices=[r.value for r in Role], default="viewer")

    token = sub.add_parser(
        "create-token",
        help="create a one-time enrollment token",
        description="Prints one JSON line: the token (shown only here; the server keeps its hash)"
        " and when it expires, as a date. Give the token to the technician for kiosk-provision"
        " --enroll-token-file.",
    )
    common(token)
    token.add_argument("--created-by", default="cli", help="who asked for it (the audit log)")
    token.add_argument(
        "--ttl-hours",
        type=_ttl_hours,
        default=168.0,
        help=f"how long the token can be used, in hours (more than 0, at most"
        f" {MAX_TOKEN_TTL_HOURS:.0f}; default 168, a week)",
    )
    token.add_argument(
        "--rekey",
        metavar="KIOSK_ID",
        type=_kiosk_id,
        help="a token that gives this enrolled kiosk a new device key (kiosk-provision --rekey);"
        " once used, the kiosk's old key no longer verifies",
    )
    return parser


def _ttl_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not 0 < hours <= MAX_TOKEN_TTL_HOURS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"{text} hours: a token must be valid for more than 0 and at most"
            f" {MAX_TOKEN_TTL_HOURS:.0f} hours"
        )
    return hours


def _kiosk_id(text: str) -> str:
    if not (0 < len(text) <= MAX_ID_LEN and text.isascii()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a kiosk id")
    return text


def _date(epoch: float) -> str:
    """An expiry as a date a person reads, with its offset: 2025-06-01T14:00:00+08:00."""
    return datetime.fromtimestamp(epoch, UTC).astimezone().isoformat(timespec="seconds")


async def _add_user(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 10:
        print("a password of at least 10 characters is read from stdin", file=sys.stderr)
        return 2
    store = await open_store(_config(args))
    try:
        if await store.get_user(args.username):
            await store.set_password(args.username, hash_password(password))
        else:
            await store.create_user(args.username, hash_password(password), Role(args.role))
        await store.audit("cli", "create_user", args.username, "ok", {"role": args.role})
    finally:
        await store.close()
    return 0


async def _create_token(args: argparse.Namespace) -> int:
    store = await open_store(_config(args))
    try:
        token, hashed = new_secret_token()
        try:
            expires = await store.create_enrollment_token(
                hashed, args.created_by, args.ttl_hours * 3600, rekey_kiosk_id=args.rekey
            )
        except NoSuchKiosk:
            print(
                f"kiosk-fleet: no kiosk {args.rekey!r} is enrolled; a re-key token is only for"
                " an enrolled kiosk (a new kiosk needs an ordinary token)",
                file=sys.stderr,
            )
            return 2
        detail = {"rekey": args.rekey} if args.rekey else None
        await store.audit(args.created_by, "create_enrollment_token", hashed[:12], "ok", detail)
    finally:
        await store.close()
    made: dict[str, str] = {"token": token, "expires_at": _date(expires)}
    if args.rekey:
        made["rekey_kiosk_id"] = args.rekey
    print(json.dumps(made))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # SQLite runs on a worker thread; with CPython's default 5 ms switch interval every hand-off
        # back from it waits behind a busy event loop (a GIL convoy). A short interval more than
        # doubles the heartbeats one server takes (bench.fleet: 210/s -> ~500/s here).
        sys.setswitchinterval(args.switch_interval)
        logging.basicConfig(
            level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        web.run_app(
            create_app(_config(args)), host=args.host, port=args.port, access_log=None, print=None
        )
        return 0
    if args.command == "add-user":
        return asyncio.run(_add_user(args))
    if args.command == "create-token":
        return asyncio.run(_create_token(args))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
