"""The A4 printer for certificates: an IPP Everywhere printer on the network, on its own worker
thread. Health comes from the printer's own printer-state and printer-state-reasons (media
empty, door open, jam, toner low or empty); a print is a job submitted and then followed to
its final state, so "printed" means the printer said the job completed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from drivers.ipp import IppError, IppFailure, IppPrinter, JobState, JobStatus, PrinterState
from drivers.ipp import PrinterStatus as IppStatus
from peripherals.base import DeviceService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceHealth, DeviceStatus, Supply, SupplyLevel, SupplyReading

log = logging.getLogger(__name__)

DEVICE = "a4_printer"

# printer-state-reasons keywords (RFC 8011 §5.4.12, PWG 5100.9) by what they stop, worst first.
_FAULTS = (
    (("door-open", "cover-open", "interlock-open"), DeviceReason.COVER_OPEN),
    (("media-jam",), DeviceReason.JAM),
    (("media-empty", "media-needed"), DeviceReason.PAPER_OUT),
    (("toner-empty", "marker-supply-empty"), DeviceReason.TONER_EMPTY),
)
_WARNINGS = (
    (("toner-low", "marker-supply-low"), DeviceReason.TONER_LOW),
    (("media-low",), DeviceReason.PAPER_NEAR_END),
)


def health_of(status: IppStatus) -> tuple[DeviceHealth, DeviceReason | None]:
    for keywords, reason in _FAULTS:
        if any(status.has(k) for k in keywords):
            return DeviceHealth.FAULT, reason
    if status.state is PrinterState.STOPPED or not status.accepting:
        return DeviceHealth.FAULT, DeviceReason.PRINTER_OFFLINE
    for keywords, reason in _WARNINGS:
        if any(status.has(k) for k in keywords):
            return DeviceHealth.DEGRADED, reason
    return DeviceHealth.OK, None


def supplies_of(status: IppStatus) -> dict[Supply, SupplyReading]:
    paper = SupplyLevel.OUT if status.has("media-empty") or status.has("media-needed") else \
        SupplyLevel.LOW if status.has("media-low") else SupplyLevel.OK
    supplies = {Supply.PAPER: SupplyReading(paper)}
    if "toner" in status.supplies:
        toner = SupplyLevel.OUT if status.has("toner-empty") or status.has(
            "marker-supply-empty") else SupplyLevel.LOW if status.has("toner-low") or status.has(
            "marker-supply-low") else SupplyLevel.OK
        supplies[Supply.TONER] = SupplyReading(toner, status.supplies["toner"])
    return supplies


@dataclass(frozen=True)
class PrintedJob:
    job_id: int
    pages: int
    seconds: float


class A4PrinterService(DeviceService):
    """One IPP printer at `uri` on its own worker thread."""

    kind = "ipp_printer"

    def __init__(self, uri: str, *, name: str = DEVICE, timeout: float = 5.0,
                 poll_s: float = 0.3) -> None:
        self.uri = uri
        self.poll_s = poll_s
        self.printer = IppPrinter(uri)
        self.printer.transport.timeout = timeout
        super().__init__(name, uri)

    # -- printing ---------------------------------------------------------------------------

    async def submit(self, pdf: bytes, job_name: str) -> int:
        """Hands one PDF to the printer; returns its job-id (DeviceError if it refused)."""
        status = await self.refresh()
        if not status.health.usable:
            raise DeviceError(self.name, status.reason or DeviceReason.PRINTER_OFFLINE,
                              "not ready")
        return await self._worker.call(self._submit, pdf, job_name)

    async def wait(self, job_id: int, timeout_s: float = 120.0) -> PrintedJob:
        """Follows job `job_id` to its end: PrintedJob when completed, DeviceError when the
        printer aborted or cancelled it (with the printer's reason), or it took too long."""
        started = time.monotonic()
        while True:
            job = await self._worker.call(self._job, job_id)
            if job.state is JobState.COMPLETED:
                self._keeper.count("pages_printed", max(job.pages, 1))
                return PrintedJob(job_id, job.pages, time.monotonic() - started)
            if job.state.final:
                status = await self.refresh()
                reason = status.reason if status.reason and not status.health.usable \
                    else DeviceReason.JOB_ABORTED
                self._keeper.count("jobs_failed")
                raise DeviceError(self.name, reason, f"job {job_id} {job.state.name.lower()} "
                                  f"{','.join(job.reasons)}")
            if time.monotonic() - started > timeout_s:
                raise DeviceError(self.name, DeviceReason.TIMEOUT, f"job {job_id} still "
                                  f"{job.state.name.lower()}")
            await asyncio.sleep(self.poll_s)

    async def job_state(self, job_id: int) -> JobStatus:
        """What the printer says of a job now (recovery asks this of a job it journaled)."""
        return await self._worker.call(self._job, job_id)

    # -- on the worker thread ---------------------------------------------------------------

    def _refresh(self) -> DeviceStatus:
        try:
            state = self.printer.status()
        except IppError as exc:
            return self._record_failure(exc)
        if state.make_and_model:
            self._keeper.set_identity(f"{state.make_and_model} {self.uri}")
        health, reason = health_of(state)
        return self._answered(health, reason, supplies_of(state),
                              {"media": ",".join(state.media_ready) or "none"})

    def _record_failure(self, exc: IppError) -> DeviceStatus:
        if exc.failure is IppFailure.UNREACHABLE:
            return self._lost(DeviceReason.PRINTER_OFFLINE, supplies={}, readings={})
        return self._faulty(DeviceReason.GARBLED_RESPONSE)

    def _submit(self, pdf: bytes, job_name: str) -> int:
        try:
            job_id = self.printer.print_job(pdf, job_name)
        except IppError as exc:
            self._record_failure(exc)
            reason = DeviceReason.PRINTER_OFFLINE if exc.failure is IppFailure.UNREACHABLE \
                else DeviceReason.JOB_ABORTED
            raise DeviceError(self.name, reason, str(exc)) from exc
        self._keeper.count("jobs_submitted")
        return job_id

    def _job(self, job_id: int) -> JobStatus:
        try:
            return self.printer.job(job_id)
        except IppError as exc:
            self._record_failure(exc)
            raise DeviceError(self.name, DeviceReason.PRINTER_OFFLINE, str(exc)) from exc
