"""The service hall's other backends: application progress (办件查询), finished documents
waiting in the kiosk (自助取证), ratings (好差评), traffic-fine decisions, certificate content.

Applications have histories that move with the simulated clock: a stage is reached when its
time comes, and a stage that promises a text message sends it through the SMS gateway then
(kept and retried while the gateway refuses). Every mutating call is idempotent on the kiosk's
key and can be asked for by that key, as the other government backends are.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulator.certificate_content import no_criminal_record
from simulator.gov_services import GovServices, ServiceError, answer
from simulator.sms_gateway import PHONE, SimClock, SmsGateway, SmsRefused

DAY = 86400.0
HOUR = 3600.0
RESIDENT_ID = "44200019900307123X"  # simulator.idcard_reader.ResidentCard's number
# Personal data a rating must never carry (the backend refuses it, and says so).
_PERSONAL = (re.compile(r"\d{17}[\dXx]"), re.compile(r"1[3-9]\d{9}"))


@dataclass
class Stage:
    at: float  # seconds since the epoch (simulated clock)
    code: str
    zh: str
    en: str
    sms: str = ""  # the message sent when the stage is reached ("" = none)


@dataclass
class Application:
    application_no: str
    item_code: str
    item_name: str
    id_number: str
    applicant_name: str
    stages: list[Stage]
    phone: str = ""
    keys: tuple[str, ...] = ()  # kiosk transactions that submitted it (receipts' QR codes)
    sent: set[str] = field(default_factory=set)

    def reached(self, now: float) -> list[Stage]:
        return [s for s in self.stages if s.at <= now]

    def as_json(self, now: float) -> dict[str, Any]:
        reached = self.reached(now)
        current = reached[-1] if reached else self.stages[0]
        return {"application_no": self.application_no, "item_code": self.item_code,
                "item_name": self.item_name, "applicant_name": self.applicant_name,
                "status": current.code, "status_zh": current.zh, "status_en": current.en,
                "updated": time.strftime("%Y-%m-%d %H:%M", time.localtime(current.at)),
                "history": [{"status": s.code, "zh": s.zh, "en": s.en,
                             "at": time.strftime("%Y-%m-%d %H:%M", time.localtime(s.at))}
                            for s in reached]}


@dataclass
class HallServices:
    gov: GovServices
    clock: SimClock
    sms: SmsGateway
    residents: dict[str, str] = field(default_factory=lambda: {RESIDENT_ID: "林晓明"})
    applications: dict[str, Application] = field(default_factory=dict)
    documents: dict[str, dict] = field(default_factory=dict)
    handovers: dict[str, dict] = field(default_factory=dict)
    ratings: dict[str, dict] = field(default_factory=dict)
    fines: dict[str, dict] = field(default_factory=dict)
    fine_payments: dict[str, dict] = field(default_factory=dict)
    sms_pending: list[tuple[str, str, str]] = field(default_factory=list)  # to, text, template

    def __post_init__(self) -> None:
        self.gov.on_submitted.append(self._on_submitted)
        self.gov.certificate_content = self._certificate_content
        self._seed()

    def _seed(self) -> None:
        now = self.clock.now()
        name = self.residents[RESIDENT_ID]
        self.applications["SQ20261120000123"] = Application(
            "SQ20261120000123", "442000-CRJ-0001", "普通护照签发", RESIDENT_ID, name, [
                Stage(now - 3 * DAY, "accepted", "已受理", "Accepted"),
                Stage(now - 2 * DAY, "reviewing", "审核中", "Under review"),
                Stage(now + HOUR, "approved", "审批通过", "Approved"),
                Stage(now + DAY, "produced", "证件制作完成", "Document made"),
                Stage(now + 2 * DAY, "ready", "待领取（邮寄中）", "On its way by post")])
        self.applications["SQ20261115000456"] = Application(
            "SQ20261115000456", "442000-RS-0009", "社会保障卡申领", RESIDENT_ID, name, [
                Stage(now - 10 * DAY, "accepted", "已受理", "Accepted"),
                Stage(now - 3 * DAY, "produced", "制卡完成", "Card made"),
                Stage(now - DAY, "ready", "可在自助终端领取", "Ready to collect at the kiosk")])
        self.documents["DOC-RS-000456"] = {
            "document_no": "DOC-RS-000456", "application_no": "SQ20261115000456",
            "id_number": RESIDENT_ID, "title": {"zh": "社会保障卡", "en": "Social security card"},
            "slot": 1, "status": "ready"}
        for number, amount, days_ago in (("4420001234567890", 20000, 3),
                                         ("4420009876543210", 5000, 30)):
            self.fines[number] = {"decision_no": number, "amount_fen": amount,
                                  "issued_at": now - days_ago * DAY, "plate": "粤T12345",
                                  "violation": "机动车违反禁止标线指示", "paid": False}

    # -- the clock and the SMS outbox ------------------------------------------------------

    def tick(self) -> None:
        """Sends the messages of every stage reached by now, and retries refused ones."""
        now = self.clock.now()
        for application in self.applications.values():
            for stage in application.reached(now):
                if stage.sms and stage.code not in application.sent:
                    application.sent.add(stage.code)
                    if application.phone:
                        self.sms_pending.append((application.phone, stage.sms, stage.code))
        pending, self.sms_pending = self.sms_pending, []
        for to, text, template in pending:
            try:
                self.sms.send(to, text, template)
            except SmsRefused:
                self.sms_pending.append((to, text, template))

    def advance(self, seconds: float) -> float:
        now = self.clock.advance(seconds)
        self.tick()
        return now

    # -- submissions the other backends took ------------------------------------------------

    def _on_submitted(self, kind: str, body: dict, result: dict) -> None:
        if kind != "prereview":
            return
        id_number = str(body.get("id_number", ""))
        phone = str(body.get("phone", ""))
        phone = phone if PHONE.match(phone) else ""  # the kiosk validated it; never fail late
        days = int(body.get("time_limit_days", 3))
        now = self.clock.now()
        number = result["prereview_id"]
        self.applications[number] = Application(
            number, str(body.get("item_code", "")), str(body.get("item_name", "材料预审")),
            id_number, self.residents.get(id_number, ""), [
                Stage(now, "received", "材料已接收", "Papers received",
                      f"【政务服务】您的预审材料已收到（编号{number}），将在{days}个工作日内完成预审并短信通知。"),
                Stage(now + HOUR, "reviewing", "预审中", "Being reviewed"),
                Stage(now + days * DAY, "passed", "预审通过，请携带原件到窗口办理",
                      "Passed: bring the originals to the counter",
                      f"【政务服务】您的预审（编号{number}）已通过，请携带材料原件到户政窗口办理。")],
            phone=phone, keys=(str(body.get("idempotency_key", "")).split(":")[0],))
        self.tick()

    def _certificate_content(self, body: dict, certificate: dict) -> dict:
        id_number = str(body.get("id_number", ""))
        name = self.residents.get(id_number)
        if name is None:
            raise ServiceError(404, "NO_RECORD")
        return no_criminal_record(name, id_number, certificate, self.clock.now())

    # -- progress -------------------------------------------------------------------------

    def lookup(self, body: dict) -> dict:
        self.tick()
        now = self.clock.now()
        if body.get("id_number"):
            found = [a for a in self.applications.values() if a.id_number == body["id_number"]]
        else:
            code = str(body["code"]).strip()
            # A receipt's QR carries the kiosk's transaction number; the backend knows it as the
            # key the submission came with.
            found = [a for a in self.applications.values()
                     if code == a.application_no or code in a.keys]
        if not found:
            raise ServiceError(404, "NO_APPLICATIONS")
        found.sort(key=lambda a: a.stages[0].at, reverse=True)
        return {"applications": [a.as_json(now) for a in found], "count": len(found)}

    # -- finished documents -----------------------------------------------------------------

    def pending_documents(self, body: dict) -> dict:
        if not str(body.get("face_jpeg_b64", "")):
            raise ServiceError(403, "FACE_REQUIRED")  # a document goes to its holder only
        ready = [{k: v for k, v in d.items() if k != "id_number"}
                 for d in self.documents.values()
                 if d["id_number"] == body["id_number"] and d["status"] == "ready"]
        if not ready:
            raise ServiceError(404, "NOTHING_TO_COLLECT")
        return {"documents": ready}

    def handover(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.handovers:
            return self.handovers[key]
        document = self.documents.get(str(body["document_no"]))
        if document is None:
            raise ServiceError(404, "NO_DOCUMENT")
        outcome = str(body["outcome"])
        if outcome not in ("taken", "retained", "not_dispensed"):
            raise ServiceError(400, "BAD_OUTCOME")
        if outcome != "not_dispensed":
            document["status"] = "collected" if outcome == "taken" else "retained"
        record = {"handover_id": f"HO{len(self.handovers) + 1:06d}", "outcome": outcome,
                  "document_no": document["document_no"], "status": document["status"]}
        self.handovers[key] = record
        application = self.applications.get(document["application_no"])
        phone = str(body.get("phone", ""))
        if application is not None and outcome != "not_dispensed":
            zh, en = (("已领取", "Collected") if outcome == "taken"
                      else ("未及时取走已回收，请到服务台领取", "Retained: ask at the desk"))
            application.stages.append(Stage(self.clock.now(), document["status"], zh, en))
        if phone and outcome != "not_dispensed":
            text = (f"【政务服务】您的{document['title']['zh']}已于自助终端领取。" if outcome == "taken"
                    else f"【政务服务】您的{document['title']['zh']}未及时取走，已安全回收，请到服务台领取。")
            self.sms_pending.append((phone, text, f"document_{outcome}"))
            self.tick()
        return record

    # -- ratings (好差评) -------------------------------------------------------------------

    def rate(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.ratings:
            return self.ratings[key]
        level = int(body["level"])
        if not 1 <= level <= 5:
            raise ServiceError(400, "BAD_LEVEL")
        tags = [str(t) for t in body.get("tags", [])]
        if tags and level > 2:
            raise ServiceError(400, "TAGS_ONLY_ON_LOW_RATINGS")
        text = " ".join([str(body.get("comment", "")), *tags])
        if any(p.search(text) for p in _PERSONAL):
            raise ServiceError(400, "PERSONAL_DATA")
        rating = {"rating_id": f"PJ{len(self.ratings) + 1:08d}", "level": level, "tags": tags,
                  "comment": str(body.get("comment", ""))[:200],
                  "item_code": str(body["item_code"]), "transaction": str(body["transaction"]),
                  "kiosk_id": str(body["kiosk_id"]), "rated_at": body.get("rated_at"),
                  "agent_id": str(body.get("agent_id", ""))}
        self.ratings[key] = rating
        return rating

    # -- traffic fines ----------------------------------------------------------------------

    def fine(self, number: str) -> dict:
        decision = self.fines.get(number)
        if decision is None:
            raise ServiceError(404, "DECISION_NOT_FOUND")
        if decision["paid"]:
            raise ServiceError(409, "ALREADY_PAID")
        # 《行政处罚法》第七十二条: 3% of the fine a day after the 15th day, at most the fine.
        overdue = max(0, int((self.clock.now() - decision["issued_at"]) // DAY) - 15)
        late = min(decision["amount_fen"], decision["amount_fen"] * 3 * overdue // 100)
        return {"decision_no": number, "payee": "市公安局交通警察支队",
                "plate": decision["plate"][:2] + "***" + decision["plate"][-2:],
                "violation": decision["violation"], "fine_fen": decision["amount_fen"],
                "late_fee_fen": late, "amount_due_fen": decision["amount_fen"] + late,
                "bill_id": number}

    def pay_fine(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.fine_payments:
            return self.fine_payments[key]
        due = self.fine(str(body["bill_id"]))
        self.gov._paid(str(body["out_trade_no"]), due["amount_due_fen"])
        self.fines[due["decision_no"]]["paid"] = True
        payment = {"payment_id": f"FK{len(self.fine_payments) + 1:08d}", "status": "settled",
                   "decision_no": due["decision_no"], "amount_fen": due["amount_due_fen"],
                   "out_trade_no": body["out_trade_no"]}
        self.fine_payments[key] = payment
        return payment

    def by_key(self, ledger: str, key: str) -> dict:
        found = getattr(self, ledger).get(key)
        if found is None:
            raise ServiceError(404, "NOT_FOUND")
        return found


def add_hall_routes(routes: web.RouteTableDef, hall: HallServices) -> None:
    key = "{key}"
    routes.post("/progress/v1/lookup")(answer(lambda r, b: hall.lookup(b)))
    routes.post("/documents/v1/pending")(answer(lambda r, b: hall.pending_documents(b)))
    routes.post("/documents/v1/handover")(answer(lambda r, b: hall.handover(b)))
    routes.get(f"/documents/v1/handover/{key}")(
        answer(lambda r, b: hall.by_key("handovers", r.match_info["key"])))
    routes.post("/evaluation/v1/ratings")(answer(lambda r, b: hall.rate(b)))
    routes.get(f"/evaluation/v1/ratings/{key}")(
        answer(lambda r, b: hall.by_key("ratings", r.match_info["key"])))
    routes.get("/fines/v1/decisions/{number}")(
        answer(lambda r, b: hall.fine(r.match_info["number"])))
    routes.post("/fines/v1/payments")(answer(lambda r, b: hall.pay_fine(b)))
    routes.get(f"/fines/v1/payments/{key}")(
        answer(lambda r, b: hall.by_key("fine_payments", r.match_info["key"])))
