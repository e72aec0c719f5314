"""`kiosk-provision`: probe, self-test, print a test receipt, enroll, write /etc/kiosk, report.

For the technician on site, run as root on the kiosk:

    kiosk-provision --fleet-url https://fleet.example --enroll-token-file token.txt \
        --site "Zhongshan hall 3" --region 442000

It is safe to run again: the kiosk id and device key stay (unless --rekey), the PIN stays unless
a new one is given, and the configuration is rewritten from what is found now. Against the
simulator: `kiosk-sim run` in one terminal, then `kiosk-provision --simulator var/sim ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.config import BackendConfig, DeviceConfig
from kiosk.fleet_wire import MAX_ID_LEN
from provisioning.config_writer import (
    DIR_MODE,
    ProvisioningError,
    ensure_identity,
    give_key_to,
    hash_pin,
    merge,
    prepare_folder,
    read_existing,
    validate_pin,
    write_config,
)
from provisioning.probe import ProbeTargets, printer_address, probe, select_devices
from provisioning.profiles import DeviceKind, match_kind_hint
from provisioning.report import (
    Enrollment,
    EnrollmentState,
    ProvisioningReport,
    render_text,
    to_json,
)
from provisioning.selftest import print_test_receipt, run_self_tests, self_test_receipt

log = logging.getLogger(__name__)

SERVICE_USER = "kiosk"  # the user kiosk.service runs as (systemd/kiosk.service)
SERIAL_CONFIG_KEYS = {
    DeviceKind.ID_CARD_READER: "idcard_reader_port",
    DeviceKind.DISPENSER: "dispenser_port",
    DeviceKind.BARCODE_SCANNER: "barcode_scanner_port",
}


def printer_spec(text: str) -> tuple[str, int]:
    """'HOST:PORT' (or ':PORT' for this machine) -> (host, port), for argparse."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def identifier(text: str) -> str:
    """Kiosk ids, sites and regions as the fleet's wire schema takes them (kiosk/fleet_wire.py)."""
    if not (
        0 < len(text) <= MAX_ID_LEN
        and text.isascii()
        and all(c.isalnum() or c in "-_." for c in text)
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use 1 to {MAX_ID_LEN} ASCII letters, digits, '-', '_' or '.'"
        )
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kiosk-provision",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config-dir", type=Path, default=Path("/etc/kiosk"))
    p.add_argument("--state-dir", type=Path, default=Path("/var/lib/kiosk"))
    p.add_argument(
        "--simulator",
        type=Path,
        metavar="STATE_DIR",
        help="use the devices of the simulator running with this state folder (its endpoints.json)",
    )
    p.add_argument(
        "--serial",
        action="append",
        default=[],
        metavar="PATH[=KIND]",
        help="a serial device to include, e.g. /dev/ttyUSB0=idcard (kinds: idcard, dispenser, scanner)",
    )
    p.add_argument("--printer", action="append", default=[], type=printer_spec, metavar="HOST:PORT")
    p.add_argument("--camera", action="append", default=[], metavar="URL_OR_INDEX")
    p.add_argument("--reader", help="use the PC/SC reader whose name starts with this")
    p.add_argument("--no-scan", action="store_true", help="look only at the devices given")
    p.add_argument("--no-receipt", action="store_true", help="do not print a test receipt")
    p.add_argument(
        "--kiosk-id", type=identifier, help="the kiosk's id (default: kept, or a new random one)"
    )
    p.add_argument("--rekey", action="store_true", help="a new device key and kiosk id")
    p.add_argument("--pin-stdin", action="store_true", help="read the technician PIN from stdin")
    p.add_argument("--fleet-url", help="the fleet server to enroll with")
    p.add_argument("--enroll-token", help="one-time enrollment token (prefer --enroll-token-file)")
    p.add_argument("--enroll-token-file", type=Path)
    p.add_argument("--site", type=identifier, help="where the kiosk stands, e.g. zhongshan-hall-3")
    p.add_argument("--region", type=identifier, help="administrative region code, e.g. 442000")
    p.add_argument("--payment-url")
    p.add_argument("--exit-entry-url")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _read_pin(args: argparse.Namespace, has_pin: bool) -> str | None:
    """The new PIN, or None to keep the stored one. Never from the command line (ps shows it)."""
    if args.pin_stdin:
        pin = sys.stdin.readline().strip()
    elif sys.stdin.isatty() and not has_pin:
        pin = getpass.getpass("New technician PIN (6-12 digits): ")
        if getpass.getpass("Repeat the PIN: ") != pin:
            raise ProvisioningError("the two PINs differ")
    elif has_pin:
        return None
    else:
        raise ProvisioningError("a technician PIN is needed: run interactively or use --pin-stdin")
    validate_pin(pin)
    return pin


