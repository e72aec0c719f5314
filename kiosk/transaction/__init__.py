"""The transaction core: the one owner of every transaction, and the only writer of the journal.

What it holds
- `TxRun`, the run object a flow's steps move a transaction with (identify, quote, collect the
  payment, submit, deliver, print), and `TransactionCore`, which creates runs, settles them and
  runs the reconciler. `JournalWriter` is the journal with its writes; nothing outside this
  package writes the journal (tests/kiosk/test_journal_writers.py fails if anything does).

Compare-and-set
- Every transition names the state it was decided from: the writer updates the row only
  `WHERE state = <that state>`; otherwise `StaleTransition` says what it found. `settle` logs
  it with its reason and settles again from what the journal says now; a flow never crashes on
  it.

Orders
- Every order number a transaction creates (the QR order, a micropay, any later kind) is
  journaled, with its kind, before the call that creates it. Settling asks the gateway about
  every one of them and makes each unpayable (close a QR order; reverse a micropay, which also
  bars one the gateway never saw from arriving late). The gateway's answers, its query and the
  relayed payment notifications are joined as facts that only grow (orders.OrderFacts): a
  duplicate or late view changes nothing; decisions rest on the gateway's own answer.

Settling (`TransactionCore.settle`, settlement.decide)
- The one decision of how a transaction ends, called by the flow at its end (success or not),
  by the payment step's give-up (through the flow's end) and by the reconciler. It re-reads the
  journal, makes the journaled refunds (they are keyed: again is harmless), learns every order
  and the delivery (the backend's record of the submission by its idempotency key), and only
  then decides: close (what is kept is what was delivered), refund the difference (a partial
  delivery such as one of two copies printed, a double payment, or everything), cancel (only
  when every order is known unpaid and closed), wait (something is unknown: it stays as it is,
  with the reason operators see, retried with exponential backoff), or needs_attention with a
  reason (the facts contradict each other). What the citizen is told is derived from the result
  (`settlement.citizen_message`), never assumed: "not charged" only when cancelled.

Owners: one at a time
- A transaction belongs to exactly one owner, in memory: the flow that created it, from
  `begin` until `TxRun.finish` has settled it; then nobody, and the reconciler may claim it for
  one settle at a time. The reconciler never touches an owned transaction, and between citizens
  it settles only transactions whose retry is due. Starting a service (`begin`) waits while the
  reconciler settles a transaction (at most one: the pass skips the rest while a flow is live
  and takes them up on its next pass), so a new transaction is never in the middle of a pass.
- A crash ends every owner with the process: at start-up, before the attract screen, recovery
  settles everything unfinished. One process writes a journal: the writer holds an exclusive
  lock on it, so a second kiosk process on the same journal is refused (`JournalBusy`).
"""

from kiosk.transaction.core import ReconcileReport, TransactionCore
from kiosk.transaction.journal_writer import (
    IllegalTransition,
    JournalBusy,
    JournalWriter,
    StaleTransition,
)
from kiosk.transaction.ownership import Owner
from kiosk.transaction.run import PaymentFailed, PaymentProblem, SubmissionFailed, TxRun
from kiosk.transaction.settlement import Outcome, Settlement, citizen_message

__all__ = [
    "IllegalTransition",
    "JournalBusy",
    "JournalWriter",
    "Outcome",
    "Owner",
    "PaymentFailed",
    "PaymentProblem",
    "ReconcileReport",
    "Settlement",
    "StaleTransition",
    "SubmissionFailed",
    "TransactionCore",
    "TxRun",
    "citizen_message",
]
