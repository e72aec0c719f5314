"""Retention: real bill payments through the flow engine (simulated backends over real HTTP)
fill the journal; months later they are folded into per-day totals, between citizens only,
while a transaction left unsettled stays. Logs, refused ratings, the voice cache and files a
crash left are pruned on real files; the disk's free space takes the kiosk out of service."""

from __future__ import annotations

import dataclasses
import logging
import os
import time

from kiosk.config import RetentionConfig
from kiosk.evaluation import EvaluationDesk
from kiosk.journal import TxState
from kiosk.logs import LOG_FILE, setup_logging
from kiosk.outbox import Outbox
from kiosk.retention import (
    DAY_S,
    MIN_JOURNAL_DAYS,
    DiskLevel,
    Housekeeper,
    read_disk,
    start_housekeeping,
    storage_status,
)
from kiosk.viewmodel import ScreenId
from tests.kiosk.test_flow_engine import kiosk, start_bill, until  # noqa: F401 - the fixture

__all__ = ["kiosk"]


def keeping(ctx, **changes):
    """The kiosk's configuration with [retention] changed (as kiosk.toml would)."""
    retention = dataclasses.replace(ctx.config.retention, **changes)
    return dataclasses.replace(ctx.config, retention=retention)


async def paid_bill(backends, ctx, session):
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    session.finish()


