"""The figures operators report: per service item, kiosk, site, region, day and month.

Read from the rollups (fleet.tx_facts), never from the facts: questions about places (the fleet,
a region, a site) sum the per-site rows, questions about kiosks the per-kiosk rows, so a month of
a province's fleet is a sum over a few rows per site and item. Each row carries: transactions, completed,
cancelled, refunded, unsettled, the success rate (completed over all transactions), amounts
taken and refunded in yuan (kept in fen; yuan are written with two decimals, never a float),
the refunds, the evaluations and the satisfaction rate (好评: levels 3-5 of 5, over all
evaluations), the agent-assisted share and the mean minutes a completed transaction took.
Nothing in them is personal; the CSV export is the same rows.
"""

from __future__ import annotations

import csv
import datetime
import enum
import io
import re
from dataclasses import dataclass

from fleet.db import Database
from fleet.status import SqlArgs
from fleet.tx_facts import MEASURES, SITE_ROW
from wire.fields import JsonObject


class Grain(enum.Enum):
    DAY = "day"
    MONTH = "month"

    def valid(self, period: str) -> bool:
        """A calendar day (YYYY-MM-DD) or month (YYYY-MM), as this grain's periods are named."""
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}" if self is Grain.DAY else r"\d{4}-\d{2}", period):
            return False
        try:
            datetime.date.fromisoformat(period if self is Grain.DAY else period + "-01")
        except ValueError:
            return False
        return True


class GroupBy(enum.Enum):
    """What one row of the figures is."""

    ITEM = "item"
    KIOSK = "kiosk"
    SITE = "site"
    REGION = "region"
    PERIOD = "period"
    TOTAL = "total"

    @property
    def columns(self) -> tuple[str, ...]:
        return {
            GroupBy.ITEM: ("item_code",),
            GroupBy.KIOSK: ("region", "site", "kiosk_id"),
            GroupBy.SITE: ("region", "site"),
            GroupBy.REGION: ("region",),
            GroupBy.PERIOD: ("period",),
            GroupBy.TOTAL: (),
        }[self]


class BadQuery(ValueError):
    """A statistics question the server cannot answer; `field` names the parameter."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class StatsQuery:
    """Periods `first`..`last` (inclusive, days or months) of one grain, grouped one way,
    narrowed to a region, site, kiosk or item."""

    grain: Grain
    first: str
    last: str
    group: GroupBy = GroupBy.ITEM
    region: str = ""
    site: str = ""
    kiosk: str = ""
    item: str = ""

    def __post_init__(self) -> None:
        for name in ("first", "last"):
            if not self.grain.valid(getattr(self, name)):
                raise BadQuery(name)
        if self.first > self.last:
            raise BadQuery("first")


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(row: JsonObject) -> JsonObject:
    """A rollup sum in the words and units the reports use."""
    n = {m: int(row.get(m) or 0) for m in MEASURES if m != "completed_s"}
    completed_s = float(row.get("completed_s") or 0.0)
    return {
        **{k: row[k] for k in row if k not in MEASURES},
        **{k: v for k, v in n.items() if not k.endswith("_fen") and k != "evaluation_levels"},
        "success_rate": _rate(n["completed"], n["transactions"]),
        "amount_yuan": _yuan(n["amount_fen"]),
        "refunded_yuan": _yuan(n["refunded_fen"]),
        "net_yuan": _yuan(n["amount_fen"] - n["refunded_fen"]),
        "amount_fen": n["amount_fen"],
        "refunded_fen": n["refunded_fen"],
        "satisfaction_rate": _rate(n["evaluations_good"], n["evaluations"]),
        "mean_level": round(n["evaluation_levels"] / n["evaluations"], 2)
        if n["evaluations"]
        else None,
        "agent_share": _rate(n["agent_assisted"], n["transactions"]),
        "mean_minutes": round(completed_s / n["completed"] / 60, 1) if n["completed"] else None,
        "mean_s": round(completed_s / n["completed"]) if n["completed"] else None,
    }


CSV_COLUMNS = (
    "from", "to", "region", "site", "kiosk_id", "period", "item_code", "item_name",
    "transactions", "completed", "cancelled", "refunded", "unsettled", "success_rate",
    "amount_yuan", "refunded_yuan", "net_yuan", "refunds", "evaluations", "evaluations_good",
    "satisfaction_rate", "agent_assisted", "agent_share", "mean_minutes",
)  # fmt: skip


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and text != "-" else text


class Statistics:
    """The store's statistics queries (mixed into FleetStore)."""

    db: Database

    async def statistics(self, q: StatsQuery) -> JsonObject:
        """Rows grouped as asked (largest first, or in period order), and their total."""
        args = SqlArgs(q.grain.value, SITE_ROW, q.first, q.last)
        per_kiosk = bool(q.kiosk) or q.group is GroupBy.KIOSK
        where = [
            "r.grain = $1",
            "r.kiosk_id <> $2" if per_kiosk else "r.kiosk_id = $2",
            "r.period >= $3",
            "r.period <= $4",
        ]
        for column, value in (
            ("region", q.region),
            ("site", q.site),
            ("kiosk_id", q.kiosk),
            ("item_code", q.item),
        ):
            if value:
                where.append(f"r.{column} = {args.add(value)}")
        sums = ", ".join(f"SUM(r.{m}) AS {m}" for m in MEASURES)
        group = [f"r.{c}" for c in q.group.columns]
        name = ""
        join = ""
        if q.group is GroupBy.ITEM:
            name, join = (
                ", MAX(i.name) AS item_name",
                " LEFT JOIN service_items i ON i.item_code = r.item_code",
            )
        select = ", ".join([*group, sums]) + name
        sql = f"SELECT {select} FROM stat_rollup r{join} WHERE {' AND '.join(where)}"
        if group:
            order = (
                ", ".join(group)
                if q.group is GroupBy.PERIOD
                else f"transactions DESC, {', '.join(group)}"
            )
            sql += f" GROUP BY {', '.join(group)} ORDER BY {order}"
        rows = await self.db.fetch(sql, *args.values)
        total_args = SqlArgs(*args.values)
        total = await self.db.fetchrow(
            f"SELECT {sums} FROM stat_rollup r WHERE {' AND '.join(where)}", *total_args.values
        )
        return {
            "grain": q.grain.value,
            "from": q.first,
            "to": q.last,
            "group": q.group.value,
            "rows": [figures(r) for r in rows if group],
            "total": figures(total or {}),
        }

    async def statistics_csv(self, q: StatsQuery) -> str:
        """The same rows as CSV (UTF-8 with a byte-order mark, so spreadsheets read the Chinese
        item names), with a total line."""
        result = await self.statistics(q)
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in [*result["rows"], {**result["total"], "item_name": "total"}]:
            full = {"from": q.first, "to": q.last, **row}
            writer.writerow([_cell(full.get(c)) for c in CSV_COLUMNS])
        return out.getvalue()
