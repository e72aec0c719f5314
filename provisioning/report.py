"""The provisioning report: what was found, what passed, what was written, what to do next.

Plain text for the technician's terminal, or JSON (--json) for the installation record. Neither
holds secrets: no PIN, no key material, no enrollment token.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from provisioning.probe import DeviceSelection, ProbeResult
from provisioning.selftest import Outcome, SelfTestResult


class EnrollmentState(StrEnum):
    ENROLLED = "enrolled"
    ALREADY_ENROLLED = "already_enrolled"  # an earlier run enrolled; no new token given
    SKIPPED = "skipped"  # no fleet server given
    FAILED = "failed"


@dataclass(frozen=True)
class Enrollment:
    state: EnrollmentState
    server_url: str = ""
    detail: str = ""


@dataclass
class ProvisioningReport:
    kiosk_id: str
    config_path: str
    key_path: str
    key_created: bool
    pin_set: bool  # a new PIN hash was written by this run
    pin_present: bool  # the configuration holds a PIN hash (new or kept)
    probe: ProbeResult
    selection: DeviceSelection
    self_tests: list[SelfTestResult]
    receipt: SelfTestResult | None
    enrollment: Enrollment
    warnings: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        failed = [
            f"{r.device}: {r.reason or 'failed'}"
            for r in [*self.self_tests, *([self.receipt] if self.receipt else [])]
            if r.outcome is Outcome.FAIL
        ]
        if self.enrollment.state is EnrollmentState.FAILED:
            failed.append(f"enrollment: {self.enrollment.detail}")
        if not self.pin_present:
            failed.append("technician PIN: not set")
        return failed

    @property
    def ok(self) -> bool:
        return not self.failures


def to_json(report: ProvisioningReport) -> dict[str, Any]:
    data = asdict(report)
    data["ok"] = report.ok
    data["failures"] = report.failures
    return json.loads(json.dumps(data, default=str))  # enums and paths as plain strings


_MARK = {Outcome.PASS: "ok  ", Outcome.WARN: "WARN", Outcome.FAIL: "FAIL", Outcome.SKIPPED: "--  "}


def render_text(report: ProvisioningReport) -> str:
    out: list[str] = []
    add = out.append
    add(f"Kiosk provisioning report - {report.kiosk_id}")
    add("=" * 60)
    add("")
    add("Hardware found")
    for device in report.probe.devices:
        state = "" if device.ok else "  [not reachable]"
        kind = device.kind.value if device.kind else "unknown"
        add(f"  {kind:<16} {device.address}  ({device.model}){state}")
        if device.detail:
            add(f"  {'':<16} {device.detail}")
    for note in report.probe.notes:
        if not note.available:
            add(f"  ! {note.subsystem}: {note.detail}")
    add("")
    add("Configured")
    sel = report.selection
    for role, chosen in (
        ("chip reader", sel.chip_reader),
        ("receipt printer", sel.printer),
        ("face camera", sel.face_camera),
    ):
        add(f"  {role:<16} {chosen.address if chosen else '- none -'}")
    for serial in sel.serial_devices:
        add(f"  {serial.kind.value if serial.kind else 'serial':<16} {serial.address}")
    add("")
    add("Self-tests")
    for result in [*report.self_tests, *([report.receipt] if report.receipt else [])]:
        reason = f" [{result.reason}]" if result.reason else ""
        add(f"  {_MARK[result.outcome]} {result.device:<16} {result.detail}{reason}")
    add("")
    enrollment = report.enrollment
    add(f"Fleet enrollment: {enrollment.state.value} {enrollment.server_url}".rstrip())
    if enrollment.detail:
        add(f"  {enrollment.detail}")
    add("")
    add("Written")
    add(f"  configuration   {report.config_path}")
    key_note = "new" if report.key_created else "kept from an earlier run"
    add(f"  device key      {report.key_path} ({key_note})")
    pin_note = "set" if report.pin_set else ("kept" if report.pin_present else "NOT SET")
    add(f"  technician PIN  {pin_note} (stored as a scrypt hash)")
    for warning in report.warnings:
        add(f"  ! {warning}")
    add("")
    if report.ok:
        add("RESULT: READY - the kiosk can be started (systemctl start kiosk).")
    else:
        add("RESULT: NOT READY - fix these and run kiosk-provision again:")
        for failure in report.failures:
            add(f"  - {failure}")
    return "\n".join(out)
