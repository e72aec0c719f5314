"""The submit step's way through a bad link: an offline-capable item's submission is accepted
into the kiosk's outbox (kiosk.outbox) instead of failing, and the citizen is told it will be
sent. Only items that take no money get here (ServiceItem.works_offline): money never waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.journal import Journal, TxState
from kiosk.outbox import Outbox, Submission

if TYPE_CHECKING:
    from kiosk.steps import FlowRun

log = logging.getLogger(__name__)

QUEUED = "queued"  # run.state flag the receipt and the result screen read


def may_wait(run: FlowRun) -> bool:
    """Whether this run's item may leave its submission in the outbox."""
    return bool(run.state.get("item", {}).get("works_offline"))


def link_known_down(run: FlowRun) -> bool:
    """The session found the backends out of reach: no citizen waits for time-outs to learn it."""
    return may_wait(run) and not run.ctx.view.network_ok


def accept_into_outbox(run: FlowRun, params: dict[str, Any], body: dict, key: str) -> None:
    """Writes the submission durably (same idempotency key as the live call), then marks the
    transaction fulfilled by the kiosk; the courier delivers it and notes the backend's ids."""
    outbox = Outbox(run.ctx.config.state_dir)
    try:
        outbox.put(Submission(key, params["backend"], params["path"], body, run.tx.tx_id))
    finally:
        outbox.close()
    log.info("submission of %s waits in the outbox", run.item_code,
             extra={"transaction": run.tx.tx_id})
    run.state[QUEUED] = True
    # What the receipt and result show for the ids the backend has not given yet (catalog data).
    run.state[params["into"]] = dict(params.get("queued_result", {}))
    run.move(TxState.FULFILLED, detail={"result": {}, "queued": "outbox"})


def note_delivery(journal: Journal) -> Callable[[Submission, dict], None]:
    """The courier's `on_delivered`: the backend's ids join the transaction's detail."""

    def noted(submission: Submission, result: dict) -> None:
        if not submission.tx_id:
            return
        try:
            tx = journal.get(submission.tx_id)
        except KeyError:
            return  # pruned by retention long after it was accepted
        ids = {k: v for k, v in result.items() if k.endswith("_id") or k.endswith("_no")}
        journal.annotate(tx, {"result": ids, "queued": "delivered", "delivered_at": time.time()})

    return noted
