"""The explorer's citizen: goes through a service by the session's intents and the simulator's
control API (cards, face, phone, scanner), and at one step does the spec's action instead:
cancel, walk away (the kiosk's time-outs take over), or pull the card. Says what the screen
told them at the end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from simulator.control_client import SimulatorClient
from simulator.reference import BILL_PAYMENT, CREDIT_REPORT, ENDORSEMENT, WATER_ACCOUNT
from tests.integration.explorer.plan import RunSpec

CODE = "134567890123456789"
_SERVICE_CODES = {"bill": BILL_PAYMENT, "endorsement": ENDORSEMENT,
                  "credit_report": CREDIT_REPORT}
_ENDED = ("result", "attract", "menu")


class Stuck(Exception):
    pass


class Citizen:
    def __init__(self, spec: RunSpec, view: Any, session: Any, sim: SimulatorClient) -> None:
        self.spec, self.view, self.session, self.sim = spec, view, session, sim
        self.ended_early = False

    @property
    def screen(self) -> str:
        return str(self.view.screen)

    async def until(self, *screens: str, timeout: float = 25.0) -> str:
        deadline = time.monotonic() + timeout
        while self.screen not in screens:
            if self.screen in _ENDED and not {"result", "attract"} & set(screens) and \
                    self.session._flow_task is None:
                self.ended_early = True
                return self.screen
            if time.monotonic() > deadline:
                raise Stuck(f"waited for {'/'.join(screens)}, still on {self.screen}")
            await asyncio.sleep(0.01)
        return self.screen

    def acts_at(self, step: str) -> bool:
        return self.spec.step == step and self.spec.action != "nothing"

    async def step(self, step: str, normal) -> bool:
        """At `step` (its screen is showing): the spec's action, or `normal`. False when the
        citizen stops going on (cancelled or walked away)."""
        action = self.spec.action if self.acts_at(step) else "nothing"
        if action == "cancel":
            self.session.cancel()
            return False
        if action == "walk_away":
            return False
        if action == "card_pulled":
            await self.sim.remove_idcard()
            await self.sim.remove_card()
        await normal()
        return True

    async def run(self) -> None:
        self.session.touch_start()
        await self.until("menu")
        self.session.choose_service(_SERVICE_CODES[self.spec.service])
        go_on = await getattr(self, self.spec.service)()
        if go_on and not self.ended_early:
            await self.pay_and_process()

    async def ending(self, timeout: float = 40.0) -> None:
        """Waits for the flow's end screen, whatever the citizen did."""
        deadline = time.monotonic() + timeout
        while self.session._flow_task is not None or self.screen not in ("result", "attract"):
            if time.monotonic() > deadline:
                raise Stuck(f"the flow did not end: still on {self.screen}")
            await asyncio.sleep(0.02)

    # -- the services, up to the payment -------------------------------------------------------

    async def bill(self) -> bool:
        if await self.until("enter_account") != "enter_account":
            return False

        async def type_account() -> None:
            for digit in WATER_ACCOUNT:
                self.session.key_press(digit)
            # OK again while the screen still asks, as a citizen would: a press in the instant
            # before the step listens for it is not heard (the typed number stays on the pad).
            for _ in range(100):
                self.session.key_press("ok")
                await asyncio.sleep(0.2)
                if self.screen != "enter_account":
                    break

        if not await self.step("enter_account", type_account):
            return False
        if await self.until("confirm") != "confirm":
            return False
        return await self.step("confirm", self._choose_first)

    async def endorsement(self) -> bool:
        if not await self._idcard():
            return False
        screen = await self.until("place_permit", "face", "choose")
        if screen == "place_permit":
            async def place() -> None:
                await self.sim.insert_card()

            if self.acts_at("place_permit") and self.spec.action == "card_pulled":
                await self.sim.insert_card()          # laid down, then lifted mid-read
                await asyncio.sleep(0.05)
            if not await self.step("place_permit", place):
                return False
        return await self._face_and_choice()

    async def credit_report(self) -> bool:
        if not await self._idcard():
            return False
        return await self._face_and_choice()

    async def _idcard(self) -> bool:
        if await self.until("read_idcard") != "read_idcard":
            return False

        async def insert() -> None:
            await self.sim.insert_idcard()

        if self.acts_at("read_idcard") and self.spec.action == "card_pulled":
            await self.sim.insert_idcard()            # laid down, then lifted at once
            await asyncio.sleep(0.02)
        return await self.step("read_idcard", insert)

    async def _face_and_choice(self) -> bool:
        if await self.until("face", "choose") == "face":
            if not await self.step("face", self.sim.show_face):
                return False
        if await self.until("choose") != "choose":
            return False
        return await self.step("choose", self._choose_first)

    async def _choose_first(self) -> None:
        if self.screen == "confirm":
            self.session.choose_option("confirm")
            return
        options = [o.code for o in self.view.options]
        wanted = self.spec.copies if self.spec.service == "credit_report" else options[0]
        self.session.choose_option(wanted if wanted in options else options[0])

    # -- the payment and after -----------------------------------------------------------------

    async def pay_and_process(self) -> None:
        if await self.until("pay") != "pay":
            return
        method, acts = self.spec.method, self.acts_at("pay")
        order_no = self.view.order_no
        if method == "qr":
            if acts and self.spec.action == "cancel":
                self.session.cancel()
                return
            if acts and self.spec.action == "walk_away":
                await self.ending()
                await self._try(self.sim.pay(code_url=self.view.qr_payload or None,
                                             out_trade_no=order_no))   # pays late
                return
            if acts and self.spec.action == "card_pulled":
                await self.sim.remove_idcard()
                await self.sim.remove_card()
            await self._try(self.sim.pay(code_url=self.view.qr_payload))
        else:
            await self.sim.scan(CODE)
            if method == "code_confirm":
                micropay = await self._waiting_micropay(order_no)
                if acts and self.spec.action == "cancel":
                    self.session.cancel()  # and confirms on the phone all the same, at once
                    if micropay:
                        await self._try(self.sim.confirm_payment(micropay))
                    return
                if acts and self.spec.action == "walk_away":
                    await self.ending()
                    if micropay:          # confirms on the phone after the kiosk gave up
                        await self._try(self.sim.confirm_payment(micropay))
                    return
                if micropay:
                    await self._try(self.sim.confirm_payment(micropay))
            elif acts and self.spec.action == "cancel":
                self.session.cancel()
                return
        if self.acts_at("processing"):
            await self.until("processing", "result")
            if self.spec.action == "cancel":
                self.session.cancel()

    async def _waiting_micropay(self, order_no: str) -> str:
        """The micropay's number once the gateway has it waiting for the phone ("" if never)."""
        number = f"{order_no}M"
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and self.session._flow_task is not None:
            ledgers = await self.sim._call("GET", "/backends/ledgers")
            if any(o["out_trade_no"] == number for o in ledgers["orders"]):
                return number
            await asyncio.sleep(0.05)
        return ""

    @staticmethod
    async def _try(call) -> None:
        try:
            await call
        except RuntimeError:
            pass  # the gateway refused (closed, reversed): the phone shows an error


async def run_citizen(spec: RunSpec, view: Any, session: Any, sim: SimulatorClient) -> dict:
    """Drives one citizen through `spec`; returns what they were told at the end."""
    citizen = Citizen(spec, view, session, sim)
    stuck = ""
    try:
        await citizen.run()
        await citizen.ending()
    except Stuck as exc:
        stuck = str(exc)
    told = [line.get("zh", "") for line in view.result_lines] if str(view.screen) == "result" \
        else []
    return {"screen": str(view.screen), "result_ok": bool(view.result_ok), "told": told,
            "stuck": stuck}
