"""One provisioning run: check what was given, probe, self-test, print a test receipt, enroll,
write the configuration, and say whether the kiosk is ready.

Everything the technician typed is checked before any hardware is touched or any file written
(`check_inputs`, a ProvisioningError otherwise). From then on nothing raises for a device or a
fleet that fails: it becomes a line in the report, and the report is READY only when every
device written passed its self-test and the kiosk is enrolled (or enrollment was declined).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.config import BackendConfig
from provisioning.config_writer import (
    CONFIG_NAME,
    DIR_MODE,
    MANAGED_DEVICE_KEYS,
    Identity,
    KeyState,
    ProvisioningError,
    commit_key,
    device_settings,
    ensure_identity,
    give_key_to,
    hash_pin,
    install_trust_store,
    merge,
    prepare_folder,
    read_existing,
    read_pin,
    trust_store_pem,
    write_config,
    write_session_env,
)
from provisioning.enrollment import Enrollment, EnrollmentState, enroll, read_token
from provisioning.probe import (
    DeviceSelection,
    ProbeTargets,
    probe,
    select_devices,
)
from provisioning.profiles import SERIAL_ROLE_OF, SERIAL_ROLES, DeviceKind
from provisioning.progress import Progress
from provisioning.report import ProvisioningReport
from provisioning.selftest import (
    Role,
    SelfTestResult,
    print_test_receipt,
    run_self_tests,
    self_test_receipt,
)

log = logging.getLogger(__name__)

SERVICE_USER = "kiosk"  # the user kiosk.service runs as (systemd/kiosk.service)


@dataclass(frozen=True)
class Inputs:
    """What the technician gave (and the earlier configuration held), checked."""

    endpoints: dict[str, Any]
    folder: Path
    existing: dict[str, Any]
    pin: str | None
    token: str | None
    fleet_url: str
    site: str
    region: str
    csca_source: Path | None
    csca_required: bool


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _text(endpoints: dict[str, Any], key: str) -> str:
    value = endpoints.get(key)
    return value if isinstance(value, str) else ""


def _simulator_endpoints(state_dir: Path | None) -> dict[str, Any]:
    if state_dir is None:
        return {}
    path = state_dir / "endpoints.json"
    try:
        endpoints = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ProvisioningError(f"no running simulator at {state_dir} ({exc})") from exc
    if not isinstance(endpoints, dict):
        raise ProvisioningError(f"{path} does not hold the simulator's endpoints")
    return endpoints


def check_inputs(args: argparse.Namespace) -> Inputs:
    """Everything given, checked before any device or file is touched; ProvisioningError says
    what to change."""
    endpoints = _simulator_endpoints(args.simulator)
    folder: Path = args.config_dir
    existing = read_existing(folder)
    old_fleet, old_devices = _table(existing, "fleet"), _table(existing, "devices")
    token = read_token(args.enroll_token, args.enroll_token_file)
    fleet_url = args.fleet_url or str(old_fleet.get("server_url") or "")
    site = args.site or str(old_fleet.get("site", ""))
    region = args.region or str(old_fleet.get("region", ""))
    if token and args.no_enroll:
        raise ProvisioningError("--no-enroll and an enrollment token contradict each other")
    if args.rekey and not token:
        raise ProvisioningError(
            "--rekey gives this kiosk a new device key, which the fleet must learn: it needs"
            " --fleet-url and a re-key token (kiosk-fleet create-token --rekey KIOSK_ID)"
        )
    if token and not fleet_url:
        raise ProvisioningError("an enrollment token needs --fleet-url (the fleet it is for)")
    if token and not (site and region):
        raise ProvisioningError("enrolling needs --site and --region (the fleet groups by them)")
    csca = args.csca_store or _text(endpoints, "csca_store") or old_devices.get("csca_store")
    csca_source = Path(csca) if csca else None
    if args.csca_store is not None and not args.csca_store.exists():
        raise ProvisioningError(f"the CSCA certificate file {args.csca_store} does not exist")
    require_trust = _table(existing, "flow").get("require_trusted_document", True)
    prepare_folder(folder, SERVICE_USER)  # the first thing written, before a PIN is typed
    pin = read_pin(args.pin_stdin, bool(_table(existing, "technician").get("pin_hash")))
    return Inputs(endpoints, folder, existing, pin, token, fleet_url, site, region, csca_source,
                  bool(require_trust))  # fmt: skip


def probe_targets(args: argparse.Namespace, endpoints: dict[str, Any]) -> ProbeTargets:
    serial: list[tuple[str, DeviceKind | None]] = list(args.serial)
    printers: list[tuple[str, int]] = list(args.printer)
    cameras: list[str | int] = [int(c) if c.isdigit() else c for c in args.camera]
    document: str | int | None = args.document_camera
    if isinstance(document, str) and document.isdigit():
        document = int(document)
    if endpoints:
        printer = endpoints.get("printer") or {}
        if isinstance(printer, dict) and isinstance(printer.get("port"), int):
            printers.append((printer.get("host", "127.0.0.1"), int(printer["port"])))
        if _text(endpoints, "face_camera_url"):
            cameras.append(endpoints["face_camera_url"])
        if document is None and _text(endpoints, "document_camera_url"):
            document = endpoints["document_camera_url"]
        # The simulator says which pty it meant for which device; the probe checks that it is.
        serial += [(endpoints[r.endpoint_key], r.kind) for r in SERIAL_ROLES
                   if _text(endpoints, r.endpoint_key)]  # fmt: skip
    return ProbeTargets(
        serial_paths=tuple(serial),
        printers=tuple(dict.fromkeys(printers)),
        cameras=tuple(dict.fromkeys(cameras)),
        document_camera=document,
        scan_system=not args.no_scan,
    )


def _found_lines(selection: DeviceSelection) -> list[str]:
    lines = []
    for role, device in (("chip reader", selection.chip_reader),
                         ("receipt printer", selection.printer),
                         ("face camera", selection.face_camera),
                         ("document camera", selection.document_camera)):  # fmt: skip
        if device is not None:
            lines.append(f"{role:<16} {device.address}" + ("" if device.ok else "  (no answer)"))
    for device in selection.serial_devices:
        kind = device.role_kind
        title = SERIAL_ROLE_OF[kind].title.removeprefix("the ") if kind else "serial device"
        lines.append(f"{title:<16} {device.address}  {device.detail}")
    lines += [f"refused          {d.refusal}" for d in selection.refused]
    return lines


async def _test_receipt(
    args: argparse.Namespace, selection: DeviceSelection, results: list[SelfTestResult], identity: Identity,
    site: str, progress: Progress,
) -> SelfTestResult | None:  # fmt: skip
    if args.no_receipt:
        progress.step(3, "skipped (--no-receipt)")
        return None
    printer_test = next((r for r in results if r.device is Role.RECEIPT_PRINTER), None)
    if printer_test is None or not printer_test.outcome.usable:
        progress.step(3, "not printed: the printer failed its self-test")
        return None
    progress.step(3, f"printing on {printer_test.address}")
    document = self_test_receipt(identity.kiosk_id, site, results, datetime.now())
    receipt = await print_test_receipt(selection.printer, document)
    progress.result(receipt)
    return receipt


async def _enroll(
    args: argparse.Namespace, inputs: Inputs, identity: Identity
) -> tuple[Enrollment, dict[str, Any], Identity]:
    """The enrollment, the [fleet] table that is true afterwards, and the identity (its new
    key written once the fleet has it)."""
    old = _table(inputs.existing, "fleet")
    key_path = {"device_key_path": str(identity.key_path)}
    enrolled_before = bool(
        old.get("enrolled_at")
        and old.get("server_url")
        and inputs.existing.get("kiosk_id") == identity.kiosk_id
    )
    same_fleet = inputs.fleet_url == old.get("server_url")
    if enrolled_before and same_fleet and identity.key_state is KeyState.KEPT:
        # The fleet knows this key already; a token would only be spent (or refused as used).
        unused = "; the token given was not used" if inputs.token else ""
        detail = f"since {old['enrolled_at']}, key {old.get('key_id', '?')}{unused}"
        state, key_id = EnrollmentState.ALREADY_ENROLLED, str(old.get("key_id", ""))
        enrollment = Enrollment(state, old["server_url"], detail, key_id)
        return enrollment, {**old, **key_path}, identity
    if inputs.token:
        enrollment = await enroll(
            inputs.fleet_url,
            inputs.token,
            identity.private_pem,
            identity.kiosk_id,
            inputs.site,
            inputs.region,
        )
        if enrollment.state.ok:
            table = {
                **key_path,
                "server_url": inputs.fleet_url,
                "site": inputs.site,
                "region": inputs.region,
                "enrolled_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "key_id": enrollment.key_id,
            }
            return enrollment, table, commit_key(identity)
    elif args.no_enroll:
        why = "--no-enroll: this kiosk runs without a fleet; the operators will not see it"
        enrollment = Enrollment(EnrollmentState.DECLINED, "", why)
    else:
        why = (
            "no enrollment token given: add --fleet-url URL --enroll-token-file FILE,"
            " or --no-enroll to run this kiosk without a fleet"
        )
        enrollment = Enrollment(EnrollmentState.NOT_ENROLLED, inputs.fleet_url, why)
    if enrolled_before and identity.key_state in (KeyState.KEPT, KeyState.REPLACING):
        # The key on disk is still the one the fleet knows: its enrollment still holds.
        return enrollment, {**old, **key_path}, identity
    # No fleet knows the key on disk: no address for the kiosk's agent to be refused at.
    table = {**key_path, "site": inputs.site, "region": inputs.region}
    table.update(server_url="", enrolled_at="", key_id="")
    return enrollment, table, identity


async def provision(
    args: argparse.Namespace, progress: Progress | None = None
) -> ProvisioningReport:
    """The whole run; ProvisioningError only for what is wrong with the inputs."""
    progress = progress or Progress()
    inputs = check_inputs(args)
    folder, existing = inputs.folder, inputs.existing

    progress.step(1)
    result = await probe(probe_targets(args, inputs.endpoints))
    selection = select_devices(result, args.reader or _text(inputs.endpoints, "card_reader"))
    for line in _found_lines(selection):
        progress.item(line)
    progress.step_done(f"{len(result.devices)} device(s) seen")
    identity = ensure_identity(
        folder, existing, _generate_device_key, rekey=args.rekey, kiosk_id=args.kiosk_id
    )

    progress.step(2, f"kiosk {identity.kiosk_id}")
    self_tests = await run_self_tests(
        selection, inputs.csca_source, inputs.csca_required, on_result=progress.result
    )
    receipt = await _test_receipt(args, selection, self_tests, identity, inputs.site, progress)

    where = inputs.fleet_url or ("declined (--no-enroll)" if args.no_enroll else "no fleet given")
    progress.step(4, where)
    enrollment, fleet, identity = await _enroll(args, inputs, identity)
    progress.item(f"{enrollment.state.value}: {enrollment.detail}")

    config_path = folder / CONFIG_NAME
    progress.step(5, str(config_path))
    written = _write_configuration(args, inputs, identity, self_tests, enrollment, fleet)
    progress.step_done("written")

    return ProvisioningReport(
        kiosk_id=identity.kiosk_id,
        config_path=str(config_path),
        key_path=str(identity.key_path),
        key_state=identity.key_state,
        pin_set=inputs.pin is not None,
        pin_present=bool(written.document["technician"].get("pin_hash")),
        probe=result,
        selection=selection,
        self_tests=self_tests,
        receipt=receipt,
        enrollment=enrollment,
        written=written.devices,
        not_written=written.left_out,
        warnings=written.warnings,
        seconds=round(progress.elapsed, 2),
    )


@dataclass(frozen=True)
class _Written:
    """Step 5's outcome: the configuration written, the devices in it and those left out."""

    document: dict[str, Any]
    devices: dict[str, Any]
    left_out: list[str]
    warnings: list[str]


