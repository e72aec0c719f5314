"""Runs a catalog item's steps for one citizen: a time-out per step, cancel at every step, and a
clear end. However the flow ends (done, failed, cancelled, walked away from, timed out), the
transaction core settles the transaction and the result screen says what it settled: done, not
charged, refunded, or being checked with a reference to keep.
"""

from __future__ import annotations

import asyncio
import logging

from kiosk.catalog import ServiceItem
from kiosk.flow import FlowContext, FlowFailure, Reason
from kiosk.i18n import LANGUAGES, format_fen
from kiosk.json_object import JsonObject
from kiosk.receipts import print_slip
from kiosk.step_library import STEP_LIBRARY
from kiosk.steps import FlowRun, _both
from kiosk.transaction import Outcome, Settlement, TxRun, citizen_message
from kiosk.viewmodel import ScreenId

log = logging.getLogger(__name__)

# What the citizen is told while a step runs that they only wait for (shown after 300 ms).
BUSY_KEYS = {"lookup": "busy.lookup", "pay": "busy.order", "submit": "busy.submitting",
             "print_receipt": "busy.printing"}


class FlowEngine:
    def __init__(self, ctx: FlowContext, agent_id: str = "") -> None:
        self.ctx = ctx
        self.agent_id = agent_id  # a village agent runs it for a citizen who consented
        self._task: asyncio.Task[None] | None = None
        self._citizen_left: Reason | None = None  # the citizen's cancel, or walking away
        self._ending = False
        self.tx_id = ""   # the transaction of the run, once it has one (the rating names it)

    def cancel_by_citizen(self, reason: Reason = Reason.CANCELLED) -> None:
        """The citizen pressed cancel (or walked away): the step stops, the ending is settled
        and shown. Ignored while the ending is being settled: nothing can stop that."""
        if self._ending or self._citizen_left is not None:
            return
        self._citizen_left = reason
        if self._task is not None:
            self._task.cancel()

    async def run(self, item: ServiceItem) -> None:
        """Runs `item` to its result screen (or, when nothing happened to anyone's money after a
        citizen's cancel, back to the attract screen: CancelledError is then re-raised)."""
        ctx = self.ctx
        self._task = asyncio.current_task()
        if self._citizen_left is not None:
            raise asyncio.CancelledError  # cancelled before it started
        txn = await ctx.transactions.begin(item.code, self.agent_id)
        self.tx_id = txn.tx_id
        run = FlowRun(ctx, item.code, txn,
                      state={"item": {"time_limit_days": item.time_limit_days,
                                      "works_offline": item.works_offline}})
        ctx.view.update(service_title=item.name)
        failure: FlowFailure | None = None
        shutting_down = False
        try:
            for spec in item.steps:
                # A step's catalog time is the citizen's (kiosk.citizen_time watches it); this
                # is only the safety net, never shorter, and doubled in elder mode.
                timeout = ctx.config.ui.citizen_seconds(
                    max(spec.timeout_s or 0, ctx.config.flow.step_timeout_s), ctx.view.elder)
                ctx.view.update(busy_key=BUSY_KEYS.get(spec.step, ""))
                try:
                    with ctx.trace.span(spec.step):
                        await asyncio.wait_for(STEP_LIBRARY[spec.step].run(run, spec.params),
                                               timeout)
                except TimeoutError as exc:
                    raise FlowFailure(Reason.STEP_TIMEOUT) from exc
                finally:
                    ctx.view.update(busy_key="")
        except FlowFailure as exc:
            failure = exc
        except asyncio.CancelledError:
            shutting_down = self._citizen_left is None
            failure = FlowFailure(self._citizen_left or Reason.CANCELLED)
            if not shutting_down and self._task is not None:
                self._task.uncancel()
        except Exception:
            log.exception("step failed unexpectedly", extra={"transaction": txn.tx_id})
            failure = FlowFailure(Reason.INTERNAL_ERROR)
        self._ending = True
        if failure is not None:
            # The operator's reason code for the ending the citizen is shown (the step's own
            # line says what the device said: a chip's refusal, not whose keys it refused).
            log.info("flow ended: %s", failure.reason.value,
                     extra={"transaction": txn.tx_id, "reason": failure.reason.value})
            ctx.show(ScreenId.PROCESSING, status_key="settle.checking", busy=True, preview=None)
        with ctx.trace.span("settle"):
            settlement = await asyncio.shield(txn.finish())
        if shutting_down:
            raise asyncio.CancelledError
        if self._citizen_left and settlement.outcome is Outcome.NOT_CHARGED \
                and not txn.tx.orders:
            # Nothing happened: straight back to the start. Once an order exists, the way out
            # is a screen that says what became of the money, with the order number.
            raise asyncio.CancelledError
        with ctx.trace.span("result"):
            await self._show(run, txn, settlement, failure)

    async def _show(self, run: FlowRun, txn: TxRun, settlement: Settlement,
                    failure: FlowFailure | None) -> None:
        slip = False
        if settlement.outcome is Outcome.CHECKING or (
                settlement.outcome is Outcome.ATTENTION and settlement.taken_fen):
            slip = await print_slip(self.ctx, txn.tx, settlement.reference)
        ok, keys = citizen_message(settlement, failure.reason.value if failure else None, slip)
        lines: tuple[dict[str, str], ...] = run.state.get("result_lines", ()) if ok else ()
        seen: set[str] = set()
        for key, params in keys:
            if key not in seen:
                seen.add(key)
                lines += (self._render(key, params),)
        self.ctx.show(
            ScreenId.RESULT,
            result_ok=ok,
            result_title_key="result.ok.title" if ok else "result.fail.title",
            result_lines=lines,
            busy=False,
            preview=None,
        )

    def _render(self, key: str, params: JsonObject) -> dict[str, str]:
        hotline = self.ctx.config.flow.office_hotline
        if "fen" in params:
            return {lang: _both(key, hotline=hotline,
                                amount=format_fen(params["fen"], lang), **params)[lang]
                    for lang in LANGUAGES}
        return _both(key, hotline=hotline, **params)
