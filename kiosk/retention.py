"""Retention: nothing the kiosk writes grows for years. Between citizens, ended transactions
older than [retention] journal_days are folded into per-day totals, old log files beyond the
kept ones, refused ratings past their time, the voice cache over its size and temporary files a
crash left are removed. The free space of the state folder's disk is a health input: low, the
fleet is warned (device "storage", supply "disk_space"); nearly full, the kiosk stops taking
citizens so the journal can always write.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.config import KioskConfig
from kiosk.logs import rotated_logs
from kiosk.tasks import TaskSupervisor

if TYPE_CHECKING:
    from kiosk.flow import FlowContext
    from kiosk.session import KioskSession
    from kiosk.transaction import TransactionCore
    from wire.fleet import DeviceStatus

log = logging.getLogger(__name__)

DAY_S = 86400.0
# A transaction leaves the journal only after the fleet reporter's first look-back could have
# reported it (a kiosk enrolled late reports kiosk.fleet_tx_reports.BACKFILL_S of its past;
# tests/kiosk/test_retention.py holds the two together, so that the fleet's modules are not
# imported at start-up for one number).
MIN_JOURNAL_DAYS = 32.0
STALE_TEMP_S = 3600.0  # a temporary file this old was left by a crash, not being written
STORAGE_DEVICE = "storage"
DISK_SUPPLY = "disk_space"


class DiskLevel(StrEnum):
    OK = "ok"
    LOW = "low"    # the fleet is warned; the kiosk serves on
    FULL = "full"  # below the stop mark: no new citizen until space is freed


@dataclass(frozen=True)
class DiskReading:
    free_mb: float
    level: DiskLevel


def read_disk(path: Path, warn_free_mb: float, stop_free_mb: float) -> DiskReading:
    """Free space of the disk holding `path` (blocking: a statvfs)."""
    path.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(path).free / 1e6
    if free_mb < stop_free_mb:
        return DiskReading(free_mb, DiskLevel.FULL)
    return DiskReading(free_mb, DiskLevel.LOW if free_mb < warn_free_mb else DiskLevel.OK)


def storage_status(reading: DiskReading | None) -> DeviceStatus:
    """The disk as the fleet sees it: low space is a low supply (an alert long before it stops
    the kiosk), a full disk a fault."""
    from wire.fleet import DeviceHealth, DeviceStatus, Supply, SupplyLevel  # fleet only

    if reading is None:
        return DeviceStatus(STORAGE_DEVICE, DeviceHealth.OK)
    level = {DiskLevel.OK: SupplyLevel.OK, DiskLevel.LOW: SupplyLevel.LOW,
             DiskLevel.FULL: SupplyLevel.EMPTY}[reading.level]
    health = DeviceHealth.FAULT if reading.level is DiskLevel.FULL else DeviceHealth.OK
    reason = "disk_full" if reading.level is DiskLevel.FULL else ""
    return DeviceStatus(STORAGE_DEVICE, health, reason,
                        (Supply(DISK_SUPPLY, level, int(reading.free_mb)),))


@dataclass
class RetentionReport:
    """What one retention pass removed."""

    transactions_folded: int = 0
    log_files_removed: int = 0
    refused_ratings_removed: int = 0
    voice_files_removed: int = 0
    temp_files_removed: int = 0
    complete: bool = True  # False: a citizen arrived and the journal's folding waits

    def as_json(self) -> dict[str, int | bool]:
        return asdict(self)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def prune_logs(log_dir: Path, keep_files: int) -> int:
    """Rotated kiosk.log.N beyond the kept count (left by a larger setting or a crash)."""
    removed = 0
    for number, path in rotated_logs(log_dir):
        if number > keep_files:
            removed += _remove(path)
    return removed


def prune_cache(folder: Path, max_bytes: int) -> int:
    """Oldest files first until the folder holds at most `max_bytes`."""
    if not folder.is_dir():
        return 0
    files = []
    for path in folder.iterdir():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    removed = 0
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        if _remove(path):
            removed += 1
        total -= size
    return removed


def prune_temp_files(folders: list[Path], now: float) -> int:
    """`*.tmp` files (the catalog cache's, the voice cache's) that a crash left behind."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.glob("*.tmp"):
            try:
                old = now - path.stat().st_mtime > STALE_TEMP_S
            except FileNotFoundError:
                continue
            if old:
                removed += _remove(path)
    return removed


