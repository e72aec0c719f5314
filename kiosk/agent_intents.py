"""The village agent's intents (kiosk.viewmodel.Intents) and batch mode, on the kiosk session.
What an agent may do and how they sign in is kiosk.village_agent's; this is the session's side:
the attract screen's entry, signing out, and where a visit ends while an agent is signed in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.viewmodel import ScreenId, SessionView

if TYPE_CHECKING:
    from kiosk.citizen_time import CitizenClock
    from kiosk.flow import FlowContext
    from kiosk.village_agent import AgentDesk


class AgentIntents:
    """Mixed into kiosk.session.KioskSession, which owns what is declared here."""

    view: SessionView
    ctx: FlowContext
    clock: CitizenClock
    agents: AgentDesk

    if TYPE_CHECKING:
        @property
        def busy(self) -> bool: ...
        def activity(self) -> None: ...
        def _to_attract(self) -> None: ...
        def _clear_visit(self, screen: ScreenId) -> None: ...
        def _end_call_with_visit(self) -> None: ...

    @property
    def agent_acting(self) -> bool:
        """A village agent is signed in: the menu is theirs, for a citizen who consents."""
        return bool(self.agents.agent_id)

    def agent_entry(self) -> None:
        """The attract screen's discreet entry for the village agent."""
        self.activity()
        if not self.busy:
            self.agents.open_sign_in()

    def agent_sign_out(self) -> None:
        self.activity()
        if not self.busy:
            self.agents.sign_out()
            self._to_attract()

    def _next_visit(self) -> None:
        """After a citizen: the attract screen, or (a village agent signed in: batch mode) the
        menu for the next citizen, with everything of this one wiped all the same."""
        if self.agents.agent_id:
            self._clear_visit(ScreenId.MENU)
            self._end_call_with_visit()  # a call was this citizen's
            self.clock.item = None
            self.view.update(language=self.ctx.config.ui.language, elder=False)
        else:
            self._to_attract()
