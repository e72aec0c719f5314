"""`kiosk-provision`: probe, self-test, print a test receipt, enroll, write /etc/kiosk, report.

For the technician on site, run as root on the kiosk:

    kiosk-provision --fleet-url https://fleet.example --enroll-token-file token.txt \\
        --site "Zhongshan hall 3" --region 442000 --csca-store /media/usb/csca.pem

It is safe to run again: the kiosk id and device key stay (a new key only with --rekey and a
re-key token from the operators), the PIN stays unless a new one is given, and the device
settings are rewritten from what passes its self-test now. Against the simulator: `kiosk-sim
run` in one terminal, then `kiosk-provision --simulator var/sim --no-enroll ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from kiosk.logs import setup_logging
from provisioning.config_writer import ProvisioningError
from provisioning.enrollment import fleet_url
from provisioning.profiles import SERIAL_ROLES, DeviceKind, serial_role_named
from provisioning.progress import Progress
from provisioning.provision import provision
from provisioning.report import render_text, to_json
from wire.fleet import MAX_ID_LEN

log = logging.getLogger(__name__)

EXIT_READY, EXIT_NOT_READY, EXIT_REFUSED, EXIT_INTERNAL = 0, 1, 2, 3
EPILOG = f"""\
examples:
  kiosk-provision --fleet-url https://fleet.example --enroll-token-file token.txt \\
      --site "Zhongshan hall 3" --region 442000 --csca-store /media/usb/csca.pem
  kiosk-provision --serial /dev/ttyUSB0=idcard --serial /dev/ttyUSB1 --printer 192.168.1.50:9100 \\
      --camera 0 --document-camera 2 --no-enroll
  kiosk-provision --rekey --fleet-url https://fleet.example --enroll-token-file rekey.txt
  kiosk-provision --simulator var/sim --no-enroll --pin-stdin

exit codes:
  {EXIT_READY}  READY: every device written passed its self-test and the kiosk is enrolled
     (or --no-enroll)
  {EXIT_NOT_READY}  NOT READY: the report's last lines say what to fix; run again afterwards
  {EXIT_REFUSED}  refused: a wrong option, token, PIN or folder (the message says which);
     a refused option or token changes nothing
  {EXIT_INTERNAL}  an unexpected error (run again with -v to see where)
"""


def printer_spec(text: str) -> tuple[str, int]:
    """'HOST:PORT' (or ':PORT' for this machine) -> (host, port), for argparse."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _is_identifier(text: str) -> bool:
    return (
        0 < len(text) <= MAX_ID_LEN
        and text.isascii()
        and all(c.isalnum() or c in "-_." for c in text)
    )


def identifier(text: str) -> str:
    """Kiosk ids and regions as the fleet's wire schema takes them (wire/fleet.py)."""
    if not _is_identifier(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use 1 to {MAX_ID_LEN} ASCII letters, digits, '-', '_' or '.'"
        )
    return text


def site_name(text: str) -> str:
    """A site as people write it ("Zhongshan hall 3"), as the fleet stores it: the words joined
    by '-' ("Zhongshan-hall-3")."""
    joined = "-".join(text.split())
    if not _is_identifier(joined):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a site name is up to {MAX_ID_LEN} ASCII letters, digits, spaces, '-',"
            " '_' and '.' (write Chinese names in pinyin)"
        )
    return joined


def release_key(text: str) -> str:
    """A release key as `kiosk-bundle keygen` prints it: base64 of a raw Ed25519 public key."""
    from wire.update.manifest import parse_public_key

    try:
        parse_public_key(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:24]!r}: not a release key (the base64 line `kiosk-bundle keygen` prints"
            " for trusted_keys)"
        ) from None
    return text.strip()


def serial_spec(text: str) -> tuple[str, DeviceKind | None]:
    """'PATH' or 'PATH=NAME' with NAME one of the serial devices' names, for argparse."""
    path, sep, name = text.rpartition("=")
    if not sep:
        return text, None
    role = serial_role_named(name)
    if role is None:
        names = ", ".join(r.name for r in SERIAL_ROLES)
        raise argparse.ArgumentTypeError(f"unknown device {name!r} in {text!r}: use {names}")
    if not path:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is missing before '='")
    return path, role.kind


def _fleet_url(text: str) -> str:
    try:
        return fleet_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kiosk-provision",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_where_to_write(p)
    _add_hardware(p)
    _add_identity_and_fleet(p)
    _add_other_settings(p)
    return p.parse_args(argv)  # fmt: skip


def _add_where_to_write(p: argparse.ArgumentParser) -> None:
    """The kiosk's folders."""
    where = p.add_argument_group("where to write")
    where.add_argument(
        "--config-dir",
        type=Path,
        default=Path("/etc/kiosk"),
        help="the kiosk's configuration folder (default /etc/kiosk)",
    )
    where.add_argument(
        "--state-dir",
        type=Path,
        default=Path("/var/lib/kiosk"),
        help="the kiosk's state folder (default /var/lib/kiosk)",
    )


