"""Kiosks' business reports taken into the fleet store, each counted once, and the rollups.

Guarantees, on SQLite and PostgreSQL alike, with any number of server processes:
- A transaction summary is stored once per (kiosk, tx id). A resend of the same revision, or an
  older one arriving late, changes nothing. A higher revision (a transaction left unsettled that
  settled later) replaces the fact, and its old contribution to the rollups is taken out in the
  same database transaction as the new one is put in, so no figure counts it twice or not at all.
  On PostgreSQL the insert waits for any concurrent insert of the same key, and the update reads
  the fact FOR UPDATE, so two requests carrying the same summary are serialised.
- An evaluation is counted once per (kiosk, evaluation id); an application's decision keeps its
  highest revision.
- Rollup rows (per day and per month; per kiosk, item and place, and per site and item with
  kiosk_id SITE_ROW) are changed in key order, after all facts of a batch, so concurrent batches
  never wait on each other in a cycle.

A transaction counts on the day it started (server's local calendar), so its later settling
corrects that day's figures. A time stamp a kiosk's clock cannot have meant (more than a day
ahead, or older than a year) is taken as the moment the report arrived.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from fleet.db import Connection, Database
from fleet.kiosk_reports import day_of
from fleet.supervision import deadline_and_warning
from wire.fields import JsonObject
from wire.reports import (
    ApplicationUpdate,
    EvaluationReport,
    ReportBatch,
    TransactionOutcome,
    TransactionSummary,
)

SITE_ROW = ""  # stat_rollup's kiosk_id for a site's sum over its kiosks
GOOD_LEVEL = 3  # 好评: basic satisfaction and above; the two lowest levels are 差评
MEASURES = (
    "transactions",
    "completed",
    "cancelled",
    "refunded",
    "unsettled",
    "amount_fen",
    "refunded_fen",
    "refunds",
    "agent_assisted",
    "completed_s",
    "evaluations",
    "evaluations_good",
    "evaluation_levels",
)
_FACT_COLUMNS = (
    "kiosk_id, tx_id, revision, item_code, outcome, amount_fen, refunded_fen, started_at,"
    " ended_at, day, region, site, agent_assisted, reason, time_limit_days, time_limit_unit,"
    " submitted_at, deadline_at, yellow_at, received_at, agent_id"
)
_UPSERT_ROLLUP = (
    f"INSERT INTO stat_rollup (grain, kiosk_id, period, item_code, region, site,"
    f" {', '.join(MEASURES)}) VALUES ({', '.join(f'${i}' for i in range(1, 7 + len(MEASURES)))})"
    " ON CONFLICT (grain, kiosk_id, period, item_code, region, site) DO UPDATE SET "
    + ", ".join(f"{m} = stat_rollup.{m} + excluded.{m}" for m in MEASURES)
)


@dataclass(frozen=True)
class ReportResult:
    new: int = 0
    updated: int = 0
    duplicates: int = 0

    def to_json(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "duplicates": self.duplicates}


def plausible(t: float, now: float) -> float:
    """A kiosk's time stamp, or `now` when its clock cannot have meant it."""
    return t if now - 400 * 86400 <= t <= now + 86400 else now


def _fact(kiosk_id: str, place: JsonObject, s: TransactionSummary, now: float) -> JsonObject:
    # A row of transaction_facts, in the shape the database hands rows back (Any per column).
    started = plausible(s.started_at, now)
    deadline = warning = None
    supervised = s.time_limit_days > 0 and s.submitted_at is not None
    if supervised and s.outcome in (TransactionOutcome.COMPLETED, TransactionOutcome.UNSETTLED):
        assert s.submitted_at is not None
        deadline, warning = deadline_and_warning(
            plausible(s.submitted_at, now), s.time_limit_days, s.time_limit_unit
        )
    return {
        "kiosk_id": kiosk_id,
        "tx_id": s.tx_id,
        "revision": s.revision,
        "item_code": s.item_code,
        "outcome": s.outcome.value,
        "amount_fen": s.amount_fen,
        "refunded_fen": s.refunded_fen,
        "started_at": started,
        "ended_at": plausible(s.ended_at, now),
        "day": day_of(started),
        "region": place["region"],
        "site": place["site"],
        "agent_assisted": 1 if s.agent_assisted or s.agent_id else 0,
        "reason": s.reason,
        "time_limit_days": s.time_limit_days,
        "time_limit_unit": s.time_limit_unit.value,
        "submitted_at": plausible(s.submitted_at, now) if s.submitted_at is not None else None,
        "deadline_at": deadline,
        "yellow_at": warning,
        "received_at": now,
        "agent_id": s.agent_id,
    }


