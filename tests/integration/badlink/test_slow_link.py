"""The slow village link: 64 kbit/s each way, 300 ms one way. What must still work through it
(a bill payment, a pre-review's upload from the outbox) and what must not eat it (the catalog
checks). How long things take on it is bench.badlink's figure, not a test's."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from simulator.reference import BILL_PAYMENT, WATER_ACCOUNT
from tests.integration.badlink.test_offline_items import link_down, prereview

VILLAGE_LINE = {"bandwidth_bps": 64_000, "latency_s": 0.3}


async def test_a_bill_payment_completes_at_64_kbits_and_300_ms(village):
    village.link.configure(VILLAGE_LINE)
    await village.start(BILL_PAYMENT)
    await village.until(ScreenId.ENTER_ACCOUNT)
    village.type_digits(WATER_ACCOUNT)
    await village.until(ScreenId.CONFIRM, timeout=60)
    village.session.choose_option("confirm")
    await village.until(ScreenId.PAY, timeout=60)
    village.sim.gateway.pay(code_url=village.view.qr_payload)
    text = await village.result(timeout=120)
    assert village.view.result_ok, text
    tx = village.last_tx()
    assert tx.state is TxState.CLOSED and tx.amount_fen > 0
    (paid,) = [o for o in village.sim.gateway.orders.values() if o.status.value == "SUCCESS"]
    assert paid.amount_fen == tx.amount_fen
    assert len(village.sim.backends.services.bill_payments) == 1


async def test_idle_catalog_checks_never_download_the_catalog_again(village):
    village.link.configure(VILLAGE_LINE)
    before = village.link.counters.bytes_down
    checks = village.sim.backends.catalog.not_modified
    await asyncio.sleep(4.0)  # ~13 checks at the test's 0.3 s interval (5 s on a kiosk)
    assert village.sim.backends.catalog.not_modified - checks >= 3
    per_check = (village.link.counters.bytes_down - before) / (
        village.sim.backends.catalog.not_modified - checks)
    assert per_check < 600  # a 304's headers, not the ~100 KB of the gzipped catalog
    assert village.session.network_ok


@pytest.mark.parametrize("village", [{"backends": {"link_floor_bps": 256_000}}], indirect=True)
async def test_a_prereview_waiting_in_the_outbox_gets_through_a_thin_link(village):
    """~300 KB of scanned pages take ~10 s at 256 kbit/s, longer than the 5 s deadline: a
    deadline that ignored the size would cut every attempt off and retry forever."""
    await link_down(village)
    await prereview(village)
    village.link.configure({"down": False, "bandwidth_bps": 256_000, "latency_s": 0.05})
    await village.until_true(lambda: village.outbox_counts()["pending"] == 0, 90,
                             "the pre-review delivered through the thin link")
    assert len(village.sim.backends.services.prereviews) == 1
    assert village.outbox_counts()["refused"] == 0
