"""The citizen's rating of a service (好差评) on the national five levels, stored and forwarded.

A rating carries the item code, the kiosk's transaction number and the kiosk, never anything
about the citizen: reason tags come from a fixed list and a comment is cut short with anything
shaped like a number masked. It is written to the kiosk's durable outbox (kiosk.outbox)
first and delivered to the evaluation backend when it can be, each keyed by its own id, so a
retry never counts twice. A 差评 (the two lowest levels) is reported to the operators at once,
and every rating goes to the fleet's satisfaction figures (wire.reports, never the comment).
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

from kiosk.backends import BackendError, ServiceClient
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.json_object import JsonObject
from kiosk.outbox import Courier, Outbox, Submission
from kiosk.step_declarations import RateServiceParams
from kiosk.steps import FlowRun, _both
from kiosk.viewmodel import OptionTile, ScreenId
from wire.reports import EvaluationReport

log = logging.getLogger(__name__)

OLD_OUTBOX_FILE = "ratings-outbox.sqlite3"  # before ratings joined the kiosk's outbox
COMMENT_MAX = 140
BACKEND = "evaluation"
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

    def body(self) -> JsonObject:
        return {"rating_id": self.rating_id, "item_code": self.item_code,
                "transaction": self.transaction, "kiosk_id": self.kiosk_id,
                "level": int(self.level), "tags": list(self.tags), "comment": self.comment,
                "rated_at": self.rated_at, "agent_id": self.agent_id}

    def fleet_report(self) -> EvaluationReport:
        """What the operators' fleet learns of it: level and reason tags, never the comment."""
        return EvaluationReport(self.rating_id, self.item_code, int(self.level), self.rated_at,
                                self.transaction, self.tags, bool(self.agent_id))


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


class EvaluationDesk:
    """Takes ratings into the kiosk's outbox (kiosk.outbox), reports 差评 to the operators at
    once and every rating to the fleet's figures, and delivers them with every other waiting
    submission."""

    def __init__(self, outbox: Outbox, clients: dict[str, ServiceClient], kiosk_id: str,
                 report_problem: Callable[[str, str], None],
                 report_evaluation: Callable[[EvaluationReport], None]) -> None:
        self.outbox = outbox
        self.kiosk_id = kiosk_id
        self.report_problem = report_problem
        self.report_evaluation = report_evaluation
        self.courier = Courier(outbox, clients, report_problem)

    def rate(self, item_code: str, transaction: str, level: int, tags: tuple[str, ...] = (),
             comment: str = "", agent_id: str = "") -> Rating:
        """Stores the rating durably (RatingRefused if it cannot be sent as given)."""
        rating = make_rating(item_code, transaction, self.kiosk_id, level, tags, comment,
                             agent_id)
        # No transaction of its own here: the rated one's journal entry is not this submission's.
        self.outbox.put(Submission(rating.rating_id, BACKEND, PATH, rating.body(), ""))
        if rating.level.low:
            self.report_problem("bad_rating",
                                f"{item_code}:{int(rating.level)}:{','.join(rating.tags)}")
        self.report_evaluation(rating.fleet_report())
        log.info("rating %s stored (%d)", rating.rating_id, rating.level,
                 extra={"transaction": transaction})
        return rating

    async def deliver(self) -> int:
        """Sends the ratings that are due; returns how many the backend took."""
        return await self.courier.deliver(only=BACKEND)


def adopt_old_ratings(state_dir: Path, outbox: Outbox) -> int:
    """Ratings a kiosk of the previous release left in its own outbox file move into the
    kiosk's outbox (once: the old file goes when they are in)."""
    old = state_dir / OLD_OUTBOX_FILE
    if not old.exists():
        return 0
    db = sqlite3.connect(old)
    try:
        rows = db.execute("SELECT rating_id, body FROM pending ORDER BY rowid").fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        db.close()
    for rating_id, body in rows:
        data = json.loads(body)
        outbox.put(Submission(rating_id, BACKEND, PATH, data, ""))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{old}{suffix}").unlink(missing_ok=True)
    return len(rows)


def desk_for(ctx: FlowContext) -> EvaluationDesk:
    """The kiosk's evaluation desk on its outbox (kiosk.outbox) and the backends."""
    outbox = Outbox(ctx.config.state_dir)
    adopt_old_ratings(ctx.config.state_dir, outbox)
    return EvaluationDesk(outbox, ctx.services, ctx.config.kiosk_id, ctx.report_problem,
                          ctx.report_evaluation)


async def rate_service(run: FlowRun, params: RateServiceParams) -> None:
    """Rates a service: this transaction's (`of: "this"`) or the one on a receipt the citizen
    scans (`of: "receipt"`; it must be one of this kiosk's). Level, then on a 差评 a reason."""
    ctx = run.ctx
    if params.of == "receipt":
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
            await asyncio.wait_for(desk.deliver(), params.deliver_wait_s)
    except TimeoutError:
        pass  # still in the outbox: the delivery loop sends it
    finally:
        desk.outbox.close()
    run.txn.annotate({"rating_id": rating.rating_id})
    run.state["result_lines"] = (_both("rate.thanks"),)
