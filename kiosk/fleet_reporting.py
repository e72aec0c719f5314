"""The kiosk's business reports to the fleet, in one place: transaction summaries (found in the
journal every few seconds, or at once when asked), evaluations and application decisions. Each
is staged durably in the fleet outbox before its call returns; the agent sends it once.
FleetLink owns one and offers its calls as report_transaction / report_evaluation /
report_application_update."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from kiosk.catalog import Catalog
from kiosk.fleet_agent import FleetAgent
from kiosk.fleet_report_outbox import ReportKind, StagedReport
from kiosk.fleet_tx_reports import JournalReporter
from kiosk.journal import Journal
from wire.reports import ApplicationStatus, ApplicationUpdate, EvaluationReport

log = logging.getLogger(__name__)


class FleetReporting:
    """Stages the kiosk's reports; scans the journal every `scan_interval_s` once started."""

    def __init__(
        self,
        journal: Journal,
        catalog: Callable[[], Catalog | None],
        agent: FleetAgent,
        scan_interval_s: float,
    ) -> None:
        self.agent = agent
        self.journal_reporter = JournalReporter(journal, catalog, agent)
        self.scan_interval_s = scan_interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self.agent.tasks.keep_running("fleet-reports", self._keep_scanning)

    def cancel(self) -> None:
        """Stop scanning at once (the process is dying)."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self, last_scan: bool) -> None:
        """Stop scanning; with `last_scan`, report what ended in the run's last moments."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if last_scan:
            await self.scan()

    async def scan(self) -> int:
        try:
            return await self.journal_reporter.scan()
        except Exception:  # a failed pass must not end reporting; the next one retries
            log.exception("transaction reports: journal scan failed")
            return 0

    async def _keep_scanning(self) -> None:
        while True:
            await self.scan()
            await asyncio.sleep(self.scan_interval_s)

    async def transaction(self, tx_id: str) -> bool:
        return await self.journal_reporter.report(tx_id)

    async def evaluation(
        self,
        evaluation_id: str,
        item_code: str,
        level: int,
        rated_at: float,
        tx_id: str = "",
        tags: Sequence[str] = (),
        agent_assisted: bool = False,
    ) -> None:
        report = EvaluationReport(
            evaluation_id, item_code, level, rated_at, tx_id, tuple(tags), agent_assisted
        )
        payload = EvaluationReport.from_json(report.to_json()).to_json()  # refuses bad input
        # An evaluation never changes once given: staged again, it stays sent.
        await self.agent.stage_reports(
            [StagedReport(ReportKind.EVALUATION, evaluation_id, "given", payload)]
        )

    async def application_update(self, tx_id: str, status: ApplicationStatus, at: float) -> None:
        payload = ApplicationUpdate(tx_id, status, at).to_json()
        del payload["revision"]  # the outbox gives it
        key = f"{status.value}|{at!r}"
        await self.agent.stage_reports([StagedReport(ReportKind.APPLICATION, tx_id, key, payload)])
