"""The kiosk's business reports to the fleet: transaction summaries, evaluations, applications.

Part of the kiosk-fleet wire schema (wire.fleet holds the rest; wire.fields the field readers
both use). A `ReportBatch` goes to `POST /api/v1/kiosks/{kiosk_id}/reports`, signed like every kiosk
request. Only non-personal facts travel: the journal's random transaction id, the item code,
amounts in fen, times, an outcome, an evaluation's level and reason tags (never its comment).

Every report names what it is about (a transaction, an evaluation, an application) and carries
a `revision` that rises each time the kiosk's view of that thing changes (a transaction left
needing attention that settles later is sent again with a higher revision). The server keeps
the highest revision of each and counts each thing once, so a resend or a retry never counts
twice. `report_version` versions this schema apart from the heartbeat's wire version.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from wire.fields import (
    WIRE_VERSION,
    JsonMapping,
    JsonObject,
    WireError,
    WireErrorReason,
    _check_version,
    _enum,
    _get,
    _ident,
    _list,
    _obj,
)

REPORT_VERSION = 1
READABLE_REPORT_VERSIONS = frozenset({1})
REPORTS_PATH = "/kiosks/{kiosk_id}/reports"
MAX_MONEY_FEN = 2**53
MAX_TAGS = 8


class TransactionOutcome(enum.Enum):
    """How a transaction ended, as the statistics count it."""

    COMPLETED = "completed"  # the citizen got what they came for (journal: closed)
    CANCELLED = "cancelled"  # ended before anything was delivered; nothing kept
    REFUNDED = "refunded"  # money was taken and all of it given back
    UNSETTLED = "unsettled"  # not settled yet, or a person must look (needs_attention)


class DayUnit(enum.Enum):
    """How a promised time limit counts days (承诺时限: usually working days)."""

    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class ApplicationStatus(enum.Enum):
    """What became of an application submitted at the kiosk, once its office has decided."""

    DONE = "done"  # 办结
    RETURNED = "returned"  # 退回 / 不予受理: ended without the result asked for


def _money(data: JsonMapping, key: str) -> int:
    value = _get(data, key, int, 0)
    if not 0 <= value < MAX_MONEY_FEN:
        raise WireError(WireErrorReason.BAD_VALUE, key, "fen out of range")
    return int(value)


# Any: a float, or None where `optional`.
def _time(data: JsonMapping, key: str, optional: bool = False) -> Any:
    """Seconds since the epoch; None only where `optional` allows it."""
    if optional and data.get(key) is None:
        return None
    value = _get(data, key, float)
    if not 0 <= value < 1e11:
        raise WireError(WireErrorReason.BAD_VALUE, key, "not a time")
    return value


def _revision(data: JsonMapping) -> int:
    value = _get(data, "revision", int)
    if not 1 <= value < 2**53:
        raise WireError(WireErrorReason.BAD_VALUE, "revision")
    return int(value)


def _short(data: JsonMapping, key: str, limit: int = 100) -> str:
    value = _get(data, key, str, "")
    if len(value) > limit:
        raise WireError(WireErrorReason.TOO_LARGE, key)
    return str(value)


@dataclass(frozen=True)
class TransactionSummary:
    """One transaction as the statistics and the e-supervision need it, and nothing more.

    `amount_fen` is what the kiosk took (0 when nothing was paid), `refunded_fen` what it gave
    back. `submitted_at` is when the application reached its backend (None if it never did);
    with `time_limit_days` > 0 the fleet supervises it until an ApplicationUpdate says done.
    """

    tx_id: str
    item_code: str
    outcome: TransactionOutcome
    revision: int
    started_at: float
    ended_at: float
    amount_fen: int = 0
    refunded_fen: int = 0
    agent_assisted: bool = False
    time_limit_days: int = 0
    time_limit_unit: DayUnit = DayUnit.WORKING_DAYS
    submitted_at: float | None = None
    item_name: str = ""
    reason: str = ""
    agent_id: str = ""  # the village agent who ran it for the citizen (an id, never a name)

    def to_json(self) -> JsonObject:
        return {
            "agent_id": self.agent_id,
            "tx_id": self.tx_id,
            "item_code": self.item_code,
            "outcome": self.outcome.value,
            "revision": self.revision,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "amount_fen": self.amount_fen,
            "refunded_fen": self.refunded_fen,
            "agent_assisted": self.agent_assisted,
            "time_limit_days": self.time_limit_days,
            "time_limit_unit": self.time_limit_unit.value,
            "submitted_at": self.submitted_at,
            "item_name": self.item_name,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: object) -> TransactionSummary:
        data = _obj(data, "transaction")
        amount, refunded = _money(data, "amount_fen"), _money(data, "refunded_fen")
        if refunded > amount:
            raise WireError(WireErrorReason.BAD_VALUE, "refunded_fen", "more than was taken")
        limit = _get(data, "time_limit_days", int, 0)
        if not 0 <= limit <= 365:
            raise WireError(WireErrorReason.BAD_VALUE, "time_limit_days")
        return cls(
            tx_id=_ident(data, "tx_id"),
            item_code=_ident(data, "item_code"),
            outcome=_enum(data, "outcome", TransactionOutcome),
            revision=_revision(data),
            started_at=_time(data, "started_at"),
            ended_at=_time(data, "ended_at"),
            amount_fen=amount,
            refunded_fen=refunded,
            agent_assisted=_get(data, "agent_assisted", bool, False),
            time_limit_days=limit,
            time_limit_unit=_enum(data, "time_limit_unit", DayUnit, DayUnit.WORKING_DAYS),
            submitted_at=_time(data, "submitted_at", optional=True),
            item_name=_short(data, "item_name"),
            reason=_short(data, "reason"),
            agent_id=_agent_id(data),
        )


def _agent_id(data: JsonMapping) -> str:
    """'' when absent (a kiosk of an earlier release); otherwise an identifier, and then the
    transaction is agent-assisted whatever `agent_assisted` says."""
    if not _get(data, "agent_id", str, ""):
        return ""
    return _ident(data, "agent_id")


@dataclass(frozen=True)
class EvaluationReport:
    """A citizen's evaluation (好差评) on the national five levels: the level and the reason
    tags chosen from the published list, never the comment. Counted once per evaluation_id."""

    evaluation_id: str
    item_code: str
    level: int
    rated_at: float
    tx_id: str = ""
    tags: tuple[str, ...] = ()
    agent_assisted: bool = False

    def to_json(self) -> JsonObject:
        return {
            "evaluation_id": self.evaluation_id,
            "item_code": self.item_code,
            "level": self.level,
            "rated_at": self.rated_at,
            "tx_id": self.tx_id,
            "tags": list(self.tags),
            "agent_assisted": self.agent_assisted,
        }

    @classmethod
    def from_json(cls, data: object) -> EvaluationReport:
        data = _obj(data, "evaluation")
        level = _get(data, "level", int)
        if not 1 <= level <= 5:
            raise WireError(WireErrorReason.BAD_VALUE, "level", "1 to 5")
        tags = _list(data, "tags")
        if len(tags) > MAX_TAGS:
            raise WireError(WireErrorReason.TOO_LARGE, "tags")
        tx_id = _get(data, "tx_id", str, "")
        return cls(
            evaluation_id=_ident(data, "evaluation_id"),
            item_code=_ident(data, "item_code"),
            level=level,
            rated_at=_time(data, "rated_at"),
            tx_id=_ident(data, "tx_id") if tx_id else "",
            tags=tuple(_ident({"tag": t}, "tag") for t in tags),
            agent_assisted=_get(data, "agent_assisted", bool, False),
        )


@dataclass(frozen=True)
class ApplicationUpdate:
    """What the office decided on an application submitted at the kiosk: it ends the
    e-supervision of that transaction. Counted by the highest revision per tx_id."""

    tx_id: str
    status: ApplicationStatus
    at: float
    revision: int = 1

    def to_json(self) -> JsonObject:
        return {
            "tx_id": self.tx_id,
            "status": self.status.value,
            "at": self.at,
            "revision": self.revision,
        }

    @classmethod
    def from_json(cls, data: object) -> ApplicationUpdate:
        data = _obj(data, "application")
        return cls(
            _ident(data, "tx_id"),
            _enum(data, "status", ApplicationStatus),
            _time(data, "at"),
            _revision(data),
        )


@dataclass(frozen=True)
class ReportBatch:
    """Reports of one kiosk, sent together (at most MAX_ITEMS of each kind)."""

    kiosk_id: str
    transactions: tuple[TransactionSummary, ...] = ()
    evaluations: tuple[EvaluationReport, ...] = ()
    applications: tuple[ApplicationUpdate, ...] = ()
    report_version: int = REPORT_VERSION

    def to_json(self) -> JsonObject:
        return {
            "wire_version": WIRE_VERSION,
            "report_version": self.report_version,
            "kiosk_id": self.kiosk_id,
            "transactions": [t.to_json() for t in self.transactions],
            "evaluations": [e.to_json() for e in self.evaluations],
            "applications": [a.to_json() for a in self.applications],
        }

    @classmethod
    def from_json(cls, data: object) -> ReportBatch:
        data = _obj(data)
        _check_version(data)
        version = _get(data, "report_version", int, REPORT_VERSION)
        if version not in READABLE_REPORT_VERSIONS:
            raise WireError(WireErrorReason.UNSUPPORTED_VERSION, "report_version", str(version))
        return cls(
            kiosk_id=_ident(data, "kiosk_id"),
            transactions=tuple(
                TransactionSummary.from_json(t) for t in _list(data, "transactions")
            ),
            evaluations=tuple(EvaluationReport.from_json(e) for e in _list(data, "evaluations")),
            applications=tuple(ApplicationUpdate.from_json(a) for a in _list(data, "applications")),
            report_version=version,
        )

    def __len__(self) -> int:
        return len(self.transactions) + len(self.evaluations) + len(self.applications)
