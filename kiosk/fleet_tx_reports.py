"""Transaction summaries for the fleet, derived from the journal's read API alone.

Whatever code writes the journal, a transaction that reached an end (a final state, or left
unsettled: needs_attention, or waiting with a reason after its flow ended) is summarised here
and staged in the fleet outbox; if it settles later, its new summary replaces the old one.
`JournalReporter.scan()` runs every few seconds on the event loop (the journal's thread): it
reads the transactions created since its cursor (minus a margin for a clock stepped back), the
unfinished ones, and the ones it last saw unfinished (remembered on disk, so a transaction that
recovery settled before this process's link started is still reported). The first scans on a
kiosk look back BACKFILL_S, a day per scan, so the loop never reads much at once; meanwhile the
newest RECENT transactions are read on every scan, so today's are not kept waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kiosk.catalog import Catalog
from kiosk.fleet_report_outbox import ReportCursor, ReportKind, StagedReport
from kiosk.journal import FINAL_STATES, Journal, Transaction, TxState
from wire.fleet import WireError
from wire.reports import DayUnit, TransactionOutcome, TransactionSummary

log = logging.getLogger(__name__)

MARGIN_S = 300.0  # transactions created this long before the cursor are read again
BACKFILL_S = 31 * 86400.0  # how far back a kiosk's first scan reports
STEP_S = 86400.0  # at most this much of the journal's past per scan
RECENT = 20
# The cursor is written when its watched list changes or reports are staged, else at most this
# often: a kiosk does not write its disk every few seconds to say that nothing happened. A crash
# only means reading this much again (what was staged is not staged twice).
PERSIST_EVERY_S = 60.0

_OUTCOMES = {
    TxState.CLOSED: TransactionOutcome.COMPLETED,
    TxState.CANCELLED: TransactionOutcome.CANCELLED,
    TxState.REFUNDED: TransactionOutcome.REFUNDED,
}


class ReportSink(Protocol):
    """Where staged reports go (the fleet agent)."""

    async def report_cursor(self) -> ReportCursor: ...

    async def stage_reports(
        self, reports: list[StagedReport], cursor: ReportCursor | None = None
    ) -> int: ...


def _ended(tx: Transaction) -> bool:
    """Final, or not settled after its flow ended: needs_attention, or (the transaction core)
    waiting to be settled again with the reason why."""
    return (
        tx.state in FINAL_STATES
        or tx.state is TxState.NEEDS_ATTENTION
        or bool(getattr(tx, "attention", None))
    )


def _time_limit(catalog: Catalog | None, code: str) -> tuple[int, DayUnit, str]:
    """The item's promised time limit and its name (zh), if the catalog still has the item."""
    if catalog is None:
        return 0, DayUnit.WORKING_DAYS, ""
    try:
        item = catalog.item(code)
    except KeyError:
        return 0, DayUnit.WORKING_DAYS, ""
    name = item.name.get("zh") or next(iter(item.name.values()), "")
    # Catalog schema 2 states the unit; schema 1 has only days, which the published standard
    # counts in working days.
    # Any: a schema-2 item's TimeLimit, or nothing on a schema-1 item.
    limit: Any = getattr(item, "time_limit", None)
    if limit is not None:
        return int(limit.promised), DayUnit(str(getattr(limit.unit, "value", limit.unit))), name
    return int(item.time_limit_days), DayUnit.WORKING_DAYS, name


# (from state, to state, reason, at): kiosk.journal.Journal.timeline's rows.
TimelineRow = tuple[str | None, str, str | None, float]


def _money(tx: Transaction, timeline: Sequence[TimelineRow]) -> tuple[int, int]:
    """(taken, given back) in fen. The transaction core journals each order's payment and each
    refund (it may refund a part); where those records are missing (an older journal), the whole
    amount was paid once the transaction reached `paid`, and refunded in full when `refunded`."""
    paid = sum(int(o.paid_fen) for o in getattr(tx, "orders", ()))
    if not paid and any(step[1] == TxState.PAID.value for step in timeline):
        paid = tx.amount_fen or 0
    refunds = tuple(getattr(tx, "refunds", ()))
    if refunds:
        refunded = sum(int(r.amount_fen) for r in refunds if r.done)
    else:
        refunded = paid if tx.state is TxState.REFUNDED else 0
    return paid, min(refunded, paid)


