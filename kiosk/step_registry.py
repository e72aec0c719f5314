"""What every step module builds on: the run a step is given (FlowRun) and the two helpers the
steps share (a text in both languages, a backend's failure as the citizen's reason). The core
steps are in kiosk.steps, the service hall's beside them; kiosk.step_library lists them all,
with the parameters each declares (kiosk.step_declarations)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kiosk.backends import BackendError
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.i18n import TEXTS
from kiosk.journal import Transaction
from kiosk.json_object import JsonObject, JsonValue
from kiosk.templating import TemplateError, render
from kiosk.transaction import TxRun

# The steps' logger, named as before the registry left kiosk.steps (log filters select by it).
log = logging.getLogger("kiosk.steps")


@dataclass
class FlowRun:
    """One citizen's run of one item: the context, the transaction (its run object, owned by
    the transaction core), and the state the steps share (personal data included: it lives
    here, in memory, for this run only)."""

    ctx: FlowContext
    item_code: str
    txn: TxRun
    state: JsonObject = field(default_factory=dict)
    receipt_note: str = ""

    @property
    def tx(self) -> Transaction:
        """The journaled transaction as this run last saw it (templates read it as `tx`)."""
        return self.txn.tx

    def ensure_identified(self, subject: str) -> None:
        self.state["subject"] = subject
        self.txn.identify(subject)

    def ensure_quoted(self, amount_fen: int, detail: JsonObject | None = None) -> None:
        self.txn.quote(amount_fen, detail)

    def render(self, template: JsonValue) -> JsonValue:
        try:
            return render(template, {**self.state, "tx": self.tx})
        except TemplateError as exc:
            log.error("catalog template failed in %s: %s", self.item_code, exc)
            raise FlowFailure(Reason.BACKEND_REJECTED) from exc



def _both(key: str, **params: object) -> dict[str, str]:
    entry = TEXTS[key]
    return {lang: text.format(**params) if params else text for lang, text in entry.items()}


def _backend_failure(exc: BackendError) -> FlowFailure:
    if exc.refused and exc.status == 404:
        return FlowFailure(Reason.NOT_FOUND)
    return FlowFailure(Reason.BACKEND_REJECTED if exc.refused else Reason.BACKEND_UNAVAILABLE)
