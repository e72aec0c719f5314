"""Runs a catalog item's steps for one citizen: a time-out per step, cancel at every step, the
journal kept in step, and a clear end: done, not done (and not charged), or refunded.
"""

from __future__ import annotations

import asyncio
import logging

from kiosk.backends import BackendError, OrderStatus
from kiosk.catalog import ServiceItem
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.journal import TxState
from kiosk.payments import refund, settle_unpaid
from kiosk.steps import STEPS, FlowRun, _both
from kiosk.viewmodel import ScreenId

log = logging.getLogger(__name__)

# What the citizen is told while a step runs that they only wait for (shown after 300 ms).
BUSY_KEYS = {"lookup": "busy.lookup", "pay": "busy.order", "submit": "busy.submitting",
             "print_receipt": "busy.printing"}


class FlowEngine:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.tx_id = ""   # the transaction of the run, once it has one (the rating names it)

    async def run(self, item: ServiceItem) -> None:
        """Runs `item` to its result screen; on cancellation cleans up and re-raises."""
        ctx = self.ctx
        tx = ctx.journal.create(item.code)
        self.tx_id = tx.tx_id
        run = FlowRun(ctx, item.code, tx,
                      state={"tx": tx, "item": {"time_limit_days": item.time_limit_days,
                                                "works_offline": item.works_offline}})
        ctx.view.update(service_title=item.name)
        log.info(
            "transaction %s started for %s", tx.tx_id, item.code, extra={"transaction": tx.tx_id}
        )
        try:
            for spec in item.steps:
                # A step's catalog time is the citizen's (kiosk.citizen_time watches it); this
                # is only the safety net, never shorter, and doubled in elder mode.
                timeout = ctx.config.ui.citizen_seconds(
                    max(spec.timeout_s or 0, ctx.config.flow.step_timeout_s), ctx.view.elder)
                ctx.view.update(busy_key=BUSY_KEYS.get(spec.step, ""))
                try:
                    await asyncio.wait_for(STEPS[spec.step](run, spec.params), timeout)
                except TimeoutError as exc:
                    raise FlowFailure(Reason.STEP_TIMEOUT, charged=run.charged) from exc
                finally:
                    ctx.view.update(busy_key="")
            self._complete(run)
        except FlowFailure as failure:
            await self._end_unfinished(run, failure)
            self._show_failure(run, failure)
        except asyncio.CancelledError:
            await asyncio.shield(self._end_unfinished(run, FlowFailure(Reason.CANCELLED)))
            if run.tx.out_trade_no:
                # An order exists: the citizen leaves through a screen that says what became
                # of the money, with the order number, not straight to the attract loop.
                self._show_failure(run, FlowFailure(Reason.CANCELLED))
            raise
        except Exception:
            log.exception("step failed unexpectedly", extra={"transaction": run.tx.tx_id})
            unexpected = FlowFailure(Reason.NEEDS_ATTENTION)
            await self._end_unfinished(run, unexpected)
            self._show_failure(run, unexpected)

    def _complete(self, run: FlowRun) -> None:
        if run.tx.state in (TxState.FULFILLED, TxState.RECEIPTED):
            run.move(TxState.CLOSED)
        elif run.tx.state in (TxState.CREATED, TxState.IDENTIFIED, TxState.QUOTED):
            run.move(TxState.CANCELLED, "no_side_effect")
        self.ctx.show(
            ScreenId.RESULT,
            result_ok=True,
            result_title_key="result.ok.title",
            result_lines=run.state.get("result_lines", ()),
            busy=False,
            preview=None,
        )

    async def _end_unfinished(self, run: FlowRun, failure: FlowFailure) -> None:
        """Leaves the transaction in a final or reconcilable state; money goes back if taken."""
        ctx, tx = self.ctx, run.tx
        reason = failure.reason.value
        try:
            if tx.state in (TxState.CREATED, TxState.IDENTIFIED, TxState.QUOTED):
                run.move(TxState.CANCELLED, reason)
            elif tx.state is TxState.PAYMENT_PENDING:
                assert tx.out_trade_no
                order = await settle_unpaid(ctx.payment, tx.out_trade_no)
                if order is not None and order.status is OrderStatus.SUCCESS:
                    run.move(TxState.PAID, "paid_while_ending", paid_trade_no=order.out_trade_no)
                    run.tx = await refund(ctx.payment, ctx.journal, run.tx, reason)
                else:
                    run.move(TxState.CANCELLED, reason)
            elif tx.state is TxState.PAID:
                run.tx = await refund(ctx.payment, ctx.journal, tx, reason)
            elif tx.state is TxState.SUBMITTED:
                pass  # outcome unknown: the reconciler asks the backend, then closes or refunds
            elif tx.state in (TxState.FULFILLED, TxState.RECEIPTED):
                run.move(TxState.CLOSED, f"ended:{reason}")
        except BackendError:
            # The gateway cannot be reached now: the transaction stays unfinished and the
            # reconciler settles it (close, or refund) as soon as the gateway answers again.
            log.warning("could not settle %s now; left for reconciliation", tx.tx_id,
                        extra={"transaction": tx.tx_id, "reason": reason})
            run.tx = ctx.journal.get(tx.tx_id)

    def _show_failure(self, run: FlowRun, failure: FlowFailure) -> None:
        state = run.tx.state
        hotline = self.ctx.config.flow.office_hotline
        order = run.tx.out_trade_no or run.tx.tx_id
        if state is TxState.REFUNDED and failure.reason is not Reason.REFUNDED:
            lines = [
                _both(f"reason.{failure.reason.value}", hotline=hotline),
                _both("reason.refunded"),
            ]
        elif state in (TxState.PAYMENT_PENDING, TxState.PAID, TxState.SUBMITTED,
                       TxState.REFUND_PENDING):
            lines = [_both(f"reason.{failure.reason.value}", hotline=hotline),
                     _both("reason.settle_later"), _both("pay.order", order=order)]
        elif state is TxState.NEEDS_ATTENTION:
            lines = [
                _both("reason.needs_attention", hotline=hotline),
                _both("pay.order", order=order),
            ]
        else:
            lines = [_both(f"reason.{failure.reason.value}", hotline=hotline)]
            if state is TxState.CANCELLED:
                lines.append(_both("result.no_charge"))
                if run.tx.out_trade_no:
                    lines.append(_both("pay.order", order=order))
        self.ctx.show(
            ScreenId.RESULT,
            result_ok=False,
            result_title_key="result.fail.title",
            result_lines=tuple(lines),
            busy=False,
            preview=None,
        )
