"""`kiosk-fleet`: run the fleet server; add operators and enrollment tokens from the command line.

kiosk-fleet serve --host 0.0.0.0 --port 8443 --data /var/lib/kiosk-fleet [--database-url URL]
kiosk-fleet add-user --data DIR --username NAME --role admin   (password on stdin)
kiosk-fleet add-user --data DIR --username NAME --reset-password   (a new password on stdin)
kiosk-fleet create-token --data DIR [--ttl-hours H] [--rekey KIOSK_ID]   (prints the token)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from fleet.app import create_app, open_store
from fleet.auth import hash_password, new_secret_token, token_hash
from fleet.call_config import ice_settings
from fleet.config import FleetConfig, NotifyConfig, SmtpConfig, WebhookConfig
from fleet.logs import setup_logging
from fleet.status import Thresholds
from fleet.store import NoSuchKiosk, Role
from wire.fleet import MAX_ID_LEN

MAX_TOKEN_TTL_HOURS = 30 * 24.0  # a token lying about for longer is a standing risk

log = logging.getLogger("fleet.cli")
DEFAULTS = FleetConfig()


class ConfigError(ValueError):
    """A command-line setting that cannot work; the message says which and why."""


def _config(args: argparse.Namespace) -> FleetConfig:
    config = replace(DEFAULTS, data_dir=Path(args.data), database_url=args.database_url)
    if getattr(args, "interval", None):
        config = replace(config, heartbeat_interval_s=args.interval)
    late = getattr(args, "late_multiple", None)
    offline = getattr(args, "offline_multiple", None)
    if late is not None or offline is not None:
        # Either alone keeps the other's default.
        try:
            thresholds = Thresholds(
                late if late is not None else DEFAULTS.thresholds.late_multiple,
                offline if offline is not None else DEFAULTS.thresholds.offline_multiple,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        config = replace(config, thresholds=thresholds)
    if getattr(args, "cookie_secure", False):
        config = replace(config, cookie_secure=True)
    if getattr(args, "database_pool_size", None):
        if not 3 <= args.database_pool_size <= 100:
            raise ConfigError("--database-pool-size: from 3 to 100 connections")
        config = replace(config, database_pool_size=args.database_pool_size)
    if getattr(args, "sweep_interval", None):
        config = replace(config, sweep_interval_s=args.sweep_interval)
    if getattr(args, "trusted_proxy", None):
        config = replace(config, trusted_proxies=tuple(args.trusted_proxy))
    if getattr(args, "metrics_token_file", None):
        scrape_token = Path(args.metrics_token_file).read_text(encoding="utf-8").strip()
        if len(scrape_token) < 16:
            raise ConfigError("the metrics scrape token must be at least 16 characters")
        config = replace(config, metrics_token_hash=token_hash(scrape_token))
    if getattr(args, "webhook_url", None) or getattr(args, "smtp_host", None):
        config = replace(config, notify=_notify(args))
    if getattr(args, "ice_url", None):   # video help from the hall: STUN/TURN (coturn)
        config = replace(config, calls=ice_settings(args.ice_url, args.turn_secret_file))
    if getattr(args, "release_key", None):
        from wire.update.manifest import parse_public_key

        for key in args.release_key:
            try:
                parse_public_key(key)
            except ValueError as exc:
                raise ConfigError(f"--release-key {key[:20]}...: {exc}") from None
        config = replace(config, release_keys=tuple(args.release_key))
    if getattr(args, "public_url", None):
        config = replace(config, public_url=args.public_url.rstrip("/"))
    return config


def _notify(args: argparse.Namespace) -> NotifyConfig:
    secret = ""
    if args.webhook_url:
        if not args.webhook_secret_file:
            raise ConfigError("--webhook-url needs --webhook-secret-file (the shared secret)")
        secret = Path(args.webhook_secret_file).read_text(encoding="utf-8").strip()
        if len(secret) < 16:
            raise ConfigError("the webhook secret must be at least 16 characters")
    if args.smtp_host and not (args.smtp_from and args.alert_email):
        raise ConfigError("--smtp-host needs --smtp-from and --alert-email")
    return NotifyConfig(
        webhook=WebhookConfig(url=args.webhook_url or "", secret=secret),
        smtp=SmtpConfig(
            host=args.smtp_host or "",
            port=args.smtp_port,
            sender=args.smtp_from or "",
            to=args.alert_email or "",
            starttls=args.smtp_starttls,
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-fleet", description="The kiosk fleet server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    _add_common(serve)
    _add_serve_options(serve)
    _add_integration_options(serve)
    serve.add_argument("--log-level", default="INFO", help="(INFO)")
    serve.add_argument("--switch-interval", type=float, default=0.0002, help=argparse.SUPPRESS)
    _add_user_command(sub)
    _add_token_command(sub)
    return parser


def _add_common(p: argparse.ArgumentParser) -> None:
    """Where the fleet's state is: every command takes these."""
    p.add_argument(
        "--data", default="var/fleet", help="state directory, SQLite lives here (var/fleet)"
    )
    p.add_argument(
        "--database-url", default=None, help="postgresql://... to keep state in PostgreSQL"
    )


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    """The server itself: where it listens, how it judges kiosks, its database and sweeps."""
    th = DEFAULTS.thresholds
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8470, help="port to listen on (8470)")
    serve.add_argument(
        "--interval",
        type=float,
        default=None,
        help="heartbeat interval to ask kiosks for (default: each keeps its own)",
    )
    serve.add_argument(
        "--late-multiple",
        type=float,
        default=None,
        help=f"a kiosk is late after this many of its intervals (default {th.late_multiple})",
    )
    serve.add_argument(
        "--offline-multiple",
        type=float,
        default=None,
        help=f"and offline after this many (default {th.offline_multiple})",
    )
    serve.add_argument("--cookie-secure", action="store_true", help="behind HTTPS")
    serve.add_argument(
        "--database-pool-size",
        type=int,
        default=None,
        help=f"PostgreSQL connections of this process ({DEFAULTS.database_pool_size});"
        " workers x this must stay under the server's max_connections",
    )
    serve.add_argument(
        "--sweep-interval",
        type=float,
        default=None,
        help=f"seconds between offline sweeps and counter flushes ({DEFAULTS.sweep_interval_s:g})",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="a load balancer (HAProxy) whose X-Forwarded-For names the caller; repeatable",
    )


