"""The village agent (代办员) at the kiosk: signs in, acts for citizens who consent, times out.

An agent opens sign-in from a discreet entry on the attract screen, then shows the QR code an
operator issued on the dashboard, or places their own ID card and types their PIN. The fleet
decides (wire.agents): the kiosk keeps no list of agents, and neither the ID number
nor the PIN outlives the request. Signed in, every screen carries the agent's mark; the session
ends when the agent signs out, when nobody touches the kiosk for the citizen's idle time, or
after the fleet's session length, whichever comes first.

Acting for a citizen: before an item starts, the citizen agrees on screen that this agent runs
it for them; the transaction is journaled with the agent id from its start (kiosk.transaction),
so its fleet summary and its evaluation say "agent-assisted". Items the catalog marks
`in_person_only` are greyed with a plain reason while an agent is signed in. After each citizen
the kiosk goes back to the menu, not the attract screen (batch mode: several citizens' bills or
pre-reviews in a row), with every piece of the last citizen's data wiped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.catalog import ServiceItem
from kiosk.flow import FlowContext
from kiosk.i18n import LANGUAGES, translate
from kiosk.viewmodel import OptionTile, ScreenId, ServiceTile
from wire.agents import (
    AgentCredential,
    AgentRefusal,
    AgentSignIn,
    is_sign_in_code,
)

log = logging.getLogger(__name__)

PIN_LENGTH = 6
SIGN_IN_WAIT_S = 120.0  # the sign-in screen gives up (back to the attract screen) after this
CONSENT_WAIT_S = 60.0
UNREACHABLE = "unreachable"  # no answer from the fleet (agent.refused.unreachable)
REFUSAL_KEYS = frozenset({r.value for r in AgentRefusal} | {UNREACHABLE})


@dataclass(frozen=True)
class SignedInAgent:
    agent_id: str
    until: float  # time.monotonic() when the session ends whatever happens


class AgentDesk:
    """One kiosk's village agent, if any. The fleet answers a sign-in (kiosk.fleet_channel);
    while no fleet link is connected nobody can sign in (the entry says so)."""

    def __init__(self, ctx: FlowContext, tiles: Callable[[], tuple[ServiceTile, ...]],
                 start_item: Callable[[ServiceItem, str], None]) -> None:
        self.ctx = ctx
        self._tiles = tiles  # the session's menu, as it stands for the current agent
        self._start_item = start_item  # the session starts the flow, for an agent id
        self.agent: SignedInAgent | None = None
        self._task: asyncio.Task[None] | None = None
        self._pin: asyncio.Future[str] | None = None

    @property
    def agent_id(self) -> str:
        agent = self.agent
        return agent.agent_id if agent is not None and time.monotonic() < agent.until else ""

    @property
    def expired(self) -> bool:
        return self.agent is not None and not self.agent_id

    def expires_in_s(self) -> float | None:
        """Seconds until the signed-in agent's session is over (None: nobody signed in, or
        it is over already)."""
        left = self.agent.until - time.monotonic() if self.agent is not None else 0.0
        return left + 0.001 if left > 0 else None

    @property
    def signing_in(self) -> bool:
        """The sign-in screen waits for a QR code (the scanner's codes come here then)."""
        return self.busy and self.ctx.view.screen is ScreenId.AGENT_SIGN_IN

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- signing in ----------------------------------------------------------------------------

    def open_sign_in(self) -> None:
        """The attract screen's discreet entry."""
        view = self.ctx.view
        if view.screen is not ScreenId.ATTRACT or self.busy:
            return
        fleet = self.ctx.fleet_channel.connected
        error = "" if fleet else "agent.no_fleet"
        view.update(screen=ScreenId.AGENT_SIGN_IN, entry="", entry_error_key=error,
                    status_key="agent.sign_in.instruction", busy=False)
        if fleet:
            self._task = self.ctx.tasks.spawn("agent-sign-in", self._sign_in())

    def close_sign_in(self) -> None:
        self._stop_task()
        if self.ctx.view.screen is ScreenId.AGENT_SIGN_IN:
            self.ctx.view.update(screen=ScreenId.ATTRACT, entry="", entry_error_key="",
                                 status_key="")

    def key_press(self, key: str) -> bool:
        """PIN digits while the sign-in screen asks for them; True if the key was taken."""
        view = self.ctx.view
        if view.screen is not ScreenId.AGENT_SIGN_IN:
            return False
        if self._pin is None or self._pin.done():
            return True
        if key == "back":
            view.update(entry=view.entry[:-1], entry_error_key="")
        elif key == "ok" and len(view.entry) == PIN_LENGTH:
            self._pin.set_result(view.entry)
            view.update(entry="")
        elif key.isdigit() and len(view.entry) < PIN_LENGTH:
            view.update(entry=view.entry + key, entry_error_key="")
        return True

    async def _sign_in(self) -> None:
        try:
            async with asyncio.timeout(SIGN_IN_WAIT_S):
                while self.agent is None:
                    request = await self._credential()
                    await self._ask(request)
        except TimeoutError:
            self.ctx.view.update(screen=ScreenId.ATTRACT, entry="", entry_error_key="",
                                 status_key="")
        except Exception:  # a bug here must not leave the kiosk on the sign-in screen
            log.exception("agent sign-in failed")
            self.ctx.view.update(screen=ScreenId.ATTRACT, entry="", status_key="")

    async def _credential(self) -> AgentSignIn:
        """A sign-in code scanned, or an ID card placed and then the PIN, whichever comes."""
        ctx, kiosk_id = self.ctx, self.ctx.config.kiosk_id
        view = ctx.view
        view.update(status_key="agent.sign_in.instruction", entry="")
        reader = ctx.devices.idcard_reader
        async with ctx.watch_codes():
            waits: dict[str, asyncio.Task[object]] = {"code": asyncio.ensure_future(ctx.scans.get())}
            if reader is not None:
                waits["card"] = asyncio.ensure_future(reader.wait_for_card(SIGN_IN_WAIT_S))
            try:
                done, _ = await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits.values():
                    task.cancel()
            if waits["code"] in done:
                code = str(waits["code"].result()).strip()
                if is_sign_in_code(code):
                    return AgentSignIn(kiosk_id, AgentCredential.SIGN_IN_CODE, code=code)
                view.update(entry_error_key="agent.refused.unknown")
                return await self._credential()
        assert reader is not None
        waits["card"].result()  # a reader fault is raised here: the task logs it and gives up
        card = await reader.read()
        view.update(status_key="agent.sign_in.pin", entry="")  # a refusal stays until a key
        self._pin = asyncio.get_running_loop().create_future()
        try:
            pin = await self._pin
        finally:
            self._pin = None
        return AgentSignIn(kiosk_id, AgentCredential.ID_CARD_PIN, id_number=card.text.id_number,
                           pin=pin)

    async def _ask(self, request: AgentSignIn) -> None:
        from kiosk.fleet_channel import NoFleet
        from kiosk.fleet_enrollment import FleetError  # (aiohttp: only when asked)

        view = self.ctx.view
        view.update(busy=True, status_key="agent.sign_in.checking")
        try:
            answer = await self.ctx.fleet_channel.agent_sign_in(request)
        except NoFleet:   # the fleet link stopped since the entry was opened
            view.update(busy=False, entry="", entry_error_key="agent.no_fleet")
            return
        except FleetError as exc:
            reason = exc.code if exc.code in REFUSAL_KEYS else UNREACHABLE
            log.info("village agent sign-in refused", extra={"reason": reason})
            view.update(busy=False, entry="", entry_error_key=f"agent.refused.{reason}")
            return
        finally:
            del request  # the ID number and the PIN go no further than this request
        self.agent = SignedInAgent(answer.agent_id,
                                   time.monotonic() + min(answer.session_s, 8 * 3600.0))
        log.info("village agent %s signed in", answer.agent_id)
        view.update(busy=False, agent_id=answer.agent_id, screen=ScreenId.MENU, entry="",
                    entry_error_key="", status_key="", services=self._tiles())

    def stop_asking(self) -> None:
        """The citizen left the consent screen: nothing starts."""
        self._stop_task()

    def sign_out(self) -> None:
        self._stop_task()
        if self.agent is not None:
            log.info("village agent %s signed out", self.agent.agent_id)
        self.agent = None
        self.ctx.view.update(agent_id="")

    def _stop_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._pin = None

    # -- acting for a citizen ------------------------------------------------------------------

    def ask_consent(self, item: ServiceItem) -> None:
        """The citizen agrees on screen that this agent runs `item` for them; then it starts."""
        if self.busy:
            return
        self._task = self.ctx.tasks.spawn("agent-consent", self._consent(item, self.agent_id))

    async def _consent(self, item: ServiceItem, agent_id: str) -> None:
        ctx = self.ctx
        title = {lang: translate("agent.consent.title", lang, agent=agent_id,
                                 item=item.text(item.name, lang)) for lang in LANGUAGES}
        options = (OptionTile("agree", _both("agent.consent.agree")),
                   OptionTile("decline", _both("agent.consent.decline")))
        ctx.show(ScreenId.CHOOSE, choose_title=title, options=options, busy=False)
        answer = "decline"
        with contextlib.suppress(TimeoutError):
            answer = await ctx.wait_choice(CONSENT_WAIT_S)
        ctx.view.update(options=(), choose_title={})
        if answer == "agree" and self.agent_id == agent_id:
            log.info("citizen consented to agent %s for %s", agent_id, item.code)
            self._task = None
            self._start_item(item, agent_id)
        else:
            ctx.show(ScreenId.MENU, services=self._tiles())



def _both(key: str) -> dict[str, str]:
    return {lang: translate(key, lang) for lang in LANGUAGES}
