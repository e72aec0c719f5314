"""Electronic supervision (电子监察): a light for every application with a promised time limit.

An application is supervised from the moment its kiosk transaction submitted it to the backend
(`submitted_at` in its summary) for the item's promised time limit (承诺时限), counted in working
days (Monday to Friday, whole days; the fleet knows no public holidays yet) or calendar days as
the catalog says. A limit of N working days ends N working days after submission, at the same
time of day; a submission on a weekend starts counting on Monday at 00:00.

The rule, as the service halls' systems light them:
- green: more than max(1 day, 20% of the limit) left (in the limit's own days);
- yellow (预警): that much or less left;
- red (超期): the deadline has passed and the office has not reported a decision;
- done / done late: an ApplicationUpdate reported the decision (on time, or after the deadline).

The deadline and the yellow moment are computed once, when the summary arrives, and stored, so
the lights are one SQL CASE at any moment. Decisions reach the fleet only through
ApplicationUpdate reports; until a kiosk (or a backend bridge) sends them, every application
ends red: the dashboard says so.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from fleet.db import Database
from fleet.status import SqlArgs
from wire.fields import JsonObject
from wire.reports import DayUnit

DAY_S = 86400.0
YELLOW_SHARE = 0.2  # of the limit...
YELLOW_MIN_DAYS = 1.0  # ...but never less than a day's warning
MAX_LIST = 500


class Light(enum.Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    DONE = "done"
    DONE_LATE = "done_late"


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time())


def _split(t: float) -> tuple[datetime.date, float]:
    """(local calendar day, seconds into it) of a moment. Days are taken as 86,400 s long:
    China keeps no daylight saving time."""
    moment = datetime.datetime.fromtimestamp(t)
    return moment.date(), (moment - _midnight(moment.date())).total_seconds()


def _working(day: datetime.date) -> bool:
    return day.weekday() < 5


def add_working_time(start: float, seconds: float) -> float:
    """`start` plus `seconds` of working time (only Monday to Friday elapse)."""
    day, into = _split(start)
    left = seconds
    while True:
        if _working(day):
            room = DAY_S - into
            if left <= room:
                return (_midnight(day) + datetime.timedelta(seconds=into + left)).timestamp()
            left -= room
        day, into = day + datetime.timedelta(days=1), 0.0


def subtract_working_time(end: float, seconds: float) -> float:
    """The moment `seconds` of working time before `end`."""
    day, into = _split(end)
    left = seconds
    while True:
        if _working(day):
            if left <= into:
                return (_midnight(day) + datetime.timedelta(seconds=into - left)).timestamp()
            left -= into
        day, into = day - datetime.timedelta(days=1), DAY_S


def deadline_and_warning(
    submitted_at: float, limit_days: int, unit: DayUnit
) -> tuple[float, float]:
    """(deadline, the moment the light turns yellow) of an application."""
    warn_days = max(YELLOW_MIN_DAYS, YELLOW_SHARE * limit_days)
    if unit is DayUnit.CALENDAR_DAYS:
        deadline = submitted_at + limit_days * DAY_S
        return deadline, max(submitted_at, deadline - warn_days * DAY_S)
    deadline = add_working_time(submitted_at, limit_days * DAY_S)
    return deadline, max(submitted_at, subtract_working_time(deadline, warn_days * DAY_S))


def light_sql(args: SqlArgs, at: float) -> str:
    """The light of the tx_facts row `f` joined to its decision `d`, at `at`."""
    now = args.add(at)
    return (
        "CASE WHEN d.status IS NOT NULL AND d.decided_at <= f.deadline_at THEN 'done'"
        " WHEN d.status IS NOT NULL THEN 'done_late'"
        f" WHEN {now} >= f.deadline_at THEN 'red'"
        f" WHEN {now} >= f.yellow_at THEN 'yellow' ELSE 'green' END"
    )


@dataclass(frozen=True)
class SupervisionQuery:
    """Applications submitted between `start` and `end` (epoch seconds), lit as at `at`."""

    start: float
    end: float
    at: float
    region: str = ""
    site: str = ""
    item: str = ""


class Supervision:
    """The store's supervision queries (mixed into FleetStore)."""

    db: Database

    def _supervised(self, args: SqlArgs, q: SupervisionQuery) -> str:
        where = [
            "f.deadline_at IS NOT NULL",
            f"f.submitted_at >= {args.add(q.start)}",
            f"f.submitted_at < {args.add(q.end)}",
        ]
        for column, value in (("region", q.region), ("site", q.site), ("item_code", q.item)):
            if value:
                where.append(f"f.{column} = {args.add(value)}")
        light = light_sql(args, q.at)
        return (
            f"(SELECT f.*, d.status AS decision, d.decided_at, {light} AS light"
            " FROM tx_facts f LEFT JOIN app_decisions d"
            " ON d.kiosk_id = f.kiosk_id AND d.tx_id = f.tx_id"
            f" WHERE {' AND '.join(where)}) s"
        )

    async def supervision(self, q: SupervisionQuery) -> JsonObject:
        """Lights per item, totals, and the applications lit yellow or red (nearest deadline
        first). Nothing personal: transaction ids, item codes, places and times."""
        args = SqlArgs()
        source = self._supervised(args, q)
        rows = await self.db.fetch(
            f"SELECT s.item_code, COALESCE(i.name, '') AS item_name, s.light, COUNT(*) AS n"
            f" FROM {source} LEFT JOIN service_items i ON i.item_code = s.item_code"
            " GROUP BY s.item_code, i.name, s.light ORDER BY s.item_code",
            *args.values,
        )
        items: dict[str, JsonObject] = {}
        totals = {light.value: 0 for light in Light}
        for r in rows:
            entry = items.setdefault(
                r["item_code"],
                {
                    "item_code": r["item_code"],
                    "item_name": r["item_name"],
                    **{light.value: 0 for light in Light},
                },
            )
            entry[r["light"]] = int(r["n"])
            totals[r["light"]] += int(r["n"])
        list_args = SqlArgs()
        source = self._supervised(list_args, q)
        lit = await self.db.fetch(
            "SELECT s.kiosk_id, s.tx_id, s.item_code, s.region, s.site, s.submitted_at,"
            " s.time_limit_days, s.time_limit_unit, s.deadline_at, s.yellow_at, s.light"
            f" FROM {source} WHERE s.light IN ('yellow', 'red')"
            f" ORDER BY s.deadline_at, s.kiosk_id, s.tx_id LIMIT {list_args.add(MAX_LIST)}",
            *list_args.values,
        )
        decided = await self.db.fetchrow(
            "SELECT COUNT(*) AS n FROM app_decisions d JOIN tx_facts f"
            " ON f.kiosk_id = d.kiosk_id AND f.tx_id = d.tx_id WHERE f.deadline_at IS NOT NULL"
        )
        return {
            "totals": totals,
            "items": list(items.values()),
            "lit": lit,
            "decisions_reported": int(decided["n"]) if decided else 0,
            "at": q.at,
        }
