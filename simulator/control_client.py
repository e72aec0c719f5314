"""The Python client of the simulator's control API (simulator.control), for tests, scenarios
and scripts: `async with SimulatorClient(url) as sim: await sim.insert_card()`."""

from __future__ import annotations

from typing import Any

import aiohttp


class SimulatorUnreachable(RuntimeError):
    """No simulator answers at the control URL (none runs, or it stopped)."""

    def __init__(self, base_url: str, cause: BaseException) -> None:
        super().__init__(f"no simulator answers at {base_url} ({cause.__class__.__name__})")
        self.base_url = base_url


class SimulatorRefused(RuntimeError):
    """The simulator answered the request with an error; `body` is its JSON answer."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"simulator {method} {path}: {status} {body}")
        self.status = status
        self.body = body


class SimulatorClient:
    """Async client of the control API: `async with SimulatorClient(url) as sim: await sim.insert_card()`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimulatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.request(method, self.base_url + path, json=body) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = await resp.text()
                if resp.status >= 400:
                    raise SimulatorRefused(method, path, resp.status, data)
                return data
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise SimulatorUnreachable(self.base_url, exc) from exc

    async def state(self) -> dict:
        return await self._call("GET", "/state")

    async def insert_card(self, slow_s: float | None = None) -> None:
        """Put the chip in the reader (`slow_s` not given: as the chip's switches say)."""
        await self._call("POST", "/card/insert", {} if slow_s is None else {"slow_s": slow_s})

    async def remove_card(self) -> None:
        await self._call("POST", "/card/remove")

    async def show_face(self) -> None:
        await self._call("POST", "/face/show")

    async def hide_face(self) -> None:
        await self._call("POST", "/face/hide")

    async def pay(self, *, code_url: str | None = None, out_trade_no: str | None = None) -> dict:
        return await self._call(
            "POST", "/payment/pay", {"code_url": code_url, "out_trade_no": out_trade_no}
        )

    async def orders(self) -> list[dict]:
        return (await self._call("GET", "/payment/orders"))["orders"]

    async def receipts(self) -> list[dict]:
        return (await self._call("GET", "/printer/receipts"))["receipts"]

    async def applications(self) -> list[dict]:
        return (await self._call("GET", "/exit-entry/applications"))["applications"]

    async def insert_idcard(self, card: dict | None = None) -> dict:
        return await self._call("POST", "/idcard/insert", {"card": card} if card else {})

    async def remove_idcard(self) -> dict:
        return await self._call("POST", "/idcard/remove")

    async def face_scene(self, scene: str) -> dict:
        return await self._call("POST", "/face/scene", {"scene": scene})

    async def devices(self) -> dict[str, dict]:
        """Every simulated device's fault switches: {name: {"plugged", "switches", "on"}}."""
        return (await self._call("GET", "/devices"))["devices"]

    async def device_faults(self, device: str) -> dict:
        """One device's fault switches, e.g. device_faults("receipt_printer")["on"]."""
        return await self._call("GET", f"/devices/{device}/faults")

    async def set_device_faults(self, device: str, **switches: bool) -> dict:
        """Flip switches, e.g. set_device_faults("dispenser", jam=True, unplugged=False)."""
        return await self._call("POST", f"/devices/{device}/faults", dict(switches))

    async def device(self, path: str, body: dict | None = None) -> dict:
        """Any device route, e.g. device("/printer/fault", {"fault": "paper_out", "on": True})."""
        return await self._call("POST", path, body or {})

    async def scan(self, data: str) -> dict:
        return await self._call("POST", "/scanner/scan", {"data": data})

    async def document_scene(self, scene: str) -> dict:
        return await self._call("POST", "/document/scene", {"scene": scene})

    async def show_data_page(self, holder: str = "default", layout: str = "td1",
                             fault: str = "clean", seed: int = 0) -> dict:
        """A document's data page on the document camera (its chip for the next card):
        `holder` "default" or "visitor", `fault` clean, glare, blur, tilt or occlusion."""
        return await self._call("POST", "/document/data-page", {
            "holder": holder, "layout": layout, "fault": fault, "seed": seed})

    async def ledgers(self) -> dict:
        return await self._call("GET", "/ledgers")

    async def backend_faults(self, backend: str, **faults: object) -> dict:
        return await self._call("POST", f"/backends/{backend}/faults", dict(faults))

    async def link(self, name: str = "backends") -> dict:
        return await self._call("GET", f"/links/{name}")

    async def set_link(self, name: str = "backends", **shape: object) -> dict:
        """Shape a link, e.g. set_link(bandwidth_bps=64_000, latency_s=0.3), down_for_s=600."""
        return await self._call("PUT", f"/links/{name}", dict(shape))

    async def add_link(self, name: str, upstream: str) -> dict:
        return await self._call("POST", "/links", {"name": name, "upstream": upstream})

    async def payment_settings(self, **settings: object) -> dict:
        return await self._call("POST", "/payment/settings", dict(settings))

    async def confirm_payment(self, out_trade_no: str) -> dict:
        """The citizen confirms a waiting micropay on the phone."""
        return await self._call("POST", "/payment/confirm", {"out_trade_no": out_trade_no})

    async def backend_calls(self) -> dict:
        return await self._call("GET", "/backends/calls")

    async def reset_backends(self) -> dict:
        return await self._call("POST", "/backends/reset")

    async def a4_jobs(self) -> list[str]:
        """Paths of the PDFs the A4 printer printed, oldest first."""
        return (await self._call("GET", "/a4/jobs"))["jobs"]

    # The service hall's backends (simulator.hall_control).
    async def advance_clock(self, seconds: float) -> float:
        return (await self._call("POST", "/hall/advance", {"seconds": seconds}))["now"]

    async def sms_messages(self) -> list[dict]:
        return (await self._call("GET", "/hall/sms"))["messages"]

    async def hall_ledgers(self) -> dict:
        return await self._call("GET", "/hall/ledgers")

    async def add_appointment(self, appointment_no: str, id_number: str, category: str = "A",
                              in_s: float = 0.0) -> dict:
        return await self._call("POST", "/hall/appointment", {
            "appointment_no": appointment_no, "id_number": id_number, "category": category,
            "in_s": in_s})

    async def publish_catalog(self, raw: bytes) -> dict:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.put(self.base_url + "/catalog", data=raw) as resp:
            return await resp.json()