def prune_outbox(state_dir: Path, before: float) -> int:
    """Refused submissions (ratings among them) and delivered keys older than `before`."""
    from kiosk.outbox import OUTBOX_FILE, Outbox  # the flow's steps: not at start-up

    if not (state_dir / OUTBOX_FILE).exists():
        return 0
    outbox = Outbox(state_dir)
    try:
        return outbox.forget_ended(before)
    finally:
        outbox.close()


class Housekeeper:
    """Runs retention and reads the disk, between citizens only."""

    def __init__(self, config: KioskConfig, transactions: TransactionCore,
                 is_busy: Callable[[], bool], on_disk: Callable[[DiskReading], None] | None = None,
                 tasks: TaskSupervisor | None = None) -> None:
        self.config = config
        self.tasks = tasks or TaskSupervisor()  # the kiosk's (FlowContext.tasks) when it runs
        self.transactions = transactions  # the journal's one writer folds it
        self.is_busy = is_busy
        self.on_disk = on_disk
        self.disk: DiskReading | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def status(self) -> DeviceStatus:
        return storage_status(self.disk)

    async def check_disk(self) -> DiskReading:
        keep = self.config.retention
        reading = await asyncio.to_thread(read_disk, self.config.state_dir,
                                          keep.disk_warn_free_mb, keep.disk_stop_free_mb)
        changed = self.disk is None or reading.level is not self.disk.level
        if changed:
            if reading.level is not DiskLevel.OK:
                log.warning("disk space %s: %.0f MB free", reading.level.value, reading.free_mb,
                            extra={"device": STORAGE_DEVICE, "reason": reading.level.value})
            if self.on_disk is not None:
                self.on_disk(reading)
        # Only once told: a change whose telling failed is told again on the next check.
        self.disk = reading
        return reading

    async def run_once(self, now: float | None = None) -> RetentionReport:
        """One retention pass; the journal is folded in batches, and only while no citizen is
        being served (the journal's connection belongs to the loop's thread)."""
        now = time.time() if now is None else now
        keep = self.config.retention
        report = RetentionReport()
        days = max(keep.journal_days, MIN_JOURNAL_DAYS)
        while True:
            if self.is_busy():
                report.complete = False
                break
            folded = self.transactions.fold_ended(now - days * DAY_S, max(1, keep.journal_batch))
            report.transactions_folded += folded
            if folded < keep.journal_batch:
                break
            await asyncio.sleep(0)  # a touch on the screen is served between batches
        await asyncio.to_thread(self._prune_files, now, report)
        if any(value for key, value in report.as_json().items() if key != "complete"):
            log.info("retention: %s", report.as_json())
        return report

    def _prune_files(self, now: float, report: RetentionReport) -> None:
        keep = self.config.retention
        state = self.config.state_dir
        report.log_files_removed = prune_logs(self.config.log_dir, keep.log_files)
        report.refused_ratings_removed = prune_outbox(
            state, now - keep.refused_ratings_days * DAY_S)
        report.temp_files_removed = prune_temp_files([state, state / "voice"], now)
        report.voice_files_removed = prune_cache(state / "voice",
                                                 int(keep.voice_cache_mb * 1e6))

    async def _retention_loop(self) -> None:
        while True:
            if not self.is_busy():
                try:
                    if (await self.run_once()).complete:
                        await asyncio.sleep(self.config.retention.interval_s)
                        continue
                except Exception:
                    log.exception("retention pass failed")
            await asyncio.sleep(min(5.0, self.config.retention.interval_s))

    async def _disk_loop(self) -> None:
        while True:
            try:
                await self.check_disk()
            except OSError:
                log.exception("free space not read")
            await asyncio.sleep(self.config.retention.disk_check_s)

    def start(self) -> None:
        self._tasks = [self.tasks.keep_running("housekeeping-disk", self._disk_loop),
                       self.tasks.keep_running("housekeeping-retention", self._retention_loop)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def start_housekeeping(ctx: FlowContext, session: KioskSession) -> Housekeeper:
    """Retention and the disk watermark for a running kiosk (a FlowContext and its
    KioskSession): a nearly full disk takes it out of service, and a change of the disk's level
    is told to the fleet at once (kiosk.fleet_channel: a heartbeat now, when a link runs)."""

    def on_disk(reading: DiskReading) -> None:
        session.set_disk_full(reading.level is DiskLevel.FULL)
        ctx.fleet_channel.changed()

    housekeeper = Housekeeper(ctx.config, ctx.transactions, lambda: session.busy,
                              on_disk=on_disk, tasks=ctx.tasks)
    housekeeper.start()
    return housekeeper