def _write_configuration(
    args: argparse.Namespace, inputs: Inputs, identity: Identity,
    self_tests: list[SelfTestResult], enrollment: Enrollment, fleet: dict[str, Any],
) -> _Written:
    """Step 5: the trust store, kiosk.toml (devices that passed, backends, fleet, technician,
    updates) and the key handed to the service user."""
    folder, existing = inputs.folder, inputs.existing
    csca_ok = any(r.device is Role.CSCA_STORE and r.outcome.usable for r in self_tests)
    csca_path = None
    if csca_ok and inputs.csca_source is not None:
        pem = trust_store_pem(inputs.csca_source)
        csca_path = install_trust_store(folder, pem, group=SERVICE_USER)
    devices, left_out = device_settings(self_tests, csca_path)
    warnings = [f"{what}: not written, it failed its self-test" for what in left_out]
    if str(devices.get("face_camera_url", "")).isdigit():
        warnings.append("the face camera is a local device index; check the kiosk opens it")
    if fleet.get("site") != inputs.site and enrollment.state is EnrollmentState.ALREADY_ENROLLED:
        warnings.append(
            f"the fleet keeps site {fleet.get('site')!r} from the enrollment; a re-key changes it"
        )
    document = merge(
        {**existing, "devices": {k: v for k, v in _table(existing, "devices").items()
                                 if k not in MANAGED_DEVICE_KEYS}},
        {
            "kiosk_id": identity.kiosk_id,
            "state_dir": str(args.state_dir),
            "devices": devices,
            "backends": _backends(args, inputs.endpoints),
            "fleet": fleet,
            "technician": _technician(existing, inputs.pin),
            **_ui(args),
            **_update(args),
        },
    )  # fmt: skip
    args.state_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    write_config(folder, document, group=SERVICE_USER)
    write_session_env(folder, int(_table(document, "ui").get("rotation", 0)))
    give_key_to(identity.key_path, SERVICE_USER)
    if os.geteuid() == 0:
        give_key_to(args.state_dir, SERVICE_USER)
    return _Written(document, devices, left_out, warnings)