def _enroll_token(args: argparse.Namespace) -> str | None:
    if args.enroll_token_file is not None:
        return args.enroll_token_file.read_text(encoding="utf-8").strip()
    return args.enroll_token


def _targets(args: argparse.Namespace, endpoints: dict[str, Any]) -> ProbeTargets:
    serial: list[tuple[str, str | None]] = []
    for spec in args.serial:
        path, _, hint = spec.partition("=")
        serial.append((path, hint or None))
    printers: list[tuple[str, int]] = list(args.printer)
    cameras: list[str | int] = [int(c) if c.isdigit() else c for c in args.camera]
    if endpoints:
        printer = endpoints.get("printer") or {}
        if isinstance(printer, dict) and isinstance(printer.get("port"), int):
            printers.append((printer.get("host", "127.0.0.1"), int(printer["port"])))
        if isinstance(endpoints.get("face_camera_url"), str):
            cameras.append(endpoints["face_camera_url"])
        serial += _simulated_serial(endpoints)
    return ProbeTargets(
        serial_paths=tuple(serial),
        printers=tuple(dict.fromkeys(printers)),
        cameras=tuple(dict.fromkeys(cameras)),
        scan_system=not args.no_scan,
    )


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _text(endpoints: dict[str, Any], key: str) -> str:
    value = endpoints.get(key)
    return value if isinstance(value, str) else ""


