"""The government backends the kiosk talks to: exit-entry, utilities, certificates, queueing.

Each mutating call is idempotent on the kiosk's `idempotency_key`, and each can be queried by
that key, so a kiosk that crashed mid-call can find out what happened. Paid services check
the gateway's ledger themselves: a kiosk cannot claim a payment that did not happen.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from simulator.payment_gateway import OrderStatus, PaymentGateway

ENDORSEMENT_TYPES = (
    # Fees as published for Hong Kong/Macau endorsements; the kiosk never computes them itself.
    {
        "code": "HK_TOURIST_1",
        "name_zh": "香港团队/个人旅游一次",
        "name_en": "Hong Kong tourist, once",
        "fee_fen": 1500,
    },
    {
        "code": "HK_TOURIST_2",
        "name_zh": "香港团队/个人旅游二次",
        "name_en": "Hong Kong tourist, twice",
        "fee_fen": 3000,
    },
    {
        "code": "MO_TOURIST_1",
        "name_zh": "澳门团队/个人旅游一次",
        "name_en": "Macau tourist, once",
        "fee_fen": 1500,
    },
)


# A credit report printed at the kiosk: the fee is per copy, published by the issuing centre.
CREDIT_REPORT_FEE_FEN = 1000
CREDIT_REPORT_COPIES = (
    {"code": "1", "copies": 1, "name_zh": "打印一份", "name_en": "One copy"},
    {"code": "2", "copies": 2, "name_zh": "打印两份", "name_en": "Two copies"},
)


class ServiceError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


@dataclass
class Bill:
    account: str
    payee: str
    amount_due_fen: int
    period: str


@dataclass
class GovServices:
    gateway: PaymentGateway
    applications: dict[str, dict] = field(default_factory=dict)
    bill_payments: dict[str, dict] = field(default_factory=dict)
    certificates: dict[str, dict] = field(default_factory=dict)
    credit_reports: dict[str, dict] = field(default_factory=dict)
    tickets: dict[str, dict] = field(default_factory=dict)
    prereviews: dict[str, dict] = field(default_factory=dict)
    accommodation_registrations: dict[str, dict] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    permits_by_id_number: dict[str, dict] = field(default_factory=dict)
    appointments: dict[str, dict] = field(default_factory=dict)
    _ticket_counter: dict[str, int] = field(default_factory=dict)
    # The service hall's backends (simulator.hall_services) hear of each new submission, so a
    # pre-review becomes an application whose progress can be looked up, and a certificate
    # gets its printable content.
    on_submitted: list[Callable[[str, dict, dict], None]] = field(default_factory=list)
    certificate_content: Callable[[dict, dict], dict] | None = None

    def __post_init__(self) -> None:
        if not self.bills:
            self._issue_reference_bills()
        if not self.appointments:
            self.appointments["APPT-20261122-0042"] = {"category": "A", "window": "3"}

    def _issue_reference_bills(self) -> None:
        for bill in (
            Bill("3100123456789", "中山市供水有限公司 Zhongshan Water", 8650, "2026-10"),
            Bill("4400987654321", "南方电网 China Southern Power Grid", 23417, "2026-10"),
        ):
            self.bills[bill.account] = bill

    def reset(self) -> None:
        """Empty ledgers and the reference bills due again (between test runs)."""
        for ledger in (self.applications, self.bill_payments, self.certificates,
                       self.credit_reports, self.tickets,
                       self.prereviews, self.accommodation_registrations,
                       self._ticket_counter):
            ledger.clear()
        self.bills.clear()
        self._issue_reference_bills()

    def _paid(self, out_trade_no: str, amount_fen: int) -> None:
        order = self.gateway.orders.get(out_trade_no)
        if (
            order is None
            or order.status is not OrderStatus.SUCCESS
            or order.amount_fen != amount_fen
        ):
            raise ServiceError(402, "NOT_PAID")

    # Exit-entry.
    def submit_application(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.applications:
            return self.applications[key]
        fee = next(
            (t["fee_fen"] for t in ENDORSEMENT_TYPES if t["code"] == body["endorsement"]), None
        )
        if fee is None:
            raise ServiceError(400, "UNKNOWN_ENDORSEMENT")
        self._paid(str(body.get("out_trade_no", "")), fee)
        application = {
            "application_id": f"EE{len(self.applications) + 1:08d}",
            "status": "approved",
            "endorsement": body["endorsement"],
            "valid_until": time.strftime("%Y-%m-%d", time.localtime(time.time() + 90 * 86400)),
            "out_trade_no": body.get("out_trade_no"),
        }
        self.applications[key] = application
        return application

    def register_accommodation(self, body: dict) -> dict:
        """A visitor's stay, registered under the pseudonym of the passport the kiosk read."""
        key = str(body["idempotency_key"])
        if key not in self.accommodation_registrations:
            self.accommodation_registrations[key] = {
                "registration_id": f"AR{len(self.accommodation_registrations) + 1:08d}",
                "subject": str(body["subject"]), "status": "registered"}
        return self.accommodation_registrations[key]

    def permit_keys(self, body: dict) -> dict:
        """The MRZ data a kiosk needs for BAC on the permit of the citizen with this ID number."""
        permit = self.permits_by_id_number.get(str(body["id_number"]))
        if permit is None:
            raise ServiceError(404, "NO_PERMIT")
        return dict(permit)

    # Utilities.
    def bill(self, account: str) -> dict:
        bill = self.bills.get(account)
        if bill is None:
            raise ServiceError(404, "ACCOUNT_NOT_FOUND")
        return {
            "account": bill.account,
            "payee": bill.payee,
            "period": bill.period,
            "amount_due_fen": bill.amount_due_fen,
            "bill_id": f"{bill.account}-{bill.period}",
        }

    def pay_bill(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.bill_payments:
            return self.bill_payments[key]
        account, _, period = str(body["bill_id"]).partition("-")
        bill = self.bills.get(account)
        if bill is None:
            raise ServiceError(404, "ACCOUNT_NOT_FOUND")
        if period != bill.period:
            raise ServiceError(409, "BILL_ALREADY_PAID")
        self._paid(str(body["out_trade_no"]), bill.amount_due_fen)
        payment = {"payment_id": f"UP{len(self.bill_payments) + 1:08d}", "status": "settled",
                   "bill_id": body["bill_id"], "out_trade_no": body["out_trade_no"],
                   "amount_fen": bill.amount_due_fen, "period": period}
        self.bill_payments[key] = payment
        # The utility issues the account's next bill, so the simulator can be paid again.
        year, month = (int(x) for x in bill.period.split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        bill.period = f"{year:04d}-{month:02d}"
        return payment

    # Certificates.
    def issue_certificate(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.certificates:
            return self.certificates[key]
        certificate = {
            "certificate_id": f"CERT{len(self.certificates) + 1:08d}",
            "kind": body.get("kind", "no_criminal_record"),
            "status": "issued",
            "verify_code": f"V{len(self.certificates) + 1:06d}",
        }
        if self.certificate_content is not None:
            certificate.update(self.certificate_content(body, certificate))
        self.certificates[key] = certificate
        for listener in self.on_submitted:
            listener("certificate", body, certificate)
        return certificate

    def credit_report_options(self) -> dict:
        return {"options": [dict(o, fee_fen=o["copies"] * CREDIT_REPORT_FEE_FEN)
                            for o in CREDIT_REPORT_COPIES]}

    def issue_credit_report(self, body: dict) -> dict:
        """A paid report: issued once per key, only against an order that paid for every copy."""
        key = str(body["idempotency_key"])
        if key in self.credit_reports:
            return self.credit_reports[key]
        copies = int(body["copies"])
        if copies not in {o["copies"] for o in CREDIT_REPORT_COPIES}:
            raise ServiceError(400, "COPIES_INVALID")
        self._paid(str(body.get("out_trade_no", "")), copies * CREDIT_REPORT_FEE_FEN)
        report = {"report_id": f"CR{len(self.credit_reports) + 1:08d}", "copies": copies,
                  "status": "issued", "verify_code": f"R{len(self.credit_reports) + 1:06d}",
                  "out_trade_no": body.get("out_trade_no"),
                  "amount_fen": copies * CREDIT_REPORT_FEE_FEN}
        self.credit_reports[key] = report
        return report

    # Materials pre-review.
    def prereview(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.prereviews:
            return self.prereviews[key]
        pdf = base64.b64decode(str(body["materials_pdf_b64"]), validate=True)
        if not pdf.startswith(b"%PDF"):
            raise ServiceError(400, "NOT_A_PDF")
        review = {"prereview_id": f"PR{len(self.prereviews) + 1:08d}", "status": "received",
                  "pdf_bytes": len(pdf), "pages": pdf.count(b"/Type /Page") -
                  pdf.count(b"/Type /Pages")}
        self.prereviews[key] = review
        for listener in self.on_submitted:
            listener("prereview", body, review)
        return review

    # Queue tickets.
    def issue_ticket(self, body: dict) -> dict:
        key = str(body["idempotency_key"])
        if key in self.tickets:
            return self.tickets[key]
        category = str(body.get("category") or "")
        if body.get("appointment"):
            appointment = self.appointments.get(str(body["appointment"]))
            if appointment is None:
                raise ServiceError(404, "APPOINTMENT_NOT_FOUND")
            category = appointment["category"]
        if category not in ("A", "B", "C"):
            raise ServiceError(400, "UNKNOWN_CATEGORY")
        number = self._ticket_counter.get(category, 0) + 1
        self._ticket_counter[category] = number
        ticket = {"ticket_no": f"{category}{number:03d}", "waiting": number - 1, "status": "issued"}
        self.tickets[key] = ticket
        return ticket

    def by_key(self, ledger: str, key: str) -> dict:
        found = getattr(self, ledger).get(key)
        if found is None:
            raise ServiceError(404, "NOT_FOUND")
        return found


def answer(fn):
    """An aiohttp handler around `fn(request, body) -> dict`: JSON in and out, a ServiceError
    as its status and code, anything malformed as 400 PARAM_ERROR."""

    async def handler(request: web.Request) -> web.Response:
        try:
            # body_exists, not can_read_body: a delayed or repeated request (the fault rules)
            # has been read once already, and its body is read again from the cache.
            body = await request.json() if request.body_exists else {}
            if not isinstance(body, dict):
                raise TypeError("body")
            return web.json_response(fn(request, body))
        except ServiceError as exc:
            return web.json_response({"error": exc.code}, status=exc.status)
        except (KeyError, TypeError, ValueError, binascii.Error):
            return web.json_response({"error": "PARAM_ERROR"}, status=400)

    return handler


def add_service_routes(routes: web.RouteTableDef, services: GovServices) -> None:
    key = "{key}"
    routes.get("/exit-entry/v1/endorsement-types")(
        answer(lambda r, b: {"types": list(ENDORSEMENT_TYPES)})
    )
    routes.post("/exit-entry/v1/permit-keys")(answer(lambda r, b: services.permit_keys(b)))
    routes.post("/exit-entry/v1/applications")(answer(lambda r, b: services.submit_application(b)))
    routes.get(f"/exit-entry/v1/applications/{key}")(
        answer(lambda r, b: services.by_key("applications", r.match_info["key"]))
    )
    routes.post("/exit-entry/v1/accommodation-registrations")(
        answer(lambda r, b: services.register_accommodation(b)))
    routes.get(f"/exit-entry/v1/accommodation-registrations/{key}")(
        answer(lambda r, b: services.by_key("accommodation_registrations", r.match_info["key"])))
    routes.get("/utility/v1/bills/{account}")(
        answer(lambda r, b: services.bill(r.match_info["account"]))
    )
    routes.post("/utility/v1/payments")(answer(lambda r, b: services.pay_bill(b)))
    routes.get(f"/utility/v1/payments/{key}")(
        answer(lambda r, b: services.by_key("bill_payments", r.match_info["key"]))
    )
    routes.post("/certificates/v1/issue")(answer(lambda r, b: services.issue_certificate(b)))
    routes.get(f"/certificates/v1/issue/{key}")(
        answer(lambda r, b: services.by_key("certificates", r.match_info["key"]))
    )
    routes.get("/certificates/v1/credit-report-options")(
        answer(lambda r, b: services.credit_report_options()))
    routes.post("/certificates/v1/credit-reports")(
        answer(lambda r, b: services.issue_credit_report(b)))
    routes.get(f"/certificates/v1/credit-reports/{key}")(
        answer(lambda r, b: services.by_key("credit_reports", r.match_info["key"])))
    routes.post("/certificates/v1/prereview")(answer(lambda r, b: services.prereview(b)))
    routes.get(f"/certificates/v1/prereview/{key}")(
        answer(lambda r, b: services.by_key("prereviews", r.match_info["key"])))
    routes.post("/queue/v1/tickets")(answer(lambda r, b: services.issue_ticket(b)))
    routes.get(f"/queue/v1/tickets/{key}")(
        answer(lambda r, b: services.by_key("tickets", r.match_info["key"]))
    )
