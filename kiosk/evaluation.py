"""The citizen's rating of a service (好差评) on the national five levels, stored and forwarded.

A rating carries the item code, the kiosk's transaction number and the kiosk, never anything
about the citizen: reason tags come from a fixed list and a comment is cut short with anything
shaped like a number masked. It is written to a durable outbox (SQLite, synchronous=FULL)
first and delivered to the evaluation backend when it can be, each keyed by its own id, so a
retry never counts twice. A 差评 (the two lowest levels) is reported to the operators at once.
Rating is always optional: nothing here waits for the backend while a citizen stands there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from kiosk.backends import BackendError, BackendReason, ServiceClient
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.steps import FlowRun, _both, step
from kiosk.viewmodel import OptionTile, ScreenId

log = logging.getLogger(__name__)

OUTBOX_FILE = "ratings-outbox.sqlite3"
COMMENT_MAX = 140
PATH = "/ratings"


class Level(IntEnum):
    """The national five levels (国务院办公厅关于建立政务服务"好差评"制度的意见)."""

    VERY_DISSATISFIED = 1
    DISSATISFIED = 2
    BASIC = 3
    SATISFIED = 4
    VERY_SATISFIED = 5

    @property
    def low(self) -> bool:
        """差评: the two lowest levels, which take reason tags and alert the operators."""
        return self <= Level.DISSATISFIED


LEVEL_TEXT = {
    Level.VERY_SATISFIED: {"zh": "非常满意", "en": "Very satisfied"},
    Level.SATISFIED: {"zh": "满意", "en": "Satisfied"},
    Level.BASIC: {"zh": "基本满意", "en": "Fairly satisfied"},
    Level.DISSATISFIED: {"zh": "不满意", "en": "Dissatisfied"},
    Level.VERY_DISSATISFIED: {"zh": "非常不满意", "en": "Very dissatisfied"},
}

# Reason tags offered on the two lowest levels (the published 差评 reasons, kiosk-relevant).
REASON_TAGS = {
    "too_many_steps": {"zh": "操作步骤繁琐", "en": "Too many steps"},
    "unclear_guidance": {"zh": "指引不清楚", "en": "Unclear guidance"},
    "device_fault": {"zh": "设备故障", "en": "The machine failed"},
    "too_slow": {"zh": "办理时间长", "en": "Too slow"},
    "materials_unclear": {"zh": "材料要求不明确", "en": "Unclear materials"},
    "result_unsatisfying": {"zh": "办理结果不满意", "en": "Unhappy with the result"},
}

_NUMBERS = re.compile(r"\d{5,}|[A-Za-z]\d{6,}")  # ID, phone, permit numbers in a comment


class RatingRefused(ValueError):
    """A rating the kiosk will not send as given (an unknown tag, tags on a good level)."""


@dataclass(frozen=True)
class Rating:
    rating_id: str
    item_code: str
    transaction: str
    kiosk_id: str
    level: Level
    tags: tuple[str, ...]
    comment: str
    rated_at: float
    agent_id: str = ""  # a village agent ran the service for the citizen (an id, never a name)

    def body(self) -> dict:
        return {"rating_id": self.rating_id, "item_code": self.item_code,
                "transaction": self.transaction, "kiosk_id": self.kiosk_id,
                "level": int(self.level), "tags": list(self.tags), "comment": self.comment,
                "rated_at": self.rated_at, "agent_id": self.agent_id}


def make_rating(item_code: str, transaction: str, kiosk_id: str, level: int,
                tags: tuple[str, ...] = (), comment: str = "", agent_id: str = "") -> Rating:
    """A rating ready to store; tags only on the two lowest levels, a comment with no numbers."""
    chosen = Level(level)
    unknown = [t for t in tags if t not in REASON_TAGS]
    if unknown:
        raise RatingRefused(f"unknown tag {unknown[0]!r}")
    if tags and not chosen.low:
        raise RatingRefused("reason tags go with the two lowest levels only")
    clean = _NUMBERS.sub(lambda m: "*" * len(m.group()), " ".join(comment.split()))
    return Rating(uuid.uuid4().hex, item_code, transaction, kiosk_id, chosen,
                  tuple(dict.fromkeys(tags)), clean[:COMMENT_MAX], round(time.time(), 3),
                  agent_id)


class RatingOutbox:
    """Ratings not yet delivered, on disk. One connection, used from the loop thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pending (rating_id TEXT PRIMARY KEY, "
                         "body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
                         "next_at REAL NOT NULL DEFAULT 0)")
        self._db.execute("CREATE TABLE IF NOT EXISTS refused (rating_id TEXT PRIMARY KEY, "
                         "body TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL)")

    def close(self) -> None:
        self._db.close()

    def put(self, rating: Rating) -> None:
        self._db.execute("INSERT OR IGNORE INTO pending (rating_id, body) VALUES (?, ?)",
                         (rating.rating_id, json.dumps(rating.body(), ensure_ascii=False)))

    def due(self, now: float, limit: int = 20) -> list[tuple[str, dict, int]]:
        rows = self._db.execute("SELECT rating_id, body, attempts FROM pending WHERE next_at <= ?"
                                " ORDER BY rowid LIMIT ?", (now, limit)).fetchall()
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]

    def delivered(self, rating_id: str) -> None:
        self._db.execute("DELETE FROM pending WHERE rating_id = ?", (rating_id,))

    def retry_later(self, rating_id: str, attempts: int, now: float) -> None:
        delay = min(3600.0, 5.0 * 2 ** attempts)  # 5 s, 10 s, ... at most an hour
        self._db.execute("UPDATE pending SET attempts = ?, next_at = ? WHERE rating_id = ?",
                         (attempts + 1, now + delay, rating_id))

    def refuse(self, rating_id: str, body: dict, reason: str) -> None:
        """The backend will never take it: kept aside for the operators, not retried."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO refused VALUES (?, ?, ?, ?)",
                             (rating_id, json.dumps(body, ensure_ascii=False), reason, time.time()))
            self._db.execute("DELETE FROM pending WHERE rating_id = ?", (rating_id,))

    def counts(self) -> dict[str, int]:
        return {"pending": self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0],
                "refused": self._db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]}


class EvaluationDesk:
    """Takes ratings, reports 差评 to the operators, and forwards the outbox to the backend."""

    def __init__(self, outbox: RatingOutbox, client: ServiceClient, kiosk_id: str,
                 report_problem: Callable[[str, str], None], interval_s: float = 15.0) -> None:
        self.outbox = outbox
        self.client = client
        self.kiosk_id = kiosk_id
        self.report_problem = report_problem
        self.interval_s = interval_s

    def rate(self, item_code: str, transaction: str, level: int, tags: tuple[str, ...] = (),
             comment: str = "", agent_id: str = "") -> Rating:
        """Stores the rating durably (RatingRefused if it cannot be sent as given)."""
        rating = make_rating(item_code, transaction, self.kiosk_id, level, tags, comment,
                             agent_id)
        self.outbox.put(rating)
        if rating.level.low:
            self.report_problem("bad_rating",
                                f"{item_code}:{int(rating.level)}:{','.join(rating.tags)}")
        log.info("rating %s stored (%d)", rating.rating_id, rating.level,
                 extra={"transaction": transaction})
        return rating

    async def deliver(self) -> int:
        """Sends what is due; returns how many the backend took."""
        sent = 0
        now = time.time()
        for rating_id, body, attempts in self.outbox.due(now):
            try:
                await self.client.submit(PATH, body, rating_id)
            except BackendError as exc:
                if exc.reason is BackendReason.REJECTED and 400 <= exc.status < 500:
                    log.error("rating %s refused: %s", rating_id, exc.code)
                    self.outbox.refuse(rating_id, body, exc.code or str(exc.status))
                    self.report_problem("rating_refused", exc.code or str(exc.status))
                else:
                    self.outbox.retry_later(rating_id, attempts, now)
                    break  # the backend is not answering: the rest wait too
                continue
            self.outbox.delivered(rating_id)
            sent += 1
        return sent

    async def deliver_forever(self) -> None:
        while True:
            try:
                await self.deliver()
            except Exception:  # a delivery loop must outlive any one bad round
                log.exception("rating delivery failed")
            await asyncio.sleep(self.interval_s)


def desk_for(ctx: FlowContext) -> EvaluationDesk:
    """The kiosk's evaluation desk: its outbox in the state folder, the evaluation backend."""
    return EvaluationDesk(RatingOutbox(ctx.config.state_dir / OUTBOX_FILE),
                          ctx.service("evaluation"), ctx.config.kiosk_id, ctx.report_problem)


