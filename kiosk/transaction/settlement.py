"""The one decision of how a transaction ends, from facts alone, and what that means for the
citizen.

`decide` is pure: given the journaled transaction and the facts the core just learned (every
order at the gateway, the delivery at the backend, the refunds), it says close, refund (how
much, of which order), cancel, wait, or ask a person. `settlement_of` reads the outcome back from
the journal, and `citizen_message` is the only place that says what the citizen is told, so
"not charged" appears only when every order is known unpaid and closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.journal import Journal, Transaction, TxState
from kiosk.json_object import JsonObject
from kiosk.transaction.orders import OrderFacts, Standing


class Delivery(StrEnum):
    UNKNOWN = "unknown"  # the backend could not be asked
    NONE = "none"  # nothing was delivered
    DELIVERED = "delivered"  # delivered, worth `delivered_fen` of what was paid
    IN_DOUBT = "in_doubt"  # only a person can tell (a copy was printing when the power went)


@dataclass(frozen=True)
class Facts:
    orders: tuple[OrderFacts, ...]
    delivery: Delivery
    delivered_fen: int = 0
    submission: JsonObject | None = None  # the backend's record of the submission, when found now
    unconfirmed_refunds: int = 0  # journaled refunds the gateway has not confirmed yet
    refused_refund: str = ""  # the gateway's code, when it refused a journaled refund


class Verdict(StrEnum):
    WAIT = "wait"  # not known yet: stays as it is, retried with backoff
    CANCEL = "cancel"  # nothing taken, nothing delivered: every order known unpaid and closed
    REFUND = "refund"  # give back what was taken and not delivered
    CLOSE = "close"  # delivered, and what is kept is exactly what was delivered
    REFUNDED = "refunded"  # nothing delivered, and everything taken was given back
    ATTENTION = "attention"  # the facts contradict each other: a person must look


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    refunds: tuple[tuple[str, int], ...] = ()  # (order, fen) to give back
    paid_trade_no: str | None = None  # the order the service was paid with


def decide(tx: Transaction, facts: Facts) -> Decision:
    if facts.refused_refund:
        return Decision(Verdict.ATTENTION, f"refund_refused:{facts.refused_refund}")
    if facts.unconfirmed_refunds:
        return Decision(Verdict.WAIT, "refund_unconfirmed")
    if any(not o.confirmed for o in facts.orders):
        return Decision(Verdict.WAIT, "gateway_unreachable")
    if any(o.standing is Standing.OPEN for o in facts.orders):
        return Decision(Verdict.WAIT, "order_still_open")
    if facts.delivery is Delivery.UNKNOWN:
        return Decision(Verdict.WAIT, "backend_unreachable")
    if facts.delivery is Delivery.IN_DOUBT:
        return Decision(Verdict.ATTENTION, "delivery_in_doubt")
    paid = sorted((o for o in facts.orders if o.paid),
                  key=lambda o: o.out_trade_no != tx.paid_trade_no)  # the paying order first
    primary = paid[0].out_trade_no if paid else None
    taken = sum(o.amount_fen for o in paid)
    kept = sum(o.kept_fen for o in paid)
    delivered = facts.delivery is Delivery.DELIVERED
    keep = facts.delivered_fen if delivered else 0
    if keep > taken:
        return Decision(Verdict.ATTENTION, "delivered_unpaid")
    if keep > kept:
        return Decision(Verdict.ATTENTION, "refunded_beyond_delivery")
    if kept > keep:
        refunds, left_to_keep = [], keep
        for order in paid:
            kept_here = min(order.kept_fen, left_to_keep)
            left_to_keep -= kept_here
            if order.kept_fen > kept_here:
                refunds.append((order.out_trade_no, order.kept_fen - kept_here))
        reason = ("paid_not_delivered" if keep == 0 else
                  "paid_twice" if len(paid) > 1 else "delivered_in_part")
        return Decision(Verdict.REFUND, reason, tuple(refunds), primary)
    if delivered:
        return Decision(Verdict.CLOSE, "delivered", paid_trade_no=primary)
    if taken:
        return Decision(Verdict.REFUNDED, "refunded", paid_trade_no=primary)
    return Decision(Verdict.CANCEL, "nothing_paid")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    PARTLY_REFUNDED = "partly_refunded"  # delivered in part (or paid twice); the rest given back
    REFUNDED = "refunded"
    NOT_CHARGED = "not_charged"
    CHECKING = "checking"  # not settled yet: the reconciler goes on with it
    ATTENTION = "attention"


@dataclass(frozen=True)
class Settlement:
    tx_id: str
    outcome: Outcome
    reason: str
    taken_fen: int
    refunded_fen: int
    delivered: bool
    reference: str  # what the citizen quotes: the order that took the money, or the transaction
    unpaid_known: bool = False  # every order (if any) is known to have taken nothing


_DELIVERED_STATES = {TxState.FULFILLED, TxState.RECEIPTED, TxState.CLOSED}


def is_unsettled(tx: Transaction) -> bool:
    """The core's one answer to "is this transaction unsettled": not final, and not parked for
    a person (needs_attention, which no run of any version moves by itself). A restart or an
    update must wait for an unsettled one; the reconciler goes on settling it."""
    return not tx.final and tx.state is not TxState.NEEDS_ATTENTION


def unsettled(journal: Journal) -> list[Transaction]:
    return [tx for tx in journal.unfinished() if is_unsettled(tx)]


def settlement_of(tx: Transaction, reason: str = "") -> Settlement:
    """The outcome the journal shows now."""
    taken = sum(o.paid_fen for o in tx.orders)
    refunded = sum(o.refunded_fen for o in tx.orders)
    state = tx.state
    if state is TxState.CLOSED:
        outcome = Outcome.PARTLY_REFUNDED if refunded else Outcome.DELIVERED
    elif state is TxState.REFUNDED:
        outcome = Outcome.REFUNDED
    elif state is TxState.CANCELLED:
        outcome = Outcome.NOT_CHARGED
    elif state is TxState.NEEDS_ATTENTION:
        outcome = Outcome.ATTENTION
    else:
        outcome = Outcome.CHECKING
    delivered = state in _DELIVERED_STATES or bool(tx.detail.get("delivered_fen"))
    reference = tx.paid_trade_no or tx.out_trade_no or tx.tx_id
    unpaid_known = all(o.standing in ("absent", "unpaid") for o in tx.orders)
    return Settlement(tx.tx_id, outcome, reason or tx.attention or "", taken, refunded, delivered,
                      reference, unpaid_known)


Line = tuple[str, dict[str, object]]  # an i18n key and its parameters
# Endings (kiosk.flow.Reason values) where the service was done but the citizen does not hold
# it: a finished document not taken in time went into the retain bin, safe, for staff.
_NOT_IN_HAND = frozenset({"document_retained"})


def citizen_message(settlement: Settlement, failure: str | None,
                    slip_printed: bool) -> tuple[bool, tuple[Line, ...]]:
    """(success, lines) for the result screen: the only place that decides what the citizen is
    told about their money. `failure` is why the flow stopped (a kiosk.flow.Reason value)."""
    outcome = settlement.outcome
    if failure is None and settlement.delivered and outcome is not Outcome.ATTENTION:
        if outcome is Outcome.PARTLY_REFUNDED:
            return True, (("result.partly_refunded", {"fen": settlement.refunded_fen}),)
        return True, ()
    if failure is None and outcome is Outcome.NOT_CHARGED and not settlement.taken_fen:
        return True, ()  # done, and nothing to pay or issue (a progress lookup, a rating)
    why: tuple[Line, ...] = ((f"reason.{failure}", {}),) if failure else ()
    if outcome is Outcome.NOT_CHARGED:
        if settlement.reference == settlement.tx_id:  # no order was ever made
            return False, (*why, ("result.no_charge", {}))
        return False, (*why, ("result.no_charge", {}),
                       ("pay.order", {"order": settlement.reference}))
    if outcome is Outcome.REFUNDED:
        return False, (*why, ("reason.refunded", {}))
    if outcome is Outcome.PARTLY_REFUNDED:
        return False, (*why, ("result.partly_refunded", {"fen": settlement.refunded_fen}))
    if outcome is Outcome.DELIVERED and failure in _NOT_IN_HAND:
        return False, why  # done as far as money goes, but the citizen does not hold it
    if outcome is Outcome.DELIVERED:  # stopped after the service was done: it is done
        return True, (("result.completed", {"reference": settlement.reference}),)
    keep: Line = ("result.slip_printed" if slip_printed else "result.note_reference", {})
    reference: Line = ("result.reference", {"reference": settlement.reference})
    if outcome is Outcome.ATTENTION and settlement.unpaid_known:
        return False, (*why, ("result.attention_unpaid", {}), reference)
    if outcome is Outcome.ATTENTION and settlement.taken_fen:
        return False, (*why, ("reason.needs_attention", {}), reference, keep)
    return False, (*why, ("result.checking", {}), reference, keep)
