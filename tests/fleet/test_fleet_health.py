"""Fleet health on both store backends, from heartbeats and events as kiosks send them (the
wire's message types, through the store's kiosk-facing path at chosen server times):
availability per kiosk and item as minutes in service over minutes open, repairs and their
mean time per device kind, and supplies forecast at today's rate."""

from __future__ import annotations

import datetime
import time

from fleet.availability import Window
from fleet.health import SUPPLY_MODELS
from fleet.store import Role
from wire.fleet import (
    API_PREFIX,
    DeviceHealth,
    DeviceStatus,
    Event,
    EventKind,
    Heartbeat,
    ItemAvailability,
    Supply,
    SupplyLevel,
)

BILL, CERT = "442000-BM-0001", "442000-GA-0031"


class Beats:
    """One kiosk's heartbeats into the store at server times the test chooses."""

    def __init__(self, fleet, kiosk_id: str, started_at: float) -> None:
        self.fleet, self.kiosk_id, self.started_at, self.seq = fleet, kiosk_id, started_at, 0

    async def beat(self, at: float, serving: bool = True, items=None, **fields) -> None:
        self.seq += 1
        hb = Heartbeat(
            kiosk_id=self.kiosk_id,
            seq=self.seq,
            sent_at=at,
            interval_s=60.0,
            in_service=serving,
            started_at=fields.pop("started_at", self.started_at),
            items=tuple(ItemAvailability(code, ok) for code, ok in (items or {}).items()),
            **fields,
        )
        await self.fleet.store.record_heartbeat(hb, at)


def yesterday_at(hour: int) -> tuple[str, float]:
    day = datetime.date.today() - datetime.timedelta(days=1)
    return day.isoformat(), datetime.datetime.combine(day, datetime.time(hour)).timestamp()


async def test_availability_is_time_in_service_over_time_open_per_kiosk_and_item(fleet):
    await fleet.enroll_kiosk("ZS-HALL-01", site="city-hall", region="zhongshan")
    day, t0 = yesterday_at(10)
    k = Beats(fleet, "ZS-HALL-01", t0 - 30)
    both, no_bill = {BILL: True, CERT: True}, {BILL: False, CERT: True}
    await k.beat(t0, items=both)
    await k.beat(t0 + 60, items=both)
    await k.beat(t0 + 120, items=no_bill)  # the printer failed: no bills
    await k.beat(t0 + 240, serving=False, items={BILL: False, CERT: False})  # taken out
    await k.beat(t0 + 360, items=both)
    await k.beat(t0 + 420, items=both)
    await k.beat(t0 + 1000, items=both)  # silent for 580 s: not counted as in service
    await k.beat(t0 + 1060, items=both)
    await k.beat(t0 + 1120, items=both, started_at=t0 + 1100)  # restarted
    midnight = t0 + 14 * 3600
    result = await fleet.store.availability(Window(day, day, time.time()))
    (kiosk,) = result["kiosks"]
    assert (kiosk["open_s"], kiosk["in_service_s"]) == (14 * 3600, 360)
    assert kiosk["availability"] == round(360 / (midnight - t0), 4)
    items = {i["item_code"]: i for i in result["items"]}
    assert (items[BILL]["in_service_s"], items[CERT]["in_service_s"]) == (240, 360)
    shown = await fleet.store.availability(Window(day, day, time.time()), limit=0)
    assert (shown["kiosks"], shown["kiosks_matching"]) == ([], 1)  # the view says what it left out
    # The spell still open (since the restart) counts up to the last heartbeat, cut at the window.
    await k.beat(t0 + 1180, items=both, started_at=t0 + 1100)
    result = await fleet.store.availability(Window(day, day, time.time()))
    assert result["kiosks"][0]["in_service_s"] == 420

    viewer = await fleet.operator("vera", Role.VIEWER)
    try:
        query = f"from={day}&to={day}&region=zhongshan"
        async with viewer.get(f"{fleet.url}{API_PREFIX}/health/availability?{query}") as r:
            assert r.status == 200
            assert (await r.json())["kiosks"][0]["in_service_s"] == 420
        async with viewer.get(f"{fleet.url}{API_PREFIX}/health/availability?from=yesterday") as r:
            assert (r.status, (await r.json())["reason"]) == (400, "from")
    finally:
        await viewer.close()


