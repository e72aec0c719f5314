"""Control routes for the service hall's backends: move the simulated clock, read the SMS the
gateway sent and the ledgers of ratings, tickets, bookings and handovers, set up documents
and appointments for a test."""

from __future__ import annotations

from aiohttp import web

from simulator.backends import Backends


def add_hall_control_routes(routes: web.RouteTableDef, backends: Backends) -> None:
    hall, queue = backends.hall, backends.queue

    @routes.post("/hall/advance")
    async def advance(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"now": hall.advance(float(body["seconds"]))})

    @routes.get("/hall/sms")
    async def sms(request: web.Request) -> web.Response:
        hall.tick()
        return web.json_response({"messages": backends.sms.messages,
                                  "pending": len(hall.sms_pending)})

    @routes.get("/hall/ledgers")
    async def ledgers(request: web.Request) -> web.Response:
        return web.json_response({
            "ratings": hall.ratings, "handovers": hall.handovers,
            "documents": {k: {f: v for f, v in d.items() if f != "id_number"}
                          for k, d in hall.documents.items()},
            "tickets": queue.tickets, "bookings": queue.bookings,
            "appointments": {k: {f: v for f, v in a.items() if f != "id_number"}
                             for k, a in queue.appointments.items()},
            "fine_payments": hall.fine_payments})

    @routes.post("/hall/appointment")
    async def appointment(request: web.Request) -> web.Response:
        """{"appointment_no", "id_number", "category", "in_s"}: a slot starting in_s from now."""
        body = await request.json()
        made = queue._appoint(str(body["appointment_no"]), str(body["id_number"]),
                              str(body.get("category", "A")),
                              backends.clock.now() + float(body.get("in_s", 0)))
        return web.json_response({k: v for k, v in made.items() if k != "id_number"})