def _add_integration_options(serve: argparse.ArgumentParser) -> None:
    """What the server works with: release keys, metrics, alert webhooks and mail, video calls."""
    serve.add_argument(
        "--release-key",
        action="append",
        metavar="KEY",
        help="a release key uploaded bundles must be signed by (base64, as kiosk-bundle keygen"
        " prints it for trusted_keys); repeatable; without one, bundle uploads are refused",
    )
    serve.add_argument(
        "--public-url",
        default=None,
        help="the address kiosks reach this server at, for bundle downloads"
        " (default: the address of the operator's request that started the rollout)",
    )
    serve.add_argument(
        "--metrics-token-file",
        default=None,
        help="file holding the bearer token Prometheus scrapes /metrics with"
        " (without it only signed-in operators read /metrics)",
    )
    serve.add_argument("--webhook-url", default=None, help="POST alerts here as signed JSON")
    serve.add_argument(
        "--webhook-secret-file", default=None, help="file holding the webhook's shared secret"
    )
    serve.add_argument("--smtp-host", default=None, help="mail alerts through this relay")
    serve.add_argument(
        "--smtp-port", type=int, default=SmtpConfig.port, help=f"({SmtpConfig.port})"
    )
    serve.add_argument("--smtp-starttls", action="store_true", help="STARTTLS to the relay")
    serve.add_argument("--smtp-from", default=None, help="the alerts' sender address")
    serve.add_argument("--alert-email", default=None, help="comma-separated recipients")
    serve.add_argument("--ice-url", action="append", default=None,
                       help="a STUN/TURN URL for video calls (repeat; e.g. turn:hall:3478)")
    serve.add_argument("--turn-secret-file", default=None,
                       help="coturn's static-auth-secret, for short-lived TURN credentials")


