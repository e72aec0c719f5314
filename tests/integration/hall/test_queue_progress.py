"""办件查询, the queue (check-in, walk-in, early, late), 预约 and 好差评 through the kiosk core
against the simulator's backends, from the menu to the result screen."""

from __future__ import annotations

import asyncio
import time

from kiosk.journal import TxState
from kiosk.viewmodel import ScreenId
from simulator.hall_services import RESIDENT_ID
from simulator.reference import (
    APPOINTMENT_BOOKING,
    PROGRESS_LOOKUP,
    QUEUE_TICKET,
    SERVICE_RATING,
)

DAY = 86400


async def look_up_by_card(rig, choice="print"):
    await rig.start(PROGRESS_LOOKUP)
    await rig.until(ScreenId.READ_IDCARD)
    rig.sim.idcard_reader.insert()
    await rig.until(ScreenId.CONFIRM)
    lines = [(label["zh"], value) for label, value in rig.view.confirm_lines]
    rig.session.choose_option(choice)
    text = await rig.result()
    rig.sim.idcard_reader.remove()
    return lines, text


async def test_progress_by_id_card_shows_masked_applications_and_prints_a_slip(rig):
    lines, text = await look_up_by_card(rig)
    shown = " ".join(f"{label} {value}" for label, value in lines)
    assert "普通护照签发" in shown and "审核中" in shown and "社会保障卡申领" in shown
    assert "林*明" in shown and "林晓明" not in shown
    assert "已查询到 2 件申请" in text and "已打印" in text
    slip = await rig.receipt(1)
    assert "办件查询结果" in slip and "SQ20261120000123" in slip and "林*明" in slip
    assert "林晓明" not in slip and RESIDENT_ID not in slip
    # A lookup issues nothing: its transaction ends without a side effect.
    assert rig.last_tx().state is TxState.CANCELLED


async def test_progress_moves_as_time_passes(rig):
    before, _ = await look_up_by_card(rig, choice="done")
    assert any("审核中" in value for label, value in before if "护照" in label)
    rig.sim.backends.hall.advance(2 * DAY + 60)
    after, _ = await look_up_by_card(rig, choice="done")
    passport = next(value for label, value in after if "护照" in label)
    assert "待领取" in passport
    await asyncio.sleep(0.5)
    assert len(rig.receipts()) == 0  # "done": nothing printed


async def test_progress_for_nobody_says_so_plainly(rig):
    await rig.start(PROGRESS_LOOKUP)
    await rig.until(ScreenId.READ_IDCARD)
    await rig.scan("SQ00000000000000")
    text = await rig.result()
    assert "未查询到您的办件信息" in text and not rig.view.result_ok


async def test_walk_in_takes_a_number_with_people_ahead_and_the_wait(rig):
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("B")
    text = await rig.result()
    ticket = next(iter(rig.sim.backends.queue.tickets.values()))
    assert ticket["ticket_no"] == "B007" and ticket["waiting"] == 6
    assert ticket["wait_min"] == 48
    assert "B007" in text and "前面还有 6 人" in text and "48 分钟" in text
    slip = await rig.receipt(1)
    assert "B007" in slip and "48" in slip and "B1-B6" in slip
    assert rig.sim.printer.receipts[-1].qr_payloads == ("B007",)
    assert rig.ctx.journal.history(rig.last_tx().tx_id)[-2][1] == TxState.RECEIPTED


async def test_an_appointment_checks_in_by_id_card_with_a_priority_ticket(rig):
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.sim.idcard_reader.insert()
    text = await rig.result()
    ticket = next(iter(rig.sim.backends.queue.tickets.values()))
    assert ticket["priority"] and ticket["ticket_no"] == "YA001" and ticket["waiting"] == 0
    assert "YA001" in text and "A1-A8" in text
    assert "预约 Appointment" in await rig.receipt(1)


async def test_early_and_late_arrivals_get_a_plain_answer_and_no_ticket(rig):
    queue = rig.sim.backends.queue
    clock = rig.sim.backends.clock
    # At the next local noon: three hours on and forty minutes back are still today (run after
    # 21:00 the early slot was tomorrow's, and rightly not found among today's).
    day = time.localtime(clock.now() + 12 * 3600)
    clock.advance(time.mktime((day.tm_year, day.tm_mon, day.tm_mday, 12, 0, 0, 0, 0, -1))
                  - clock.now())
    now = clock.now()
    queue._appoint("YYEARLY0001", "440000199001010011", "C", now + 3 * 3600)
    queue._appoint("YYLATE00001", "440000199001010011", "C", now - 40 * 60)
    answers = []
    for code in ("YYEARLY0001", "YYLATE00001"):
        await rig.start(QUEUE_TICKET)
        await rig.until(ScreenId.CHOOSE)
        await rig.scan(code)
        answers.append(await rig.result())
        rig.session.finish()
    early, late = answers
    assert "请于" in early and "后再来签到取号" in early
    assert "已过" in late and "预约已失效" in late
    await asyncio.sleep(0.5)
    assert queue.tickets == {} and rig.receipts() == []
    assert queue.appointments["YYLATE00001"]["status"] == "missed"


async def test_booking_a_later_slot_then_checking_in_with_its_slip(rig):
    await rig.start(APPOINTMENT_BOOKING)
    await rig.until(ScreenId.READ_IDCARD)
    rig.sim.idcard_reader.insert()
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("A")
    await asyncio.sleep(0.1)
    await rig.until(ScreenId.CHOOSE)
    while not rig.view.options or rig.view.options[0].code == "A":
        await asyncio.sleep(0.02)
    slot = rig.view.options[0]
    rig.session.choose_option(slot.code)
    text = await rig.result()
    rig.sim.idcard_reader.remove()
    booking = next(iter(rig.sim.backends.queue.bookings.values()))
    assert booking["appointment_no"] in text and "已预约" in text
    await rig.receipt(1)
    assert rig.sim.printer.receipts[-1].qr_payloads == (booking["appointment_no"],)
    assert rig.last_tx().state is TxState.CLOSED
    # On the day, ten minutes before the slot, the slip's QR code checks the citizen in.
    appointment = rig.sim.backends.queue.appointments[booking["appointment_no"]]
    clock = rig.sim.backends.clock
    clock.advance(appointment["slot_start"] - 600 - clock.now())
    rig.session.finish()
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    await rig.scan(booking["appointment_no"])
    text = await rig.result()
    assert "YA001" in text


async def test_a_bad_rating_from_a_receipt_is_stored_sent_and_reported(rig):
    await rig.start(QUEUE_TICKET)
    await rig.until(ScreenId.CHOOSE)
    rig.session.choose_option("D")
    await rig.result()
    rig.session.finish()
    rated = rig.last_tx().tx_id
    await rig.start(SERVICE_RATING)
    await rig.until(ScreenId.ENTER_ACCOUNT)
    await rig.scan(rated)
    await rig.until(ScreenId.CHOOSE)
    assert [o.title["zh"] for o in rig.view.options] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    rig.session.choose_option("1")
    while rig.view.options[0].code == "5":
        await asyncio.sleep(0.02)
    rig.session.choose_option("too_slow")
    text = await rig.result()
    assert "感谢您的评价" in text
    (rating,) = rig.sim.backends.hall.ratings.values()
    assert rating["item_code"] == QUEUE_TICKET and rating["transaction"] == rated
    assert rating["level"] == 1 and rating["tags"] == ["too_slow"]
    assert rating["kiosk_id"] == rig.ctx.config.kiosk_id
    assert ("bad_rating", f"{QUEUE_TICKET}:1:too_slow") in rig.problems
