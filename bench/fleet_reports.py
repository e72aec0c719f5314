"""What operators' reports cost at province scale, on the fleet store (SQLite by default).

Fills the rollups as 100,000 kiosks (2,000 sites) of 8 service items would have them after a
month (one row per kiosk and item for the month; one per kiosk, item and day for one region's
2,000 kiosks; and each site's sums),
then times the statistics the dashboard asks for: the month fleet-wide, per item, per region,
one region's days, one kiosk's days. Also how many transaction summaries per second the store
takes in (each a fact and its day and month rollup rows, in batches of 50 as kiosks send them).
Prints {"month_fleet_total_ms", "month_by_item_ms", "month_by_region_ms", "region_days_ms",
"kiosk_days_ms", "summaries_per_s", ...} last.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from fleet.app import open_store
from fleet.config import FleetConfig
from fleet.kiosk_reports import day_of
from fleet.statistics import Grain, GroupBy, StatsQuery
from fleet.tx_facts import MEASURES
from wire.reports import ReportBatch, TransactionOutcome, TransactionSummary

KIOSKS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ITEMS = [f"442000-XX-{i:04d}" for i in range(8)]
REGIONS = 50  # 2,000 kiosks each at 100,000
SITES_PER_REGION = 40
DAYS = 30
SUMMARIES = 2_000


def _fill(path: Path, month: str) -> int:
    """Rows straight into the file (the bench measures reading them, not this)."""
    rng = random.Random(15)
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA synchronous=OFF")
    kiosks = []
    for i in range(KIOSKS):
        region = f"region-{i % REGIONS:02d}"
        site = f"{region}-site-{(i // REGIONS) % SITES_PER_REGION:02d}"
        kiosks.append((f"K{i:06d}", f"key{i:06d}", "", site, region, 0.0, 15.0))
    db.executemany(
        "INSERT INTO kiosks (kiosk_id, key_id, public_key_pem, site, region, enrolled_at,"
        " interval_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
        kiosks,
    )
    columns = ", ".join(MEASURES)
    sql = (
        f"INSERT INTO stat_rollup (grain, period, kiosk_id, item_code, region, site, {columns})"
        f" VALUES ({', '.join('?' * (6 + len(MEASURES)))})"
    )

    def measures(days: int) -> tuple:
        n = rng.randint(0, 40) * days
        done = int(n * 0.95)
        return (n, done, n - done - 1 if n > done else 0, 1 if n > done else 0, 0,
                done * 4850, 4850 if n > done else 0, 1 if n > done else 0, 0, done * 95.0,
                n // 5, n // 6, (n // 5) * 4)  # fmt: skip

    rows = 0
    batch = []
    for kiosk_id, _, _, site, region, _, _ in kiosks:
        for item in ITEMS:
            batch.append(("month", month, kiosk_id, item, region, site, *measures(DAYS)))
            if region == "region-00":
                for day in range(1, DAYS + 1):
                    period = f"{month}-{day:02d}"
                    batch.append(("day", period, kiosk_id, item, region, site, *measures(1)))
        if len(batch) > 50_000:
            db.executemany(sql, batch)
            rows += len(batch)
            batch = []
    db.executemany(sql, batch)
    rows += len(batch)
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    db.execute(  # each site's sum over its kiosks, as the store keeps it (fleet.tx_facts)
        f"INSERT INTO stat_rollup (grain, kiosk_id, period, item_code, region, site, {columns})"
        f" SELECT grain, '', period, item_code, region, site, {sums} FROM stat_rollup"
        " GROUP BY grain, period, item_code, region, site"
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return rows


async def _timed(store, q: StatsQuery, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        await store.statistics(q)
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


async def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = FleetConfig(data_dir=Path(tmp))
        store = await open_store(config)
        await store.close()
        month = "2024-06"
        rows = _fill(Path(tmp) / "fleet.sqlite3", month)
        store = await open_store(config)
        try:
            day = f"{month}-01"
            figures = {
                "month_fleet_total_ms": await _timed(
                    store, StatsQuery(Grain.MONTH, month, month, GroupBy.TOTAL)
                ),
                "month_by_item_ms": await _timed(
                    store, StatsQuery(Grain.MONTH, month, month, GroupBy.ITEM)
                ),
                "month_by_region_ms": await _timed(
                    store, StatsQuery(Grain.MONTH, month, month, GroupBy.REGION)
                ),
                "region_sites_month_ms": await _timed(
                    store,
                    StatsQuery(Grain.MONTH, month, month, GroupBy.SITE, region="region-00"),
                ),
                "region_days_ms": await _timed(
                    store,
                    StatsQuery(Grain.DAY, day, f"{month}-30", GroupBy.PERIOD, region="region-00"),
                ),
                "kiosk_days_ms": await _timed(
                    store,
                    StatsQuery(Grain.DAY, day, f"{month}-30", GroupBy.PERIOD, kiosk="K000000"),
                ),
            }
            now = time.time()
            batches = [
                ReportBatch(
                    f"K{k:06d}",
                    tuple(
                        TransactionSummary(f"T{k}-{n}", ITEMS[n % 8], TransactionOutcome.COMPLETED,
                                           1, now - 90, now, 4850)  # fmt: skip
                        for n in range(50)
                    ),
                )
                for k in range(SUMMARIES // 50)
            ]
            t0 = time.perf_counter()
            for batch in batches:
                await store.record_reports(batch, now)
            ingest_s = time.perf_counter() - t0
        finally:
            await store.close()
    return {
        **figures,
        "summaries_per_s": round(SUMMARIES / ingest_s, 1),
        "kiosks": KIOSKS,
        "items": len(ITEMS),
        "rollup_rows": rows,
        "today": day_of(time.time()),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
