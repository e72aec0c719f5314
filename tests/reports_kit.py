"""What the kiosk told its fleet channel (kiosk.fleet_channel), heard as the fleet link hears it."""

from __future__ import annotations

from kiosk.flow import FlowContext
from wire.reports import EvaluationReport


class Heard:
    """A kiosk.fleet_channel.ReportListener that keeps what it hears."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.evaluations: list[EvaluationReport] = []
        self.changes = 0

    def problem(self, kind: str, reason: str) -> None:
        self.problems.append((kind, reason))

    def evaluation(self, report: EvaluationReport) -> None:
        self.evaluations.append(report)

    def changed(self) -> None:
        self.changes += 1


def listen(ctx: FlowContext) -> Heard:
    """A listener on the kiosk's fleet channel, from now on."""
    heard = Heard()
    ctx.fleet_channel.listen(heard)
    return heard