def _add_user_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("add-user", help="create an operator account (password read on stdin)")
    _add_common(user)
    user.add_argument("--username", required=True)
    user.add_argument("--role", choices=[r.value for r in Role], default="viewer")
    user.add_argument(
        "--reset-password",
        action="store_true",
        help="give an existing account a new password (audited as a password reset)",
    )


def _add_token_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser(
        "create-token",
        help="create a one-time enrollment token",
        description="Prints one JSON line: the token (shown only here; the server keeps its hash)"
        " and when it expires, as a date. Give the token to the technician for kiosk-provision"
        " --enroll-token-file.",
    )
    _add_common(token)
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
    token.add_argument(
        "--kiosk-id", type=_kiosk_id, default=None, help="the token enrolls only this kiosk id"
    )
    token.add_argument("--site", default=None, help="the token enrolls only at this site")


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
        exists = await store.get_user(args.username) is not None
        if exists and not args.reset_password:
            await store.audit("cli", "create_user", args.username, "user_exists")
            print(
                f"user {args.username!r} exists; --reset-password gives it a new password",
                file=sys.stderr,
            )
            return 1
        if args.reset_password and not exists:
            print(f"no user {args.username!r} to reset", file=sys.stderr)
            return 1
        if exists:
            # Every session of the account ends with its old password.
            await store.set_password(
                args.username, hash_password(password), "cli", "reset_password"
            )
            print(f"password of {args.username!r} reset")
        else:
            await store.create_user(args.username, hash_password(password), Role(args.role))
            await store.audit("cli", "create_user", args.username, "ok", {"role": args.role})
            print(f"user {args.username!r} created ({args.role})")
    finally:
        await store.close()
    return 0


async def _create_token(args: argparse.Namespace) -> int:
    store = await open_store(_config(args))
    try:
        token, hashed = new_secret_token()
        try:
            expires = await store.create_enrollment_token(
                hashed,
                args.created_by,
                args.ttl_hours * 3600,
                rekey_kiosk_id=args.rekey,
                for_kiosk_id=args.kiosk_id,
                for_site=args.site,
            )
        except NoSuchKiosk:
            print(
                f"kiosk-fleet: no kiosk {args.rekey!r} is enrolled; a re-key token is only for"
                " an enrolled kiosk (a new kiosk needs an ordinary token)",
                file=sys.stderr,
            )
            return 2
        bound = {"rekey": args.rekey, "kiosk_id": args.kiosk_id, "site": args.site}
        detail = {k: v for k, v in bound.items() if v} or None
        await store.audit(args.created_by, "create_enrollment_token", hashed[:12], "ok", detail)
    finally:
        await store.close()
    made: dict[str, str] = {"token": token, "expires_at": _date(expires)}
    if args.rekey:
        made["rekey_kiosk_id"] = args.rekey
    if args.kiosk_id:
        made["kiosk_id"] = args.kiosk_id
    if args.site:
        made["site"] = args.site
    print(json.dumps(made))
    return 0


async def _serve(config: FleetConfig, host: str, port: int) -> None:
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        for address in runner.addresses:
            log.info("listening on http://%s:%s (dashboard at /dashboard/)", address[0], address[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
    except (ConfigError, OSError) as exc:
        parser.error(str(exc))
    if args.command == "serve":
        # SQLite runs on a worker thread; with CPython's default 5 ms switch interval every hand-off
        # back from it waits behind a busy event loop (a GIL convoy). A short interval more than
        # doubles the heartbeats one server takes (bench.fleet: 210/s -> ~500/s here).
        sys.setswitchinterval(args.switch_interval)
        setup_logging(args.log_level)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(config, args.host, args.port))
        return 0
    if args.command == "add-user":
        return asyncio.run(_add_user(args))
    if args.command == "create-token":
        return asyncio.run(_create_token(args))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
