"""What the kiosk's parts tell the fleet and ask of it, whether or not a fleet link runs.

The channel is built with the kiosk's context (kiosk.flow.FlowContext), before the session, the
housekeeper or any step, so each of them takes it at construction and none is told of the fleet
afterwards. The fleet link (kiosk.fleet_link), when provisioning enrolled the kiosk, connects as
it starts and disconnects as it stops; it is the one peer that answers a village agent's sign-in.
Other listeners (a test, a technician's tool) hear the same reports.

Without a link, a problem is only logged, a rating's figure is not counted by the fleet (the
backend's copy is in the kiosk's outbox regardless), and nobody can sign in as a village agent.
"""

from __future__ import annotations

import logging
from typing import Protocol

from wire.agents import AgentSignedIn, AgentSignIn
from wire.reports import EvaluationReport

log = logging.getLogger(__name__)


class ReportListener(Protocol):
    def problem(self, kind: str, reason: str) -> None:
        """A problem the operators must hear of at once (a retained document, a refused
        catalog, a background task that failed): its kind and a reason code."""

    def evaluation(self, report: EvaluationReport) -> None:
        """A citizen's rating (好差评), without the comment."""

    def changed(self) -> None:
        """Something a heartbeat says changed (the disk's level): send one now."""


class FleetPeer(ReportListener, Protocol):
    async def agent_sign_in(self, request: AgentSignIn) -> AgentSignedIn:
        """The fleet's answer to a village agent's credential; kiosk.fleet_enrollment.FleetError
        when it refuses or cannot be reached."""


class NoFleet(RuntimeError):
    """A question for the fleet while no fleet link is connected."""


class FleetChannel:
    def __init__(self) -> None:
        self._listeners: list[ReportListener] = []
        self._peer: FleetPeer | None = None

    @property
    def connected(self) -> bool:
        """A fleet link is connected: a village agent can sign in."""
        return self._peer is not None

    def connect(self, peer: FleetPeer) -> None:
        if self._peer is not None and self._peer is not peer:
            raise RuntimeError("a fleet link is connected already")
        self._peer = peer
        self.listen(peer)

    def disconnect(self, peer: FleetPeer) -> None:
        if self._peer is peer:
            self._peer = None
        self.forget(peer)

    def listen(self, listener: ReportListener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def forget(self, listener: ReportListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- what the kiosk's parts say ------------------------------------------------------------

    def problem(self, kind: str, reason: str) -> None:
        log.warning("problem reported: %s %s", kind, reason, extra={"reason": reason})
        for listener in tuple(self._listeners):
            try:
                listener.problem(kind, reason)
            except Exception:   # a listener's fault must not end the step that reported
                log.exception("problem %s not passed on", kind)

    def evaluation(self, report: EvaluationReport) -> None:
        if not self._listeners:
            log.info("evaluation %s not reported: no fleet link", report.evaluation_id)
        for listener in tuple(self._listeners):
            try:
                listener.evaluation(report)
            except Exception:   # the backend's copy is in the outbox; only the figure is lost
                log.exception("evaluation %s not passed on", report.evaluation_id)

    def changed(self) -> None:
        for listener in tuple(self._listeners):
            try:
                listener.changed()
            except Exception:   # the next heartbeat carries the change anyway
                log.exception("change not passed on")

    # -- what they ask --------------------------------------------------------------------------

    async def agent_sign_in(self, request: AgentSignIn) -> AgentSignedIn:
        peer = self._peer
        if peer is None:
            raise NoFleet("no fleet link: a village agent cannot sign in")
        return await peer.agent_sign_in(request)
