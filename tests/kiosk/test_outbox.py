"""The kiosk's outbox and its courier against the simulator's backends over HTTP: order per
backend, each key once, refusals set aside, bodies sealed on disk."""

from __future__ import annotations

import json
import sqlite3

import pytest
from aiohttp import web

from kiosk.backends import ServiceClient
from kiosk.evaluation import OLD_OUTBOX_FILE, adopt_old_ratings, make_rating
from kiosk.outbox import KEY_FILE, Courier, Outbox, Submission
from simulator.backends import Backends

PDF = "JVBERi0xLjQKJSVFT0YK"  # "%PDF-1.4\n%%EOF\n"


@pytest.fixture
async def hall(tmp_path):
    backends = Backends()
    runner = web.AppRunner(backends.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    clients = {name: ServiceClient(f"{base}/{path}/v1", 2.0, retries=0)
               for name, path in (("certificates", "certificates"), ("evaluation", "evaluation"))}
    outbox = Outbox(tmp_path)
    problems: list[tuple[str, str]] = []
    delivered: list[tuple[str, dict]] = []
    courier = Courier(outbox, clients, lambda kind, reason: problems.append((kind, reason)),
                      on_delivered=lambda s, result: delivered.append((s.key, result)))
    yield backends, outbox, courier, problems, delivered
    outbox.close()
    for client in clients.values():
        await client.close()
    await runner.cleanup()


def prereview(n: int) -> Submission:
    return Submission(f"T{n:04d}:submit", "certificates", "/prereview",
                      {"materials_pdf_b64": PDF, "phone": "13812345678",
                       "id_number": "440101199003071234", "item_code": "X"}, f"T{n:04d}")


async def test_delivered_in_order_each_once_even_when_an_answer_is_lost(hall):
    backends, outbox, courier, _, delivered = hall
    for n in range(5):
        assert outbox.put(prereview(n))
    assert not outbox.put(prereview(0))           # accepted twice: still one
    backends.faults["certificates"].lose_next = 1  # done, but the kiosk hears 503
    assert await courier.deliver() == 0
    outbox.retry_now()
    assert await courier.deliver() == 5
    ids = [r["prereview_id"] for r in backends.services.prereviews.values()]
    assert ids == [f"PR{n:08d}" for n in range(1, 6)]  # five, in the order accepted
    assert [key for key, _ in delivered] == [prereview(n).key for n in range(5)]
    assert not outbox.put(prereview(3))            # a delivered key is never taken again
    assert outbox.counts() == {"pending": 0, "delivered": 5, "refused": 0}


async def test_a_backend_that_does_not_answer_holds_its_queue_not_the_others(hall):
    backends, outbox, courier, _, _ = hall
    outbox.put(prereview(1))
    rating = make_rating("X", "T9", "K1", 4)
    outbox.put(Submission(rating.rating_id, "evaluation", "/ratings", rating.body(), "T9"))
    outbox.put(prereview(2))
    backends.faults["certificates"].down = True
    assert await courier.deliver() == 1            # the rating went; the pre-reviews wait
    assert backends.services.prereviews == {} and len(backends.hall.ratings) == 1
    (head,) = outbox.heads()
    assert head.submission.key == prereview(1).key and head.attempts == 1
    backends.faults["certificates"].down = False
    assert await courier.deliver() == 0            # not due yet: backing off
    outbox.retry_now()
    assert await courier.deliver() == 2


async def test_a_refused_submission_is_set_aside_and_the_next_goes(hall):
    backends, outbox, courier, problems, _ = hall
    bad = Submission("T0001:submit", "certificates", "/prereview",
                     {"materials_pdf_b64": "bm90IGEgcGRm"}, "T0001")   # "not a pdf"
    outbox.put(bad)
    outbox.put(prereview(2))
    assert await courier.deliver() == 1
    assert outbox.counts() == {"pending": 0, "delivered": 1, "refused": 1}
    assert problems == [("outbox_refused", "certificates:NOT_A_PDF")]


async def test_bodies_are_sealed_on_disk_and_a_lost_key_sets_them_aside(hall, tmp_path):
    _, outbox, courier, problems, _ = hall
    outbox.put(prereview(1))
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("outbox.sqlite3*"))
    assert b"13812345678" not in on_disk and b"440101199003071234" not in on_disk
    assert oct((tmp_path / KEY_FILE).stat().st_mode & 0o777) == "0o600"
    outbox.close()
    (tmp_path / KEY_FILE).unlink()                 # a new key: the old entry cannot be opened
    reopened = Outbox(tmp_path)
    try:
        assert reopened.heads() == []
        assert reopened.counts()["refused"] == 1
    finally:
        reopened.close()


def test_ratings_left_by_the_previous_release_move_into_the_outbox(tmp_path):
    old = sqlite3.connect(tmp_path / OLD_OUTBOX_FILE)
    old.execute("CREATE TABLE pending (rating_id TEXT PRIMARY KEY, body TEXT NOT NULL, "
                "attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0)")
    rating = make_rating("X", "T1", "K1", 5)
    old.execute("INSERT INTO pending (rating_id, body) VALUES (?, ?)",
                (rating.rating_id, json.dumps(rating.body())))
    old.commit()
    old.close()
    outbox = Outbox(tmp_path)
    try:
        assert adopt_old_ratings(tmp_path, outbox) == 1
        assert adopt_old_ratings(tmp_path, outbox) == 0
        (head,) = outbox.heads()
        assert head.submission.key == rating.rating_id and head.submission.backend == "evaluation"
        assert head.submission.body == rating.body()
    finally:
        outbox.close()
    assert not (tmp_path / OLD_OUTBOX_FILE).exists()