@step("rate_service")
async def rate_service(run: FlowRun, params: dict) -> None:
    """Rates a service: this transaction's (`of: "this"`) or the one on a receipt the citizen
    scans (`of: "receipt"`; it must be one of this kiosk's). Level, then on a 差评 a reason."""
    ctx = run.ctx
    if params.get("of", "this") == "receipt":
        ctx.show(ScreenId.ENTER_ACCOUNT, entry="", entry_error_key="",
                 entry_title={"zh": "请扫描回执上的二维码", "en": "Scan the QR code on your receipt"})
        async with ctx.watch_codes():
            code = await ctx.scans.get()
        try:
            rated = ctx.journal.get(code.strip())
        except KeyError as exc:
            raise FlowFailure(Reason.NOT_FOUND) from exc
        item_code, transaction, agent_id = rated.service, rated.tx_id, rated.agent_id
    else:
        item_code, transaction, agent_id = run.item_code, run.tx.tx_id, run.tx.agent_id
    ctx.show(ScreenId.CHOOSE, choose_title={"zh": "请您评价本次服务", "en": "Rate this service"},
             options=tuple(OptionTile(str(int(level)), LEVEL_TEXT[level])
                           for level in sorted(Level, reverse=True)), busy=False)
    level = Level(int(await ctx.wait_choice()))
    tags: tuple[str, ...] = ()
    if level.low:
        ctx.show(ScreenId.CHOOSE, choose_title={"zh": "请选择不满意的原因", "en": "What went wrong?"},
                 options=(*(OptionTile(key, text) for key, text in REASON_TAGS.items()),
                          OptionTile("none", {"zh": "不选择", "en": "Skip"})))
        tag = await ctx.wait_choice()
        tags = (tag,) if tag in REASON_TAGS else ()
    desk = desk_for(ctx)
    try:
        rating = desk.rate(item_code, transaction, int(level), tags, agent_id=agent_id)
        with contextlib.suppress(BackendError):
            await asyncio.wait_for(desk.deliver(), float(params.get("deliver_wait_s", 3)))
    except TimeoutError:
        pass  # still in the outbox: the delivery loop sends it
    finally:
        desk.outbox.close()
    run.txn.annotate({"rating_id": rating.rating_id})
    run.state["result_lines"] = (_both("rate.thanks"),)
