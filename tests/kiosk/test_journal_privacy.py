"""The journal after a real bill payment: owner-only, and no bill or account identifier in it
or in the kiosk's log, only the references the catalog names (the utility's payment number)."""

from __future__ import annotations

import logging
import stat

import pytest

from kiosk.journal import TxState
from kiosk.logs import setup_logging
from kiosk.viewmodel import ScreenId
from simulator.reference import WATER_ACCOUNT
from tests.kiosk.test_flow_engine import kiosk, start_bill, until  # noqa: F401 - the fixture
from tests.logging_kit import root_logger_kept


@pytest.fixture
def kiosk_log(tmp_path):
    """The kiosk's own logging set-up (masked handlers, kiosk.log), undone afterwards."""
    with root_logger_kept():
        setup_logging(tmp_path / "logs", logging.DEBUG)
        yield tmp_path / "logs" / "kiosk.log"


async def test_a_paid_bill_leaves_no_account_in_the_journal_or_the_log(kiosk, kiosk_log):  # noqa: F811
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    [tx] = ctx.journal.recent()
    assert tx.state in (TxState.RECEIPTED, TxState.CLOSED) and ctx.view.result_ok
    [payment] = backends.services.bill_payments.values()
    bill_id = payment["bill_id"]
    assert WATER_ACCOUNT in bill_id  # what the utility's answer carries, and must stay out
    assert tx.detail["result"] == {"payment_id": payment["payment_id"]}

    path = ctx.config.journal_path
    files = [f for f in (path, path.with_name(path.name + "-wal")) if f.exists()]
    assert files[0] == path
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        written = file.read_bytes()
        assert WATER_ACCOUNT.encode() not in written, file
        assert bill_id.encode() not in written, file
    for handler in logging.getLogger().handlers:
        handler.flush()
    log_text = kiosk_log.read_text(encoding="utf-8")
    assert tx.tx_id in log_text  # the log is the kiosk's, written during this payment
    assert WATER_ACCOUNT not in log_text and bill_id not in log_text