async def test_ended_transactions_are_folded_into_daily_totals_after_the_kept_days(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    for _ in range(3):
        await paid_bill(backends, ctx, session)
    unsettled = ctx.transactions.writer.create("X-UNSETTLED")  # a transaction that never ended
    config = keeping(ctx, journal_days=180.0, journal_batch=2)
    keeper = Housekeeper(config, ctx.transactions, lambda: session.busy)

    soon = await keeper.run_once(now=time.time() + 179 * DAY_S)
    assert soon.transactions_folded == 0 and len(ctx.journal.recent()) == 4

    later = await keeper.run_once(now=time.time() + 181 * DAY_S)
    assert later.transactions_folded == 3 and later.complete
    assert [tx.tx_id for tx in ctx.journal.recent()] == [unsettled.tx_id]
    [(day, item, state, count, fen)] = ctx.journal.daily_totals()
    assert (state, count, fen) == (TxState.CLOSED.value, 3, 3 * 8650)
    assert day == time.strftime("%Y-%m-%d") and item == ctx.journal.daily_totals()[0][1]
    assert ctx.journal.history(unsettled.tx_id)  # its transitions stay with it

    # Folding again folds nothing twice; a new transaction adds to the same day's totals.
    await paid_bill(backends, ctx, session)
    again = await keeper.run_once(now=time.time() + 181 * DAY_S)
    assert again.transactions_folded == 1
    assert ctx.journal.daily_totals()[0][3:] == (4, 4 * 8650)


async def test_no_folding_while_a_citizen_is_served(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    await paid_bill(backends, ctx, session)
    await start_bill(ctx, session)  # the next citizen is at the payment screen
    keeper = Housekeeper(keeping(ctx), ctx.transactions, lambda: session.busy)
    report = await keeper.run_once(now=time.time() + 400 * DAY_S)
    assert not report.complete and report.transactions_folded == 0
    assert len(ctx.journal.recent()) == 2
    session.cancel()


def test_the_kept_days_floor_is_the_fleet_reporters_look_back_and_a_day():
    from kiosk.fleet_tx_reports import BACKFILL_S

    assert MIN_JOURNAL_DAYS == BACKFILL_S / DAY_S + 1


async def test_the_kept_days_never_go_below_the_fleet_reporters_look_back(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    await paid_bill(backends, ctx, session)
    keeper = Housekeeper(keeping(ctx, journal_days=1.0), ctx.transactions, lambda: session.busy)
    report = await keeper.run_once(now=time.time() + (MIN_JOURNAL_DAYS - 1) * DAY_S)
    assert report.transactions_folded == 0
    report = await keeper.run_once(now=time.time() + (MIN_JOURNAL_DAYS + 1) * DAY_S)
    assert report.transactions_folded == 1


async def test_files_beyond_their_policy_are_removed_and_the_rest_kept(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    config = keeping(ctx, log_files=2, voice_cache_mb=0.003, refused_ratings_days=90.0)
    logs = config.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    for n in range(1, 6):  # left by a setting that kept five
        (logs / f"{LOG_FILE}.{n}").write_text("old\n")
    voice = config.state_dir / "voice"
    voice.mkdir()
    for n in range(4):  # 1 kB prompts, the first made longest ago
        path = voice / f"zh-150-{n}.wav"
        path.write_bytes(b"\0" * 1000)
        os.utime(path, (time.time() - 100 + n, time.time() - 100 + n))
    leftover = config.state_dir / "catalog.tmp"  # a crash while the catalog was cached
    leftover.write_bytes(b"{")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    writing = voice / "zh-150-new.123.tmp"  # being written right now
    writing.write_bytes(b"\0")
    outbox = Outbox(config.state_dir)
    desk = EvaluationDesk(outbox, ctx.services, "K1", lambda *_: None, lambda _report: None)
    for _ in range(2):  # ratings the backend refused, as the courier sets them aside
        outbox.refuse(desk.rate("X-1", "TX", 1, ("too_slow",)).rating_id, "bad_request")
    outbox.close()

    keeper = Housekeeper(config, ctx.transactions, lambda: session.busy)
    report = await keeper.run_once(now=time.time())

    assert sorted(p.name for p in logs.iterdir()) == [f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert report.log_files_removed == 3
    assert sorted(p.name for p in voice.glob("*.wav")) == ["zh-150-2.wav", "zh-150-3.wav"]
    assert report.voice_files_removed == 2
    assert not leftover.exists() and writing.exists() and report.temp_files_removed == 1
    assert report.refused_ratings_removed == 0  # refused today: kept for the operators
    later = await keeper.run_once(now=time.time() + 91 * DAY_S)
    assert later.refused_ratings_removed == 2 and later.log_files_removed == 0
    outbox = Outbox(config.state_dir)
    assert outbox.counts()["refused"] == 0
    outbox.close()


def test_the_log_file_rotates_at_the_configured_size(tmp_path):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        setup_logging(tmp_path, logging.INFO, RetentionConfig(log_file_mb=0.001, log_files=2))
        for n in range(200):
            logging.getLogger("kiosk.test").info("line %d of the soak", n)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert all(p.stat().st_size <= 1100 for p in tmp_path.iterdir())


def test_the_disk_watermarks_read_the_real_disk(tmp_path):
    free_mb = read_disk(tmp_path, 0.0, 0.0).free_mb
    assert free_mb > 0
    assert read_disk(tmp_path, free_mb / 2, 0.0).level is DiskLevel.OK
    low = read_disk(tmp_path, free_mb * 2, 0.0)
    assert low.level is DiskLevel.LOW
    full = read_disk(tmp_path, free_mb * 4, free_mb * 2)
    assert full.level is DiskLevel.FULL
    status = storage_status(low).to_json()
    assert status["health"] == "ok" and status["supplies"][0]["level"] == "low"
    assert storage_status(full).to_json()["health"] == "fault"


async def test_a_nearly_full_disk_stops_new_citizens_and_freed_space_brings_them_back(kiosk):  # noqa: F811
    backends, ctx, session = kiosk
    ctx.config = keeping(ctx, disk_warn_free_mb=1e12, disk_stop_free_mb=1e12, disk_check_s=0.05)
    keeper = start_housekeeping(ctx, session)
    try:
        await until(ctx.view, ScreenId.OUT_OF_SERVICE, timeout=5)
        assert ctx.view.out_of_service_key == "oos.disk_full"
        assert keeper.status().to_json()["supplies"][0]["level"] == "empty"
        ctx.config = keeping(ctx, disk_warn_free_mb=1e12, disk_stop_free_mb=0.0)
        keeper.config = ctx.config
        await until(ctx.view, ScreenId.ATTRACT, timeout=5)
        assert keeper.status().to_json()["supplies"][0]["level"] == "low"
    finally:
        await keeper.stop()


async def test_an_ended_transaction_with_an_order_not_known_settled_stays(kiosk):  # noqa: F811
    """Retention folds only settled transactions: one whose order's standing is not known final
    (here: last learned open) stays in the journal with its order, whatever its state says."""
    backends, ctx, session = kiosk
    for _ in range(2):
        await paid_bill(backends, ctx, session)
    doubtful, settled = ctx.journal.recent()
    [order] = doubtful.orders
    ctx.transactions.writer.learned(doubtful, dataclasses.replace(order, standing="open"))
    keeper = Housekeeper(keeping(ctx, journal_days=180.0), ctx.transactions, lambda: session.busy)
    report = await keeper.run_once(now=time.time() + 181 * DAY_S)
    assert report.transactions_folded == 1
    assert [tx.tx_id for tx in ctx.journal.recent()] == [doubtful.tx_id]
    assert ctx.journal.get(doubtful.tx_id).orders[0].standing == "open"