def _backends(args: argparse.Namespace, endpoints: dict[str, Any]) -> dict[str, Any]:
    """Every backend URL the kiosk knows, from the simulator's endpoints of the same name."""
    backends: dict[str, Any] = {
        f.name: _text(endpoints, f.name)
        for f in fields(BackendConfig)
        if f.name.endswith("_url") and _text(endpoints, f.name)
    }
    for key, given in (("payment_url", args.payment_url), ("exit_entry_url", args.exit_entry_url)):
        if given:
            backends[key] = given
    return backends


def _ui(args: argparse.Namespace) -> dict[str, Any]:
    """[ui] rotation, when given (else what an earlier run wrote stays)."""
    return {"ui": {"rotation": args.rotation}} if getattr(args, "rotation", None) is not None else {}


def _update(args: argparse.Namespace) -> dict[str, Any]:
    """[update] trusted_keys: the release keys updates must be signed by (kept from an earlier
    run unless given again; a kiosk with none refuses every update)."""
    keys = getattr(args, "release_key", None)
    return {"update": {"trusted_keys": list(dict.fromkeys(keys))}} if keys else {}


def _technician(existing: dict[str, Any], pin: str | None) -> dict[str, Any]:
    technician = dict(_table(existing, "technician"))
    if pin is not None:
        technician["pin_hash"] = hash_pin(pin)
    return technician


def _generate_device_key() -> tuple[bytes, bytes]:
    try:
        from kiosk.fleet_enrollment import generate_device_key
    except ImportError as exc:
        raise ProvisioningError(f"the fleet agent is not installed ({exc})") from exc

    return generate_device_key()
