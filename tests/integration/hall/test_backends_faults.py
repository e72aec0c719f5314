"""The hall's backends misbehaving, on the backend-fault surface: ratings wait in the outbox
and arrive once; text messages wait while the gateway refuses; a progress backend that is
down ends the lookup plainly."""

from __future__ import annotations

import pytest

from kiosk.evaluation import Level, RatingRefused, desk_for, make_rating
from kiosk.outbox import Submission
from kiosk.viewmodel import ScreenId
from simulator.reference import PROGRESS_LOOKUP


async def test_ratings_wait_in_the_outbox_and_arrive_exactly_once(rig):
    faults = rig.sim.backends.faults["evaluation"]
    desk = desk_for(rig.ctx)
    try:
        desk.rate("442000-PD-0001", "20261127AAAABBBBCCCC", Level.SATISFIED)
        desk.rate("442000-JJ-0001", "20261127DDDDEEEEFFFF", Level.VERY_DISSATISFIED,
                  ("device_fault",), "机器坏了 电话13812345678")
        faults.down = True
        assert await desk.deliver() == 0
        assert desk.outbox.counts() == {"pending": 2, "delivered": 0, "refused": 0}
        faults.down = False
        faults.lose_next = 1          # the first is taken but its answer lost: sent again
        desk.outbox.retry_now()
        assert await desk.deliver() == 2
        assert desk.outbox.counts() == {"pending": 0, "delivered": 2, "refused": 0}
        assert faults.lose_next == 0
    finally:
        desk.outbox.close()
    ratings = list(rig.sim.backends.hall.ratings.values())
    assert len(ratings) == 2 and sorted(r["level"] for r in ratings) == [1, 4]
    low = next(r for r in ratings if r["level"] == 1)
    assert "13812345678" not in low["comment"] and "*" in low["comment"]
    assert ("bad_rating", "442000-JJ-0001:1:device_fault") in rig.problems


async def test_a_rating_the_backend_refuses_is_kept_aside_not_retried(rig):
    desk = desk_for(rig.ctx)
    try:
        rating = make_rating("442000-PD-0001", "T1", rig.ctx.config.kiosk_id, 3)
        desk.outbox.put(Submission(rating.rating_id, "evaluation", "/ratings",
                                   {**rating.body(), "level": 9}, "T1"))
        assert await desk.deliver() == 0
        assert desk.outbox.counts() == {"pending": 0, "delivered": 0, "refused": 1}
    finally:
        desk.outbox.close()
    assert ("outbox_refused", "evaluation:BAD_LEVEL") in rig.problems


def test_tags_go_with_the_two_lowest_levels_only():
    with pytest.raises(RatingRefused):
        make_rating("X", "T", "K", 4, ("too_slow",))
    with pytest.raises(RatingRefused):
        make_rating("X", "T", "K", 1, ("made_up",))
    assert make_rating("X", "T", "K", 2, ("too_slow", "too_slow")).tags == ("too_slow",)


async def test_text_messages_wait_while_the_gateway_refuses(rig):
    hall, sms = rig.sim.backends.hall, rig.sim.backends.sms
    sms.faults.down = True
    hall.handover({"idempotency_key": "T:handover", "document_no": "DOC-RS-000456",
                   "outcome": "taken", "phone": "13812345678"})
    assert sms.messages == [] and len(hall.sms_pending) == 1
    sms.faults.down = False
    hall.tick()
    assert len(sms.messages) == 1 and hall.sms_pending == []
    hall.tick()
    assert len(sms.messages) == 1  # delivered once


async def test_progress_backend_down_ends_the_lookup_plainly(rig):
    rig.sim.backends.faults["progress"].down = True
    await rig.start(PROGRESS_LOOKUP)
    await rig.until(ScreenId.READ_IDCARD)
    rig.sim.idcard_reader.insert()
    text = await rig.result()
    assert not rig.view.result_ok and "暂时无法连接" in text


def test_documents_are_named_only_with_a_face_and_the_queue_moves_with_time():
    from simulator.backends import Backends
    from simulator.gov_services import ServiceError
    from simulator.hall_services import RESIDENT_ID

    backends = Backends()
    with pytest.raises(ServiceError) as refused:
        backends.hall.pending_documents({"id_number": RESIDENT_ID})
    assert refused.value.code == "FACE_REQUIRED"
    assert backends.hall.pending_documents({"id_number": RESIDENT_ID, "face_jpeg_b64": "x"})
    queue = backends.queue
    ticket = queue.walk_in({"idempotency_key": "T1:submit", "category": "C"})
    assert ticket["waiting"] == 9 and ticket["wait_min"] == 90
    backends.clock.advance(30 * 60)   # three served in half an hour at ten minutes each
    waiting = next(c for c in queue.status()["categories"] if c["code"] == "C")["waiting"]
    assert waiting == 10 - 3
