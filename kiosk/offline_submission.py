"""The submit step's way through a bad link: an offline-capable item's submission is accepted
into the kiosk's outbox (kiosk.outbox) instead of failing, and the citizen is told it will be
sent. Only items that take no money get here (ServiceItem.works_offline): money never waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kiosk.json_object import JsonObject
from kiosk.outbox import Outbox, Submission

if TYPE_CHECKING:
    from kiosk.steps import FlowRun
    from kiosk.transaction import TransactionCore

QUEUED = "queued"  # run.state flag the receipt and the result screen read


def may_wait(run: FlowRun) -> bool:
    """Whether this run's item may leave its submission in the outbox."""
    return bool(run.state.get("item", {}).get("works_offline"))


def link_known_down(run: FlowRun) -> bool:
    """The session found the backends out of reach: no citizen waits for time-outs to learn it."""
    return may_wait(run) and not run.ctx.view.network_ok


@contextmanager
def outbox_for(run: FlowRun) -> Iterator[Outbox | None]:
    """The kiosk's outbox for a submission that may wait in it (the transaction core accepts it
    there, kiosk.transaction.run.TxRun.submit), else None."""
    if not may_wait(run):
        yield None
        return
    outbox = Outbox(run.ctx.config.state_dir)
    try:
        yield outbox
    finally:
        outbox.close()


def note_delivery(transactions: TransactionCore) -> Callable[[Submission, JsonObject], None]:
    """The courier's `on_delivered`: the backend's ids join the transaction's detail, written by
    the journal's one writer."""

    def noted(submission: Submission, result: JsonObject) -> None:
        if submission.tx_id:
            transactions.delivered_later(submission.tx_id, result)

    return noted
