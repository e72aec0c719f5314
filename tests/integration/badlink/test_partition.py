"""The partition test: the village link is down for 10 minutes of simulated time while 50
submissions are made at the kiosk; when it returns, the kiosk finds out by itself, every item
comes back on, and the backends hold each submission exactly once, in order, with the
citizens' text messages sent then."""

from __future__ import annotations

import asyncio

from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from simulator.reference import CITIZEN_PHONE, SERVICE_RATING
from tests.integration.badlink.test_offline_items import link_down, prereview, tiles

PREREVIEWS = 10
RATINGS = 40  # each of a pre-review's receipt, scanned at the kiosk
OUTAGE_S = 600.0  # simulated: the hall's clock moves this much while the link is down


async def rate(village, tx_id: str, level: str) -> str:
    await village.start(SERVICE_RATING)
    await village.until(ScreenId.ENTER_ACCOUNT)
    await village.scan(tx_id)
    await village.until(ScreenId.CHOOSE)
    village.session.choose_option(level)
    text = await village.result()
    village.session.finish()
    return text


async def test_fifty_submissions_across_a_ten_minute_outage_arrive_once_in_order(village):
    before = tiles(village)
    assert all(available for available, _ in before.values())
    await link_down(village)
    clock = village.sim.backends.clock
    down_at = clock.now()
    step = OUTAGE_S / (PREREVIEWS + RATINGS)
    accepted: list[str] = []
    for _ in range(PREREVIEWS):
        text = await prereview(village)
        assert village.view.result_ok and "网络恢复后将自动提交" in text
        accepted.append(village.last_tx().tx_id)
        village.sim.backends.hall.advance(step)
    for n in range(RATINGS):
        text = await rate(village, accepted[n % PREREVIEWS], str(3 + n % 3))
        assert "感谢您的评价" in text
        village.sim.backends.hall.advance(step)
    assert clock.now() - down_at >= OUTAGE_S
    assert village.outbox_counts() == {"pending": 50, "delivered": 0, "refused": 0}
    assert village.sim.backends.services.prereviews == {} and village.sim.backends.hall.ratings == {}
    assert village.sim.backends.sms.messages == []

    # The link returns; its first answer is lost on the way back (the backend did the work).
    village.sim.backends.faults["certificates"].lose_next = 1
    up_at = clock.now()
    village.link.configure({"down": False})
    await village.until_true(lambda: village.outbox_counts()["pending"] == 0, 120,
                             "the outbox empties by itself")
    await village.until_true(lambda: tiles(village) == before, 10, "every item back on")

    backends = village.sim.backends
    reviews = backends.services.prereviews
    assert len(reviews) == PREREVIEWS and len(backends.hall.ratings) == RATINGS   # 0 lost, 0 twice
    # In the order the citizens made them: the backend numbers them as they arrive.
    numbered = [reviews[village.ctx.journal.get(tx).idempotency_key("submit")]["prereview_id"]
                for tx in accepted]
    assert numbered == sorted(numbered)
    for tx_id in accepted:
        tx = village.ctx.journal.get(tx_id)
        assert tx.state is TxState.CLOSED and tx.detail["queued"] == "delivered"
        assert tx.detail["result"].get("prereview_id") in numbered, tx.detail
    texts = backends.sms.messages
    assert len(texts) == PREREVIEWS and {m["to"] for m in texts} == {CITIZEN_PHONE}
    assert all(m["sent_at"] >= up_at for m in texts)   # sent when the link returned, not before
    assert village.outbox_counts() == {"pending": 0, "delivered": 50, "refused": 0}
    await asyncio.sleep(1.0)   # a few more rounds of the courier send nothing again
    assert len(backends.services.prereviews) == PREREVIEWS
    assert len(backends.hall.ratings) == RATINGS
