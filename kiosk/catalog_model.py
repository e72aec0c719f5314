"""The parsed service catalog: items in the published standard form (办事指南), as the kiosk's
menu, search, guide and flow engine read them. kiosk.catalog makes them from a published
catalog (validated); nothing here parses or checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.json_object import JsonObject


@dataclass(frozen=True)
class StepSpec:
    step: str
    params: object  # the step's declared parameters (kiosk.step_declarations), checked at load
    timeout_s: float | None
    raw: JsonObject  # the catalog's params object as written


Text = dict[str, str]  # language -> text


class PowerType(StrEnum):
    """The kind of administrative power an item exercises (事项类型), as halls publish it."""

    LICENSE = "administrative_license"  # 行政许可
    PAYMENT = "administrative_payment"  # 行政给付
    CONFIRMATION = "administrative_confirmation"  # 行政确认
    LEVY = "administrative_levy"  # 行政征收
    ADJUDICATION = "administrative_adjudication"  # 行政裁决
    REWARD = "administrative_reward"  # 行政奖励
    PENALTY = "administrative_penalty"  # 行政处罚
    OTHER = "other_power"  # 其他行政权力
    PUBLIC_SERVICE = "public_service"  # 公共服务


class Delivery(StrEnum):
    IN_PERSON = "in_person"
    POST = "post"
    ELECTRONIC = "electronic"


class MaterialForm(StrEnum):
    ORIGINAL = "original"
    COPY = "copy"
    ORIGINAL_AND_COPY = "original_and_copy"
    ELECTRONIC = "electronic"


class DayUnit(StrEnum):
    WORKING = "working_days"
    CALENDAR = "calendar_days"


@dataclass(frozen=True)
class Department:
    code: str
    name: Text


@dataclass(frozen=True)
class LegalBasis:
    title: str
    clause: str = ""


@dataclass(frozen=True)
class Material:
    name: Text
    required: bool
    form: MaterialForm = MaterialForm.ORIGINAL
    copies: int = 1
    sample: str = ""  # a sample image's path or URL
    notes: Text | None = None


@dataclass(frozen=True)
class ProcedureStage:
    """One box of the flowchart a citizen reads (受理 -> 审查 -> 决定 -> 送达)."""

    title: Text
    actor: str = "department"
    detail: Text | None = None


@dataclass(frozen=True)
class TimeLimit:
    promised: int  # 承诺时限; 0 = done on the spot (即办)
    statutory: int  # 法定时限
    unit: DayUnit = DayUnit.WORKING


@dataclass(frozen=True)
class Fee:
    kind: str  # free, fixed (amount_fen), quoted (the backend names the amount)
    amount_fen: int | None = None
    standard: Text | None = None  # 收费标准
    basis: str = ""  # 收费依据


@dataclass(frozen=True)
class ServiceItem:
    code: str
    service: str
    name: Text
    summary: Text
    keywords: tuple[str, ...]  # what citizens call it besides its name (常用名), for search
    department: Department
    legal_basis: tuple[LegalBasis, ...]
    power_type: PowerType
    handling_level: str
    target_groups: tuple[str, ...]
    life_events: tuple[str, ...]
    conditions: tuple[Text, ...]
    materials: tuple[Material, ...]
    procedure: tuple[ProcedureStage, ...]
    time_limit: TimeLimit
    fee: Fee
    delivery: tuple[Delivery, ...]
    visits: int
    venue: Text | None
    contact_phone: str
    supervision_phone: str
    online_application: bool
    online_application_url: str
    guide_url: str
    popularity: int
    sms: bool
    steps: tuple[StepSpec, ...]
    languages: tuple[str, ...]
    online: bool  # the kiosk needs the backends to run it
    required_devices: frozenset[str]
    optional_devices: frozenset[str]
    elder_first: bool = False       # shown at the top of the menu in elder mode
    # Its submission may wait in the kiosk's outbox (kiosk.outbox) while the backends cannot
    # be reached; never an item that takes payment (`works_offline`).
    offline_capable: bool = False
    in_person_only: bool = False    # a village agent may not run it for a citizen

    def text(self, field: Text, language: str) -> str:
        return field.get(language) or field["zh"]

    @property
    def takes_payment(self) -> bool:
        return any(s.step == "pay" for s in self.steps)

    @property
    def backends(self) -> frozenset[str]:
        """The backends its steps call (by the name their `backend` param gives)."""
        return frozenset(str(s.raw["backend"]) for s in self.steps if "backend" in s.raw)

    @property
    def works_offline(self) -> bool:
        """Runs with the backends out of reach: its submission waits in the outbox. Money never
        waits: an item that takes payment needs the gateway whatever the catalog says."""
        return not self.online or (self.offline_capable and not self.takes_payment)

    @property
    def runs_on_kiosk(self) -> bool:
        """False for a guide-only item: the kiosk shows its guide; it is done at a window."""
        return bool(self.steps)

    @property
    def rates_itself(self) -> bool:
        """The rating item (好差评 by a receipt's code): no rating is asked after it."""
        return any(spec.step == "rate_service" for spec in self.steps)

    @property
    def fee_kind(self) -> str:
        return self.fee.kind

    @property
    def level(self) -> str:
        return self.handling_level

    @property
    def time_limit_days(self) -> int:
        return self.time_limit.promised


@dataclass(frozen=True)
class Catalog:
    version: str
    items: tuple[ServiceItem, ...]

    _by_code: dict[str, ServiceItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {item.code: item for item in self.items})

    def item(self, code: str) -> ServiceItem:
        return self._by_code[code]