def _add_hardware(p: argparse.ArgumentParser) -> None:
    """The devices to probe, and what to do with them."""
    hardware = p.add_argument_group("hardware (the probe also looks for itself unless --no-scan)")
    hardware.add_argument(
        "--simulator",
        type=Path,
        metavar="STATE_DIR",
        help="use the devices of the simulator running with this state folder (its endpoints.json)",
    )
    names = ", ".join(r.name for r in SERIAL_ROLES)
    hardware.add_argument(
        "--serial",
        action="append",
        default=[],
        type=serial_spec,
        metavar="PATH[=NAME]",
        help=f"a serial port to ask what answers on it; with =NAME ({names}) it must answer as"
        " that device, e.g. /dev/ttyUSB0=idcard",
    )
    hardware.add_argument(
        "--printer",
        action="append",
        default=[],
        type=printer_spec,
        metavar="HOST:PORT",
        help="a network ESC/POS receipt printer",
    )
    hardware.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="URL_OR_INDEX",
        help="the face camera: a stream URL or a /dev/videoN index",
    )
    hardware.add_argument(
        "--document-camera",
        metavar="URL_OR_INDEX",
        help="the document camera (for scanned materials), if one is fitted",
    )
    hardware.add_argument("--reader", help="use the PC/SC reader whose name starts with this")
    hardware.add_argument(
        "--csca-store",
        type=Path,
        metavar="FILE",
        help="trusted CSCA certificates (PEM or DER file, or a folder): copied into the"
        " configuration folder; without them the kiosk refuses every travel-permit chip",
    )
    hardware.add_argument(
        "--no-scan",
        action="store_true",
        help="look only at the devices given, not at the whole system",
    )
    hardware.add_argument("--no-receipt", action="store_true", help="do not print a test receipt")


def _add_identity_and_fleet(p: argparse.ArgumentParser) -> None:
    """Who the kiosk is, and the fleet it enrolls with."""
    fleet = p.add_argument_group("identity and fleet")
    fleet.add_argument(
        "--kiosk-id",
        type=identifier,
        help="the kiosk's id (default: kept from an earlier run, or a new one)",
    )
    fleet.add_argument(
        "--rekey",
        action="store_true",
        help="give this kiosk a new device key (same kiosk id); needs a re-key token from"
        " `kiosk-fleet create-token --rekey KIOSK_ID`; the old key stays until the fleet"
        " accepts the new one",
    )
    fleet.add_argument(
        "--fleet-url",
        type=_fleet_url,
        help="the fleet server to enroll with, e.g. https://fleet.example",
    )
    fleet.add_argument("--enroll-token-file", type=Path, metavar="FILE",
                       help="the one-time token from the operators (the token alone, or the"
                       " JSON line kiosk-fleet create-token printed)")  # fmt: skip
    fleet.add_argument(
        "--enroll-token",
        metavar="TOKEN",
        help="the token itself (prefer --enroll-token-file: ps shows arguments)",
    )
    fleet.add_argument(
        "--no-enroll",
        action="store_true",
        help="run this kiosk without a fleet (it is then READY unenrolled)",
    )
    fleet.add_argument(
        "--site", type=site_name, help='where the kiosk stands, e.g. "Zhongshan hall 3"'
    )
    fleet.add_argument("--region", type=identifier, help="administrative region code, e.g. 442000")


def _add_other_settings(p: argparse.ArgumentParser) -> None:
    """The PIN, release keys, backends, and how the command reports."""
    other = p.add_argument_group("other settings")
    other.add_argument(
        "--rotation",
        type=int,
        choices=(0, 90, 180, 270),
        help="how far the panel is turned clockwise where it is mounted; the display session"
        " turns its picture back (kept from an earlier run unless given again; default 0)",
    )
    other.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the technician PIN from stdin (else asked on the terminal)",
    )
    other.add_argument(
        "--release-key",
        type=release_key,
        action="append",
        metavar="KEY",
        help="a release key the kiosk trusts for software updates ([update] trusted_keys;"
        " repeatable; given, it replaces the keys an earlier run wrote)",
    )
    other.add_argument("--payment-url", help="the payment gateway's address")
    other.add_argument("--exit-entry-url", help="the exit-entry backend's address")
    other.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (progress still goes to stderr)",
    )
    other.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    other.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what is done (-vv: and every device exchange) to stderr",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Driver warnings are already in the report as words; -v shows the log behind them.
    level = (logging.ERROR, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    setup_logging(None, level)
    progress = Progress(None if args.quiet else sys.stderr)
    try:
        report = asyncio.run(provision(args, progress))
    except ProvisioningError as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("kiosk-provision: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a technician gets words; -v gets the traceback
        log.info("unexpected error", exc_info=True)
        print(f"kiosk-provision: unexpected error: {exc or type(exc).__name__}"
              " (run again with -v to see where)", file=sys.stderr)  # fmt: skip
        return EXIT_INTERNAL
    if args.json:
        print(json.dumps(to_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return EXIT_READY if report.ok else EXIT_NOT_READY


if __name__ == "__main__":
    sys.exit(main())
