"""The hall's queue system: today's appointments, check-in with a priority ticket, walk-in
numbers by category, people ahead and the estimated wait, and booking a slot on a later day.

The queue moves with the simulated clock: each category serves one person per its average
service time, so the people ahead of a ticket fall as time passes. Check-in opens 30 minutes
before the booked slot and closes 15 minutes after its start, as halls publish it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from simulator.gov_services import ServiceError, answer
from simulator.hall_services import RESIDENT_ID
from simulator.sms_gateway import SimClock

EARLY_S = 30 * 60  # check-in opens this long before the slot
LATE_S = 15 * 60  # and closes this long after the slot began
SLOT_S = 30 * 60
BOOKING_DAYS = 7
SLOTS_PER_DAY = ((9, 0), (9, 30), (10, 0), (10, 30), (14, 30), (15, 0), (15, 30), (16, 0))


@dataclass
class Category:
    code: str
    zh: str
    en: str
    window: str
    service_min: float  # average minutes a counter spends on one person
    waiting: int  # people already waiting when the hall opened (the simulator started)
    issued: int = 0
    priority_issued: int = 0


def _hm(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))


@dataclass
class QueueService:
    clock: SimClock
    categories: dict[str, Category] = field(default_factory=lambda: {c.code: c for c in (
        Category("A", "出入境业务", "Exit-entry", "A1-A8", 6, 4),
        Category("B", "户政业务", "Household registration", "B1-B6", 8, 6),
        Category("C", "社保医保", "Social and medical insurance", "D1-D16", 10, 9),
        Category("D", "综合业务", "Other services", "G1-G10", 5, 2),
    )})
    appointments: dict[str, dict] = field(default_factory=dict)
    tickets: dict[str, dict] = field(default_factory=dict)  # idempotency key -> ticket
    bookings: dict[str, dict] = field(default_factory=dict)  # idempotency key -> appointment
    opened_at: float = 0.0

    def __post_init__(self) -> None:
        now = self.clock.now()
        self.opened_at = now
        # Today's appointments of the simulated citizen: one due now, one later today.
        today = time.strftime("%Y%m%d", time.localtime(now))
        self._appoint(f"YY{today}001", RESIDENT_ID, "A", now + 5 * 60)
        self._appoint(f"YY{today}002", "440000199001010011", "B", now + 3 * 3600)

    def _appoint(self, number: str, id_number: str, category: str, start: float) -> dict:
        appointment = {"appointment_no": number, "id_number": id_number, "category": category,
                       "slot_start": start, "slot_end": start + SLOT_S, "status": "booked"}
        self.appointments[number] = appointment
        return appointment

    # -- the queue moving -------------------------------------------------------------------

    def _served(self, category: Category) -> int:
        minutes = (self.clock.now() - self.opened_at) / 60
        return int(minutes / category.service_min)

    def _ahead(self, category: Category, priority: bool) -> int:
        served = self._served(category)
        if priority:  # priority tickets go before every walk-in
            return max(0, category.priority_issued - 1 - served)
        return max(0, category.waiting + category.priority_issued + category.issued - 1 - served)

    def _ticket(self, key: str, category: Category, priority: bool, appointment: str = "") -> dict:
        if priority:
            category.priority_issued += 1
            number = f"Y{category.code}{category.priority_issued:03d}"
        else:
            category.issued += 1
            number = f"{category.code}{category.waiting + category.issued:03d}"
        ahead = self._ahead(category, priority)
        ticket = {"ticket_no": number, "category": category.code, "category_zh": category.zh,
                  "category_en": category.en, "window": category.window, "priority": priority,
                  "waiting": ahead, "wait_min": round(ahead * category.service_min),
                  "appointment_no": appointment, "issued_at": _hm(self.clock.now()),
                  "status": "issued"}
        self.tickets[key] = ticket
        return ticket

    # -- the kiosk's calls ------------------------------------------------------------------

    def status(self) -> dict:
        return {"categories": [
            {"code": c.code, "zh": c.zh, "en": c.en, "window": c.window,
             "waiting": self._ahead(c, False) + 1,
             "wait_min": round((self._ahead(c, False) + 1) * c.service_min)}
            for c in self.categories.values()]}

    def check_in(self, body: dict) -> dict:
        """An appointment by its number (the QR code) or by the ID card; a priority ticket when
        the citizen is in time, a plain answer when early or late."""
        key = str(body["idempotency_key"])
        if key in self.tickets:
            return self.tickets[key]
        now = self.clock.now()
        if body.get("appointment_no"):
            found = [self.appointments.get(str(body["appointment_no"]))]
        else:
            found = [a for a in self.appointments.values() if a["id_number"] == body["id_number"]]
        today = time.localtime(now)[:3]
        found = [a for a in found if a and time.localtime(a["slot_start"])[:3] == today
                 and a["status"] in ("booked", "checked_in")]
        if not found:
            raise ServiceError(404, "NO_APPOINTMENT_TODAY")
        appointment = min(found, key=lambda a: abs(a["slot_start"] - now))
        slot = f"{_hm(appointment['slot_start'])}-{_hm(appointment['slot_end'])}"
        answer = {"slot": slot, "appointment_no": appointment["appointment_no"],
                  "checkin_from": _hm(appointment["slot_start"] - EARLY_S),
                  "checkin_until": _hm(appointment["slot_start"] + LATE_S)}
        # Early or late is an answer, not an error: nothing is issued, nothing recorded.
        if now < appointment["slot_start"] - EARLY_S:
            return {**answer, "verdict": "early"}
        if now > appointment["slot_start"] + LATE_S:
            appointment["status"] = "missed"
            return {**answer, "verdict": "late"}
        appointment["status"] = "checked_in"
        ticket = self._ticket(key, self.categories[appointment["category"]], True,
                              appointment["appointment_no"])
        ticket.update(answer, verdict="on_time")
        return ticket

    def walk_in(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.tickets:
            return self.tickets[key]
        category = self.categories.get(str(body.get("category", "")))
        if category is None:
            raise ServiceError(400, "UNKNOWN_CATEGORY")
        return self._ticket(key, category, False)

    def slots(self, category: str) -> dict:
        """Bookable slots on the next working days (today excluded), with places left."""
        if category not in self.categories:
            raise ServiceError(400, "UNKNOWN_CATEGORY")
        day = time.localtime(self.clock.now())
        out = []
        offset = 0
        while len({s["date"] for s in out}) < BOOKING_DAYS:
            offset += 1
            midnight = time.mktime((day.tm_year, day.tm_mon, day.tm_mday + offset, 0, 0, 0, 0, 0,
                                    -1))
            if time.localtime(midnight).tm_wday >= 5:
                continue  # the hall is closed at weekends
            for hour, minute in SLOTS_PER_DAY:
                start = midnight + hour * 3600 + minute * 60
                taken = sum(1 for a in self.appointments.values()
                            if a["category"] == category and a["slot_start"] == start)
                slot_id = f"{category}{time.strftime('%Y%m%d%H%M', time.localtime(start))}"
                out.append({"slot_id": slot_id, "date": time.strftime("%Y-%m-%d", time.localtime(start)),
                            "start": _hm(start), "end": _hm(start + SLOT_S),
                            "label_zh": f"{time.strftime('%m月%d日', time.localtime(start))} {_hm(start)}",
                            "label_en": f"{time.strftime('%d %b', time.localtime(start))} {_hm(start)}",
                            "left": max(0, 4 - taken)})
        return {"category": category, "slots": [s for s in out if s["left"] > 0]}

    def book(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.bookings:
            return self.bookings[key]
        slot_id = str(body["slot_id"])
        category = slot_id[:1]
        if category not in self.categories:
            raise ServiceError(400, "UNKNOWN_CATEGORY")
        start = time.mktime(time.strptime(slot_id[1:], "%Y%m%d%H%M"))
        if start <= self.clock.now():
            raise ServiceError(409, "SLOT_IN_THE_PAST")
        if not any(s["slot_id"] == slot_id for s in self.slots(category)["slots"]):
            raise ServiceError(409, "SLOT_FULL")
        number = f"YY{time.strftime('%Y%m%d', time.localtime(start))}{len(self.appointments) + 1:03d}"
        appointment = self._appoint(number, str(body["id_number"]), category, start)
        booking = {"appointment_no": number, "category": category,
                   "category_zh": self.categories[category].zh,
                   "window": self.categories[category].window,
                   "date": time.strftime("%Y-%m-%d", time.localtime(start)),
                   "slot": f"{_hm(start)}-{_hm(appointment['slot_end'])}",
                   "checkin_from": _hm(start - EARLY_S), "status": "booked"}
        self.bookings[key] = booking
        return booking

    def by_key(self, ledger: str, key: str) -> dict:
        found = getattr(self, ledger).get(key)
        if found is None:
            raise ServiceError(404, "NOT_FOUND")
        return found


def add_queue_routes(routes: web.RouteTableDef, queue: QueueService) -> None:
    key = "{key}"
    routes.get("/queue/v1/status")(answer(lambda r, b: queue.status()))
    routes.post("/queue/v1/check-in")(answer(lambda r, b: queue.check_in(b)))
    routes.get(f"/queue/v1/check-in/{key}")(
        answer(lambda r, b: queue.by_key("tickets", r.match_info["key"])))
    routes.post("/queue/v1/walk-in")(answer(lambda r, b: queue.walk_in(b)))
    routes.get(f"/queue/v1/walk-in/{key}")(
        answer(lambda r, b: queue.by_key("tickets", r.match_info["key"])))
    routes.get("/queue/v1/slots/{category}")(
        answer(lambda r, b: queue.slots(r.match_info["category"])))
    routes.post("/queue/v1/appointments")(answer(lambda r, b: queue.book(b)))
    routes.get(f"/queue/v1/appointments/{key}")(
        answer(lambda r, b: queue.by_key("bookings", r.match_info["key"])))
