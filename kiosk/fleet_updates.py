"""Software updates between the fleet link and the kiosk's update agent (kiosk.update.agent).

- The fleet's `update` command (bundle URL, manifest digest) becomes the agent's request to the
  updater, with the command id as the request id, so the fleet can tell which request the
  heartbeat's progress belongs to.
- Every heartbeat carries the update status: the version and slot running, the updater's phase
  and progress, and the last result.
- A new last result (staged, refused, updated, rolled back and why) is also an event, so the
  operators hear of a rollback at once. Its event id comes from the result's own id: the next
  process, which sees the same result again, sends the same event and the fleet counts it once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Protocol

from kiosk.fleet_agent import CommandFailed
from kiosk.json_object import JsonObject
from kiosk.update.guard import Outcome
from wire.fleet import (
    MAX_TEXT_LEN,
    Command,
    Event,
    EventKind,
    Severity,
    UpdateResult,
    UpdateStatus,
)

log = logging.getLogger(__name__)
REFUSED = "refused"  # the updater's result for a bundle it will not install (its phase's name)

# Results the operators must act on; the others are the update going as planned.
_WARNING_OUTCOMES = {Outcome.ROLLED_BACK.value, REFUSED}


class Updates(Protocol):
    """What the link needs of kiosk.update.agent.UpdateAgent."""

    async def request_update(self, url: str, manifest_digest: str, request_id: str) -> None: ...

    def fleet_heartbeat_acknowledged(self) -> None: ...

    def status(self) -> JsonObject: ...


class FleetUpdates:
    def __init__(self, updates: Updates, post_event: Callable[[Event], None]) -> None:
        self.updates = updates
        self.post_event = post_event
        self._reported: str | None = None  # the last result's id this process has sent

    async def handle(self, command: Command) -> str:
        """The `update` command: ask the updater for the bundle; the rest shows in heartbeats."""
        url = command.params.get("url")
        digest = command.params.get("manifest_digest", "")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise CommandFailed("update: no bundle URL in the command")
        if not isinstance(digest, str) or len(digest) != 64:
            raise CommandFailed("update: no manifest digest in the command")
        await self.updates.request_update(url, digest, command.command_id)
        return "update requested"

    def acknowledged(self) -> None:
        """The fleet answered a heartbeat: one of the checks a new version must pass."""
        self.updates.fleet_heartbeat_acknowledged()

    def status(self) -> UpdateStatus:
        """What the heartbeat says of updates; posts an event when the last result is new."""
        status = UpdateStatus.from_agent(self.updates.status())
        result = status.last_result
        if result is not None and result.result_id != self._reported:
            self._reported = result.result_id
            self.post_event(result_event(result))
        return status


def result_event(result: UpdateResult) -> Event:
    severity = Severity.WARNING if result.outcome in _WARNING_OUTCOMES else Severity.INFO
    reason = f"{result.outcome}: {result.version}" + (f" ({result.reason})" if result.reason else "")
    detail: dict[str, str | int | float | bool] = {
        "outcome": result.outcome, "version": result.version, "result_id": result.result_id}
    if result.reason:
        detail["reason"] = result.reason
    if result.detail:
        detail["detail"] = result.detail[:MAX_TEXT_LEN]
    if result.from_version:
        detail["from_version"] = result.from_version
    event_id = "upd-" + hashlib.sha256(result.result_id.encode()).hexdigest()[:32]
    return Event(event_id, EventKind.UPDATE_RESULT, result.at, severity=severity,
                 reason=reason[:MAX_TEXT_LEN], detail=detail)