def summarize(
    tx: Transaction, timeline: Sequence[TimelineRow], catalog: Catalog | None
) -> TransactionSummary | None:
    """The fleet's summary of a transaction that reached an end; None while it runs."""
    if not _ended(tx):
        return None
    taken, refunded = _money(tx, timeline)
    days, unit, name = _time_limit(catalog, tx.service)
    submitted = [step[3] for step in timeline if step[1] == TxState.SUBMITTED.value]
    last_reason = timeline[-1][2] if timeline else None
    reason = getattr(tx, "attention", None) or last_reason or ""
    return TransactionSummary(
        tx_id=tx.tx_id,
        item_code=tx.service,
        outcome=_OUTCOMES.get(tx.state, TransactionOutcome.UNSETTLED),
        revision=1,  # the outbox gives the real one when it sends
        started_at=tx.created_at,
        ended_at=timeline[-1][3] if timeline else tx.updated_at,
        amount_fen=taken,
        refunded_fen=refunded,
        agent_assisted=bool(tx.agent_id),
        agent_id=tx.agent_id,
        time_limit_days=days,
        time_limit_unit=unit,
        submitted_at=submitted[0] if submitted else None,
        item_name=name[:100],
        reason=str(reason)[:100],
    )


def _view_key(tx: Transaction) -> str:
    """Changes whenever anything a summary says may have changed."""
    return f"{tx.state.value}|{tx.updated_at!r}|{getattr(tx, 'attention', None) or ''}"


class JournalReporter:
    """Stages a summary of every transaction that reached an end, once per change of it."""

    def __init__(
        self,
        journal: Journal,
        catalog: Callable[[], Catalog | None],
        sink: ReportSink,
        margin_s: float = MARGIN_S,
    ) -> None:
        self.journal = journal
        self.catalog = catalog
        self.sink = sink
        self.margin_s = margin_s
        self._cursor: ReportCursor | None = None
        self._persisted: ReportCursor | None = None
        self._seen: dict[str, str] = {}  # tx id -> view key staged by this process
        self._one_at_a_time = asyncio.Lock()  # a scan and a report() never interleave

    def _staged(self, tx: Transaction) -> StagedReport | None:
        key = _view_key(tx)
        if self._seen.get(tx.tx_id) == key:
            return None
        summary = summarize(tx, self.journal.timeline(tx.tx_id), self.catalog())
        if summary is None:
            return None
        payload = summary.to_json()
        try:
            TransactionSummary.from_json(payload)
        except WireError as exc:
            # E.g. an item code the wire cannot carry: one bad summary must not hold up others.
            log.error(
                "transaction summary does not fit the wire",
                extra={"transaction": tx.tx_id, "reason": str(exc)},
            )
            self._seen[tx.tx_id] = key  # not again until it changes
            return None
        del payload["revision"]
        return StagedReport(ReportKind.TRANSACTION, tx.tx_id, key, payload)

    async def report(self, tx_id: str) -> bool:
        """Stage this transaction's summary now (e.g. as its settling ends); True if it reached
        an end and its summary was staged anew (False: running, or already staged as it is)."""
        async with self._one_at_a_time:
            try:
                tx = self.journal.get(tx_id)
            except KeyError:
                return False
            report = self._staged(tx)
            if report is None:
                return False
            staged = await self.sink.stage_reports([report])
            self._seen[tx.tx_id] = report.key
            return staged > 0

    def _worth_persisting(self, cursor: ReportCursor) -> bool:
        last = self._persisted
        return (
            last is None
            or last.scan_from is None
            or cursor.watched != last.watched
            or (cursor.scan_from or 0.0) - last.scan_from >= PERSIST_EVERY_S
        )

    async def scan(self, now: float | None = None) -> int:
        """One pass over the journal; returns how many summaries were staged anew."""
        async with self._one_at_a_time:
            return await self._scan(time.time() if now is None else now)

    async def _scan(self, now: float) -> int:
        if self._cursor is None:
            self._cursor = self._persisted = await self.sink.report_cursor()
        cursor = self._cursor
        start = cursor.scan_from if cursor.scan_from is not None else now - BACKFILL_S
        end = min(now, start + STEP_S)
        candidates: dict[str, Transaction] = {
            tx.tx_id: tx for tx in self.journal.between(start - self.margin_s, end)
        }
        if end < now:  # still looking back: today's must not wait for it
            candidates.update((tx.tx_id, tx) for tx in self.journal.recent(RECENT))
        unfinished = self.journal.unfinished()
        candidates.update((tx.tx_id, tx) for tx in unfinished)
        for tx_id in cursor.watched - candidates.keys():
            try:
                candidates[tx_id] = self.journal.get(tx_id)
            except KeyError:  # gone from the journal (retention): nothing left to report
                log.info("watched transaction left the journal", extra={"transaction": tx_id})
        reports = [r for r in map(self._staged, candidates.values()) if r is not None]
        moved = ReportCursor(end, {tx.tx_id for tx in unfinished})
        staged = 0
        if reports or self._worth_persisting(moved):
            staged = await self.sink.stage_reports(reports, moved)
            self._persisted = moved
        self._cursor = moved
        for report in reports:
            self._seen[report.ref] = report.key
        # Forget what can no longer come back: older than the margin and not unfinished.
        for tx_id in [t for t in self._seen if t not in candidates]:
            del self._seen[tx_id]
        return staged