async def test_repairs_run_from_fault_to_recovery_and_average_per_device_kind(fleet):
    await fleet.enroll_kiosk("BT-CTY-01", site="county", region="baotou")
    _, t0 = yesterday_at(9)

    def event(kind: EventKind, device: str, at: float, reason: str = "") -> Event:
        return Event.new(kind, at, device=device, reason=reason)

    await fleet.store.record_events(
        "BT-CTY-01",
        (
            event(EventKind.DEVICE_FAULT, "receipt_printer", t0, "paper_out"),
            event(EventKind.DEVICE_FAULT, "receipt_printer", t0 + 30, "cover_open"),  # same spell
            event(EventKind.DEVICE_RECOVERED, "receipt_printer", t0 + 600),
            event(EventKind.DEVICE_FAULT, "receipt_printer", t0 + 1000, "paper_jam"),
            event(EventKind.DEVICE_RECOVERED, "receipt_printer", t0 + 1300),
            event(EventKind.DEVICE_RECOVERED, "receipt_printer", t0 + 1400),  # nothing open
            event(EventKind.DEVICE_FAULT, "dispenser", t0 + 2000, "card_jam"),
        ),
        t0 + 2000,
    )
    # A fault only heartbeats showed (its event was lost): from the beat that showed it to the
    # beat that showed it mended.
    k = Beats(fleet, "BT-CTY-01", t0)
    reader_down = (DeviceStatus("idcard_reader", DeviceHealth.FAULT, "offline"),)
    await k.beat(t0 + 3000, devices=(DeviceStatus("idcard_reader", DeviceHealth.OK),))
    await k.beat(t0 + 3060, devices=reader_down)
    await k.beat(t0 + 3160, devices=(DeviceStatus("idcard_reader", DeviceHealth.OK),))
    result = await fleet.store.repairs(t0 - 1, t0 + 86400, t0 + 4000)
    kinds = {d["device"]: d for d in result["device_kinds"]}
    assert kinds["receipt_printer"] == {
        "device": "receipt_printer",
        "repairs": 2,
        "mttr_s": 450.0,
        "longest_s": 600.0,
        "open": 0,
        "oldest_open_s": None,
    }
    assert (kinds["idcard_reader"]["repairs"], kinds["idcard_reader"]["mttr_s"]) == (1, 100.0)
    assert (kinds["dispenser"]["open"], kinds["dispenser"]["oldest_open_s"]) == (1, 2000.0)
    assert [(r["device"], r["reason"]) for r in result["open"]] == [("dispenser", "card_jam")]


def _printer(level: SupplyLevel) -> DeviceStatus:
    return DeviceStatus("receipt_printer", DeviceHealth.OK, supplies=(Supply("paper", level),))


async def test_supplies_forecast_what_is_left_at_todays_rate(fleet):
    await fleet.enroll_kiosk("ZS-HALL-02", site="city-hall", region="zhongshan")
    await fleet.enroll_kiosk("ZS-HALL-03", site="city-hall", region="zhongshan")
    now = time.time()
    printed = "receipt_printer.receipts_printed"
    dispenser = DeviceStatus(
        "dispenser", DeviceHealth.OK, supplies=(Supply("card_stock", SupplyLevel.OK, 57),)
    )
    low = Beats(fleet, "ZS-HALL-02", now - 100)
    await low.beat(now - 30, devices=(_printer(SupplyLevel.OK), dispenser), counters={printed: 100})
    await low.beat(
        now - 20, devices=(_printer(SupplyLevel.LOW), dispenser), counters={printed: 130}
    )
    await low.beat(
        now - 10, devices=(_printer(SupplyLevel.LOW), dispenser), counters={printed: 140}
    )
    refilled = Beats(fleet, "ZS-HALL-03", now - 100)
    await refilled.beat(now - 30, devices=(_printer(SupplyLevel.EMPTY),), counters={printed: 10})
    await refilled.beat(now - 20, devices=(_printer(SupplyLevel.OK),), counters={printed: 12})
    await refilled.beat(now - 10, devices=(_printer(SupplyLevel.OK),), counters={printed: 52})

    forecasts = await fleet.store.supply_forecasts(now)
    got = {(f["kiosk_id"], f["supply"]): f for f in forecasts}
    midnight = datetime.datetime.combine(datetime.date.today(), datetime.time()).timestamp()
    hours = max(1.0, (now - midnight) / 3600)
    paper = got[("ZS-HALL-02", "paper")]
    model = SUPPLY_MODELS["paper"]
    assert (paper["level"], paper["left"], paper["used_today"]) == (
        "low",
        model.after_low - 10,
        140,
    )
    assert paper["basis"] == "low sensor, then usage"
    assert paper["hours_left"] == round((model.after_low - 10) / (140 / hours), 1)
    assert forecasts[0] is paper  # the one running out first comes first
    stock = got[("ZS-HALL-02", "card_stock")]
    assert (stock["left"], stock["basis"]) == (57, "reported by the device")
    assert stock["hours_left"] is None  # no card dispensed today: no rate to divide by
    fresh = got[("ZS-HALL-03", "paper")]
    assert (fresh["left"], fresh["basis"]) == (model.full - 40, "refill, then usage")