def _contribution(fact: JsonObject) -> dict[str, float]:
    """What one transaction fact adds to its rollup rows."""
    outcome = fact["outcome"]
    completed = outcome == TransactionOutcome.COMPLETED.value
    return {
        "transactions": 1,
        "completed": int(completed),
        "cancelled": int(outcome == TransactionOutcome.CANCELLED.value),
        "refunded": int(outcome == TransactionOutcome.REFUNDED.value),
        "unsettled": int(outcome == TransactionOutcome.UNSETTLED.value),
        "amount_fen": fact["amount_fen"],
        "refunded_fen": fact["refunded_fen"],
        "refunds": int(fact["refunded_fen"] > 0),
        "agent_assisted": int(bool(fact["agent_assisted"])),
        "completed_s": max(0.0, fact["ended_at"] - fact["started_at"]) if completed else 0.0,
    }


class RollupDelta:
    """Changes to rollup rows collected over one batch, applied in key order at its end."""

    def __init__(self) -> None:
        # (grain, kiosk_id or SITE_ROW, period, item, region, site) -> measures to add
        self.rows: dict[tuple[str, str, str, str, str, str], dict[str, float]] = {}

    def add(self, day: str, kiosk_id: str, item: str, region: str, site: str, sign: int,
            measures: Mapping[str, float]) -> None:  # fmt: skip
        for grain, period in (("day", day), ("month", day[:7])):
            for who in (kiosk_id, SITE_ROW):
                row = self.rows.setdefault((grain, who, period, item, region, site), {})
                for name, value in measures.items():
                    row[name] = row.get(name, 0) + sign * value

    async def apply(self, tx: Connection) -> None:
        batch = []
        for key in sorted(self.rows):
            measures = self.rows[key]
            if any(measures.values()):
                batch.append((*key, *(measures.get(m, 0) for m in MEASURES)))
        if batch:
            await tx.executemany(_UPSERT_ROLLUP, batch)


