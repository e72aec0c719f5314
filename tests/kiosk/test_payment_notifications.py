"""Payment by notification: the gateway's notification, through the platform's relay, completes
the payment as it arrives; the query on a timer is only the fallback for one that never comes."""

from __future__ import annotations

import asyncio
import dataclasses

from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from tests.kiosk.test_flow_engine import kiosk, start_bill, until  # noqa: F401 - the fixture


def with_poll(ctx, poll_s: float) -> None:
    ctx.config = dataclasses.replace(ctx.config, flow=dataclasses.replace(
        ctx.config.flow, payment_poll_s=poll_s, payment_timeout_s=120.0))


async def test_a_paid_notification_completes_the_payment_without_waiting_a_poll(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    with_poll(ctx, 60.0)     # the fallback query would come after a minute
    await start_bill(ctx, session)
    await asyncio.sleep(0.3)   # the kiosk waits on the pay screen
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT, timeout=10)
    assert ctx.view.result_ok
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.CLOSED and backends.notifier.sent >= 1


async def test_without_notifications_the_query_still_finds_the_payment(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    backends.notifier.drop = True   # the gateway's notifications never reach the relay
    with_poll(ctx, 0.3)
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT, timeout=10)
    assert ctx.view.result_ok and backends.notifier.sent == 0
    [tx] = ctx.journal.recent()
    assert tx.state is TxState.CLOSED