def _simulated_serial(endpoints: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Serial devices the simulator publishes: pty symlinks under endpoint names we recognise."""
    found: list[tuple[str, str | None]] = []
    for name, value in endpoints.items():
        # A pty path, or a table naming it: {"port": "/.../dispenser"} or {"path": ...}.
        path = (value.get("port") or value.get("path")) if isinstance(value, dict) else value
        if isinstance(path, str) and path.startswith("/") and match_kind_hint(name):
            found.append((path, name))
    return found


def _generate_device_key() -> tuple[bytes, bytes]:
    try:
        from kiosk.fleet_agent import generate_device_key
    except ImportError as exc:
        raise ProvisioningError(f"the fleet agent is not installed ({exc})") from exc

    return generate_device_key()


async def _enroll(
    server_url: str, token: str, private_pem: bytes, kiosk_id: str, site: str, region: str
) -> dict:
    from kiosk.fleet_agent import enroll

    return await enroll(server_url, token, private_pem, kiosk_id, site, region)


async def provision(args: argparse.Namespace) -> ProvisioningReport:
    endpoints: dict[str, Any] = {}
    if args.simulator is not None:
        path = args.simulator / "endpoints.json"
        try:
            endpoints = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ProvisioningError(f"no running simulator at {args.simulator} ({exc})") from exc
        if not isinstance(endpoints, dict):
            raise ProvisioningError(f"{path} does not hold the simulator's endpoints")

    folder: Path = args.config_dir
    prepare_folder(folder)
    existing = read_existing(folder)
    old_fleet = _table(existing, "fleet")
    old_technician = _table(existing, "technician")
    pin = _read_pin(args, bool(old_technician.get("pin_hash")))
    token = _enroll_token(args)
    site = args.site if args.site is not None else str(old_fleet.get("site", ""))
    region = args.region if args.region is not None else str(old_fleet.get("region", ""))
    if token and not (site and region):
        raise ProvisioningError("enrolling needs --site and --region (the fleet groups by them)")

    result = await probe(_targets(args, endpoints))
    selection = select_devices(result, args.reader or _text(endpoints, "card_reader"))
    identity = ensure_identity(
        folder, existing, _generate_device_key, rekey=args.rekey, kiosk_id=args.kiosk_id
    )

    self_tests = await run_self_tests(selection)
    receipt = None
    if not args.no_receipt:
        receipt_doc = self_test_receipt(identity.kiosk_id, site, self_tests, datetime.now())
        receipt = await print_test_receipt(selection.printer, receipt_doc)

    fleet_url = args.fleet_url or old_fleet.get("server_url") or _text(endpoints, "fleet_url")
    fleet: dict[str, Any] = {
        "server_url": fleet_url,
        "device_key_path": str(identity.key_path),
        "site": site,
        "region": region,
        "enrolled_at": "",  # set below once the fleet has this key
        "key_id": "",
    }
    same_identity = not identity.key_created and existing.get("kiosk_id") == identity.kiosk_id
    enrolled_before = (
        same_identity and old_fleet.get("enrolled_at") and old_fleet.get("server_url") == fleet_url
    )
    if fleet_url and enrolled_before:
        # The fleet knows this key already; a token would only be spent (or refused as used).
        enrollment = Enrollment(
            EnrollmentState.ALREADY_ENROLLED, fleet_url, f"since {old_fleet['enrolled_at']}"
        )
        for key in ("enrolled_at", "key_id"):
            if key in old_fleet:
                fleet[key] = old_fleet[key]
    elif fleet_url and token:
        try:
            answer = await _enroll(
                fleet_url, token, identity.private_pem, identity.kiosk_id, site, region
            )
        except Exception as exc:  # noqa: BLE001 - any failure is a line in the report
            enrollment = Enrollment(EnrollmentState.FAILED, fleet_url, _why(exc))
        else:
            enrollment = Enrollment(EnrollmentState.ENROLLED, fleet_url, _summary(answer))
            fleet["enrolled_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            if isinstance(answer.get("key_id"), str):
                fleet["key_id"] = answer["key_id"]
    else:
        why = "no enrollment token given" if fleet_url else "no fleet server given"
        enrollment = Enrollment(EnrollmentState.SKIPPED, fleet_url, why)

    warnings: list[str] = []
    devices: dict[str, Any] = {}
    if selection.chip_reader is not None:
        devices["card_reader"] = selection.chip_reader.address
    if selection.face_camera is not None:
        devices["face_camera_url"] = selection.face_camera.address
        if selection.face_camera.address.isdigit():
            warnings.append("the face camera is a local device index; check the kiosk opens it")
    if selection.printer is not None:
        devices["printer_host"], devices["printer_port"] = printer_address(selection.printer)
    # Serial devices go in once the kiosk's DeviceConfig has a field for them (the names below).
    device_fields = {f.name for f in fields(DeviceConfig)}
    for device in selection.serial_devices:
        setting = SERIAL_CONFIG_KEYS.get(device.kind) if device.kind else None
        if setting in device_fields and device.ok:
            devices.setdefault(setting, device.address)
        elif setting is not None and device.ok:
            warnings.append(f"{device.address}: the kiosk has no {setting} setting yet")
    # Every backend URL the kiosk knows, from the simulator's endpoints of the same name.
    backends: dict[str, Any] = {
        f.name: _text(endpoints, f.name)
        for f in fields(BackendConfig)
        if f.name.endswith("_url") and _text(endpoints, f.name)
    }
    for key, given in (("payment_url", args.payment_url), ("exit_entry_url", args.exit_entry_url)):
        if given:
            backends[key] = given
    technician = dict(old_technician)
    if pin is not None:
        technician["pin_hash"] = hash_pin(pin)
    document = merge(
        existing,
        {
            "kiosk_id": identity.kiosk_id,
            "state_dir": str(args.state_dir),
            "devices": devices,
            "backends": backends,
            "fleet": fleet,
            "technician": technician,
        },
    )
    args.state_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    config_path = write_config(folder, document, group=SERVICE_USER)
    give_key_to(identity.key_path, SERVICE_USER)
    if os.geteuid() == 0:
        give_key_to(args.state_dir, SERVICE_USER)

    return ProvisioningReport(
        kiosk_id=identity.kiosk_id,
        config_path=str(config_path),
        key_path=str(identity.key_path),
        key_created=identity.key_created,
        pin_set=pin is not None,
        pin_present=bool(technician.get("pin_hash")),
        probe=result,
        selection=selection,
        self_tests=self_tests,
        receipt=receipt,
        enrollment=enrollment,
        warnings=warnings,
    )


def _why(exc: Exception) -> str:
    """The fleet agent's reason and the server's code (token_used, kiosk_exists, ...)."""
    code = getattr(exc, "code", "")
    reason = getattr(exc, "reason", None)
    if reason is not None:
        return f"{getattr(reason, 'value', reason)}" + (f": {code}" if code else "")
    return f"{exc.__class__.__name__}: {exc}"


def _summary(answer: dict) -> str:
    """What the fleet said, minus anything that looks like a secret."""
    shown = {
        k: v
        for k, v in answer.items()
        if isinstance(v, str | int | float | bool)
        and not any(s in k.lower() for s in ("token", "secret", "key", "password"))
    }
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        report = asyncio.run(provision(args))
    except ProvisioningError as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(to_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