class ReportIngest:
    """The business-report half of the fleet store (mixed into FleetStore)."""

    db: Database

    async def record_reports(self, batch: ReportBatch, now: float | None = None) -> ReportResult:
        """Take one kiosk's reports in; raises KeyError for a kiosk the fleet does not know."""
        now = time.time() if now is None else now
        new = updated = duplicates = 0
        delta = RollupDelta()
        async with self.db.transaction() as tx:
            place = await tx.fetchrow(
                "SELECT region, site FROM kiosks WHERE kiosk_id = $1", batch.kiosk_id
            )
            if place is None:
                raise KeyError(batch.kiosk_id)
            for summary in sorted(batch.transactions, key=lambda s: s.tx_id):
                outcome = await self._summary(tx, _fact(batch.kiosk_id, place, summary, now), delta)
                new, updated, duplicates = (
                    new + (outcome == "new"),
                    updated + (outcome == "updated"),
                    duplicates + (outcome == "duplicate"),
                )
            for evaluation in sorted(batch.evaluations, key=lambda e: e.evaluation_id):
                if await self._evaluation(tx, batch.kiosk_id, place, evaluation, now, delta):
                    new += 1
                else:
                    duplicates += 1
            for update in sorted(batch.applications, key=lambda a: a.tx_id):
                if await self._decision(tx, batch.kiosk_id, update, now):
                    updated += 1
                else:
                    duplicates += 1
            await self._item_names(tx, batch.transactions)
            await delta.apply(tx)
        return ReportResult(new, updated, duplicates)

    async def _summary(self, tx: Connection, fact: JsonObject, delta: RollupDelta) -> str:
        placeholders = ", ".join(f"${i}" for i in range(1, len(fact) + 1))
        inserted = await tx.execute(
            f"INSERT INTO tx_facts ({_FACT_COLUMNS}) VALUES ({placeholders})"
            " ON CONFLICT (kiosk_id, tx_id) DO NOTHING",
            *fact.values(),
        )
        if inserted:
            self._count(delta, fact, +1)
            return "new"
        lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
        old = await tx.fetchrow(
            f"SELECT {_FACT_COLUMNS} FROM tx_facts WHERE kiosk_id = $1 AND tx_id = $2{lock}",
            fact["kiosk_id"],
            fact["tx_id"],
        )
        assert old is not None
        if old["revision"] >= fact["revision"]:
            return "duplicate"
        changed = {k: v for k, v in fact.items() if k not in ("kiosk_id", "tx_id")}
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changed, start=3))
        await tx.execute(
            f"UPDATE tx_facts SET {sets} WHERE kiosk_id = $1 AND tx_id = $2",
            fact["kiosk_id"],
            fact["tx_id"],
            *changed.values(),
        )
        self._count(delta, old, -1)
        self._count(delta, fact, +1)
        return "updated"

    @staticmethod
    def _count(delta: RollupDelta, fact: JsonObject, sign: int) -> None:
        delta.add(
            fact["day"],
            fact["kiosk_id"],
            fact["item_code"],
            fact["region"],
            fact["site"],
            sign,
            _contribution(fact),
        )

    async def _evaluation(
        self,
        tx: Connection,
        kiosk_id: str,
        place: JsonObject,
        e: EvaluationReport,
        now: float,
        delta: RollupDelta,
    ) -> bool:
        rated = plausible(e.rated_at, now)
        day = day_of(rated)
        inserted = await tx.execute(
            "INSERT INTO evaluations (kiosk_id, evaluation_id, tx_id, item_code, level, tags,"
            " rated_at, day, agent_assisted, received_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (kiosk_id, evaluation_id) DO NOTHING",
            kiosk_id,
            e.evaluation_id,
            e.tx_id,
            e.item_code,
            e.level,
            json.dumps(list(e.tags)),
            rated,
            day,
            1 if e.agent_assisted else 0,
            now,
        )
        if inserted:
            measures = {
                "evaluations": 1,
                "evaluations_good": int(e.level >= GOOD_LEVEL),
                "evaluation_levels": e.level,
            }
            delta.add(day, kiosk_id, e.item_code, place["region"], place["site"], 1, measures)
        return bool(inserted)

    async def _decision(
        self, tx: Connection, kiosk_id: str, update: ApplicationUpdate, now: float
    ) -> bool:
        changed = await tx.execute(
            "INSERT INTO app_decisions (kiosk_id, tx_id, status, decided_at, revision)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kiosk_id, tx_id) DO UPDATE SET"
            " status = excluded.status, decided_at = excluded.decided_at,"
            " revision = excluded.revision WHERE app_decisions.revision < excluded.revision",
            kiosk_id,
            update.tx_id,
            update.status.value,
            plausible(update.at, now),
            update.revision,
        )
        return bool(changed)

    async def _item_names(self, tx: Connection, summaries: tuple[TransactionSummary, ...]) -> None:
        names = {s.item_code: s.item_name for s in summaries if s.item_name}
        for code in sorted(names):
            await tx.execute(
                "INSERT INTO service_items (item_code, name) VALUES ($1, $2)"
                " ON CONFLICT (item_code) DO UPDATE SET name = excluded.name"
                " WHERE service_items.name <> excluded.name",
                code,
                names[code],
            )
