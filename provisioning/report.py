"""The provisioning report: what was found, what passed, what was written, what to do next.

Plain text for the technician's terminal, or JSON (--json) for the installation record. Neither
holds secrets: no PIN, no key material, no enrollment token. The text ends in a block a script
can check: a line `RESULT: READY` or `RESULT: NOT READY`, then one line per thing to fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioning.config_writer import KeyState
from provisioning.enrollment import Enrollment
from provisioning.probe import DeviceSelection, ProbeResult
from provisioning.selftest import Outcome, SelfTestResult


@dataclass
class ProvisioningReport:
    kiosk_id: str
    config_path: str
    key_path: str
    key_state: KeyState
    pin_set: bool  # a new PIN hash was written by this run
    pin_present: bool  # the configuration holds a PIN hash (new or kept)
    probe: ProbeResult
    selection: DeviceSelection
    self_tests: list[SelfTestResult]
    receipt: SelfTestResult | None
    enrollment: Enrollment
    written: dict[str, Any] = field(default_factory=dict)  # the [devices] settings written
    not_written: list[str] = field(default_factory=list)  # "role address": failed, left out
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def key_created(self) -> bool:
        return self.key_state is not KeyState.KEPT

    @property
    def failures(self) -> list[str]:
        failed = [
            f"{r.device.value}: {r.reason or 'failed'}"
            for r in [*self.self_tests, *([self.receipt] if self.receipt else [])]
            if r.outcome is Outcome.FAIL
        ]
        failed += [d.refusal for d in self.selection.refused if d.refusal]
        if not self.enrollment.state.ok:
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
    data["key_created"] = report.key_created
    return json.loads(json.dumps(data, default=str))  # enums and paths as plain strings


_MARK = {Outcome.PASS: "ok  ", Outcome.WARN: "WARN", Outcome.FAIL: "FAIL", Outcome.SKIPPED: "--  "}
_KEY_NOTE = {
    KeyState.KEPT: "kept from an earlier run",
    KeyState.NEW: "new",
    KeyState.REPLACING: "NOT replaced: the fleet did not take the new key; the old one stays",
    KeyState.REPLACED: "new; it replaces the old key, which the fleet no longer accepts",
}


def _hardware(report: ProvisioningReport, add: Any) -> None:
    add("Hardware found")
    for device in report.probe.devices:
        state = "" if device.ok else "  [no answer]"
        kind = device.kind.value if device.kind else "unknown"
        add(f"  {kind:<16} {device.address}  ({device.model}){state}")
        if device.detail:
            add(f"  {'':<16} {device.detail}")
    for note in report.probe.notes:
        if not note.available:
            add(f"  ! {note.subsystem}: {note.detail}")


def render_text(report: ProvisioningReport) -> str:
    out: list[str] = []
    add = out.append
    add(f"Kiosk provisioning report - {report.kiosk_id}")
    add("=" * 60)
    add("")
    _hardware(report, add)
    for refused in report.selection.refused:
        add(f"  ! refused: {refused.refusal}")
    add("")
    add("Self-tests")
    for result in [*report.self_tests, *([report.receipt] if report.receipt else [])]:
        reason = f" [{result.reason}]" if result.reason else ""
        add(f"  {_MARK[result.outcome]} {result.device.value:<16} {result.detail}{reason}")
    add("")
    enrollment = report.enrollment
    add(f"Fleet enrollment: {enrollment.state.value} {enrollment.server_url}".rstrip())
    if enrollment.detail:
        add(f"  {enrollment.detail}")
    add("")
    add("Written")
    add(f"  configuration   {report.config_path}")
    for key, value in report.written.items():
        add(f"    {key:<22} {value}")
    for what in report.not_written:
        add(f"    NOT WRITTEN: {what} (it failed its self-test)")
    add(f"  device key      {report.key_path} ({_KEY_NOTE[report.key_state]})")
    pin_note = "set" if report.pin_set else ("kept" if report.pin_present else "NOT SET")
    add(f"  technician PIN  {pin_note} (stored as a scrypt hash)")
    for warning in report.warnings:
        add(f"  ! {warning}")
    add("")
    add(f"Took {report.seconds:.1f} s.")
    if report.ok:
        add("RESULT: READY - the kiosk can be started (systemctl start kiosk).")
    else:
        add("RESULT: NOT READY - fix these and run kiosk-provision again:")
        for failure in report.failures:
            add(f"  - {failure}")
    return "\n".join(out)
