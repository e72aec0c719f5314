"""What each catalog step accepts as its `params`: one frozen dataclass per step (kiosk.step_params
checks a catalog against them when it is accepted). A catalog author's reference: every key a
step reads, its type and its default.

Values called templates (`JsonValue`, or `str` where noted) may hold {placeholders} filled from
the run's state when the step runs (kiosk.templating).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kiosk.json_object import JsonObject, JsonValue
from kiosk.step_params import Lines, NoParams, ParamsError, Text

__all__ = ["NoParams"]


@dataclass(frozen=True)
class ReadPermitParams:
    keys: str = "permit_keys"  # the state key where a lookup left the chip's BAC keys
    # What the citizen is asked to lay on the reader (the screen's words): "permit" (the
    # exit-entry permit) or "passport".
    document: str = "permit"

    def __post_init__(self) -> None:
        if self.document not in ("permit", "passport"):
            raise ParamsError(f"document must be permit or passport, not {self.document!r}")


@dataclass(frozen=True)
class MrzFromPageParams:
    into: str = "permit_keys"  # the state key read_permit takes the chip's keys from
    attempts: int = 3  # placements of the page read before the keypad is offered
    attempt_timeout_s: float = 20.0  # how long one placement is waited for
    refusals: int = 3  # frames of a page lying there whose MRZ does not read: a failed try
    retry_pause_s: float = 2.5  # the instruction to place it again is up this long first
    keypad: bool = True  # after the last try: type the three fields (False: the flow fails)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.refusals < 1:
            raise ParamsError("attempts and refusals must be at least 1")


@dataclass(frozen=True)
class ScanMaterialsParams:
    materials: tuple[JsonValue, ...]  # what the citizen places, in turn (shown on screen)
    page_timeout_s: float = 30.0
    into: str = "materials_pdf_b64"
    attempts: int = 3


@dataclass(frozen=True)
class LookupParams:
    backend: str
    path: str  # template
    into: str
    method: str = "GET"  # or POST: a read that carries personal data in its body
    body: JsonValue = field(default_factory=dict)  # template (POST)

    def __post_init__(self) -> None:
        if self.method not in ("GET", "POST"):
            raise ParamsError(f"method must be GET or POST, not {self.method!r}")


@dataclass(frozen=True)
class ChooseOptionParams:
    into: str
    title: Text = field(default_factory=dict)
    options: Lines | None = None  # [{code, label: {lang: text}, ...}]
    options_from: str | None = None  # or: a state path to a list of objects, labelled by:
    label: Text | None = None  # language -> the key of each object's label
    code: str = "code"  # the key of each object's code
    fee: str | None = None  # the key of each option's fee in fen: the choice quotes it

    def __post_init__(self) -> None:
        if (self.options is None) == (self.options_from is None):
            raise ParamsError("give either options or options_from")
        if self.options_from is not None and self.label is None:
            raise ParamsError("options_from needs a label")


@dataclass(frozen=True)
class EnterAccountParams:
    into: str
    pattern: str = r"^\d{4,30}$"
    title: Text = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ParamsError(f"pattern is not a regular expression: {exc}") from None


@dataclass(frozen=True)
class ConfirmAmountParams:
    amount: JsonValue  # template: the amount due in fen
    lines: Lines  # [{label: {lang: text}, value: template}]


@dataclass(frozen=True)
class PayParams:
    description: JsonValue = ""  # template: what the payment app shows


@dataclass(frozen=True)
class SubmitParams:
    backend: str
    path: str
    into: str
    body: JsonValue = field(default_factory=dict)  # template
    record: tuple[str, ...] = ()  # result fields (reference numbers) kept in the journal
    delivery: str = ""  # how the backend delivers (outbox rules: kiosk.offline_submission)
    queued_result: JsonObject = field(default_factory=dict)  # placeholders while queued


@dataclass(frozen=True)
class PrintReceiptParams:
    title: Text
    lines: Lines = ()  # [{label: {lang: text}, value: template}]
    optional: bool = True  # False: a receipt that does not print stops the transaction
    copies: JsonValue = None  # template: copies paid for, each one delivered or refunded


@dataclass(frozen=True)
class ShowResultParams:
    lines: Lines = ()  # [{lang: template}]


@dataclass(frozen=True)
class IdentifyOrScanParams:
    into: str = "code"
    status_key: str = "identify.card_or_code"


@dataclass(frozen=True)
class ProgressLookupParams:
    code: str = "code"
    into: str = "applications"
    path: str = "/lookup"
    backend: str = "progress"


@dataclass(frozen=True)
class ProgressShowParams:
    rows: str = field(default="applications", metadata={"key": "from"})
    title: Text = field(default_factory=lambda: {"zh": "办件查询结果"})


@dataclass(frozen=True)
class PrintSlipParams:
    title: Text
    lines: Lines = ()  # [{label: {lang: text}, value: template}]
    qr: JsonValue = None  # template


@dataclass(frozen=True)
class EnterPhoneParams:
    title: Text = field(default_factory=lambda: {
        "zh": "请输入手机号码，用于接收短信通知", "en": "Your mobile number, for a text message"})
    into: str = "phone"


@dataclass(frozen=True)
class QueueTicketParams:
    categories: Lines
    backend: str = "queue"
    title: Text = field(default_factory=dict)


@dataclass(frozen=True)
class PrintCertificateParams:
    issued: str = field(default="certificate", metadata={"key": "from"})
    print_timeout_s: float = 120.0


@dataclass(frozen=True)
class CollectDocumentParams:
    take_timeout_s: float = 30.0
    backend: str = "documents"


@dataclass(frozen=True)
class RateServiceParams:
    of: str = "this"  # or "receipt": rate the service a receipt names
    deliver_wait_s: float = 3.0
