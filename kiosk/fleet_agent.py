"""The kiosk's fleet agent: heartbeats, events, business reports and remote commands.

The agent sends a heartbeat every interval (with jitter, so a fleet restarted together does not
beat in step), and events as they happen. Everything goes through a bounded persistent outbox
first and is sent in order, so nothing is lost while the server is unreachable; failures back off
exponentially. Commands arrive on heartbeat replies, run one at a time when `is_busy()` is false
(never during a citizen's transaction), and their acknowledgements ride on later heartbeats until
the server confirms them. A restart or reboot is acknowledged `accepted` before it runs (the
process may not come back to say more); the server sees it done when the kiosk comes back. A
command that cannot be carried out raises CommandFailed with the reason operators should read.
Every reply goes to `reply_handler` too (the service order rides on it). Business reports
(transaction summaries, evaluations, applications: kiosk.fleet_report_outbox) are staged in the
same file and sent once the queue is empty; a fleet server that does not take them yet (404)
leaves them staged. Blocking SQLite work runs on one worker thread.

The outbox is kiosk.fleet_outbox, enrollment and the signed requests kiosk.fleet_enrollment, and
what `status_source()` may return for the heartbeat kiosk.fleet_heartbeat.
"""


from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.fleet_enrollment import KEY_REFUSALS, FleetError, FleetErrorReason, FleetSession
from kiosk.fleet_heartbeat import heartbeat_json
from kiosk.fleet_outbox import Outbox, OutboxKind
from kiosk.fleet_report_outbox import (
    PendingReport,
    ReportCursor,
    StagedReport,
)
from kiosk.json_object import JsonObject, JsonValue
from kiosk.tasks import TaskSupervisor
from wire.agents import AGENT_SIGN_IN_PATH, AgentSignedIn, AgentSignIn
from wire.fleet import (
    DISRUPTIVE_COMMANDS,
    AckOutcome,
    Command,
    CommandAck,
    Event,
    EventBatch,
    Goodbye,
    HeartbeatReply,
    WireError,
)
from wire.reports import REPORTS_PATH, ReportBatch

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")  # what a blocking outbox call returns


class CommandFailed(Exception):
    """A command the kiosk could not carry out; the message is the reason operators read."""


class FleetAgent:
    """Heartbeats, events and remote commands between one kiosk and its fleet server."""

    def __init__(
        self,
        server_url: str,
        kiosk_id: str,
        private_key: Ed25519PrivateKey | bytes,
        outbox_path: Path,
        status_source: Callable[[], Mapping[str, object]],
        is_busy: Callable[[], bool],
        command_handler: Callable[[Command], Awaitable[str | None]],
        interval_s: float = 15.0,
        *,
        reply_handler: Callable[[HeartbeatReply], Awaitable[None]] | None = None,
        jitter: float = 0.1,
        max_backoff_s: float | None = None,
        outbox_limit: int = 10_000,
        busy_poll_s: float = 0.5,
        request_timeout_s: float = 10.0,
        tasks: TaskSupervisor | None = None,
    ) -> None:
        self.tasks = tasks or TaskSupervisor()  # the kiosk's (FlowContext.tasks) when it runs
        self.server_url = server_url
        self.kiosk_id = kiosk_id
        self._http = FleetSession(server_url, private_key, request_timeout_s)
        self._outbox_path = Path(outbox_path)
        self._status_source = status_source
        self._is_busy = is_busy
        self._command_handler = command_handler
        self._reply_handler = reply_handler
        self.interval_s = interval_s
        self.jitter = jitter
        self.max_backoff_s = max_backoff_s if max_backoff_s is not None else 8 * interval_s
        self.busy_poll_s = busy_poll_s
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-outbox")
        self._outbox_future = self._io.submit(Outbox, self._outbox_path, outbox_limit)
        self._wake = asyncio.Event()
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._queued: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._next_heartbeat = 0.0
        self._retry_at = 0.0
        self._reports_retry_at = 0.0
        self.failures = 0
        self.online = False
        self.last_error = ""
        self.running_command: Command | None = None

    # -- public ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending (call on the running event loop); the first heartbeat goes at once."""
        if self._tasks:
            return
        self._tasks = [
            self.tasks.keep_running("fleet-send", self._send_loop),
            self.tasks.keep_running("fleet-commands", self._command_loop),
        ]

    async def stop(self, clean: bool = True, reason: str = "shutdown") -> None:
        """Stop: send what is queued (briefly), then, on a clean stop only, a goodbye so the
        fleet shows us offline at once. A kiosk dying on an error says no goodbye: what it
        queued about its death goes now if it can, else from the outbox at the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush(), timeout=3.0)
        if clean:
            bye = Goodbye(self.kiosk_id, self._now(), reason)
            try:
                await self._post(f"/kiosks/{self.kiosk_id}/goodbye", bye.to_json())
            except FleetError as exc:
                log.warning("goodbye not delivered", extra={"reason": exc.reason.value})
        await self._http.close()
        outbox = await self._outbox()
        await self._in_io(outbox.close)
        self._io.shutdown(wait=True)

    def post_event(self, event: Event) -> None:
        """Queue an event for the server (persisted first; sent in order, soon)."""
        payload = event.to_json()
        self._io.submit(self._append_blocking, OutboxKind.EVENT, payload)
        self._wake.set()

    def send_heartbeat_soon(self) -> None:
        """Beat now rather than at the end of the interval (e.g. a device just failed)."""
        self._next_heartbeat = 0.0
        self._wake.set()

    async def report_cursor(self) -> ReportCursor:
        outbox = await self._outbox()
        return await self._in_io(outbox.reports.cursor)

    async def stage_reports(
        self, reports: list[StagedReport], cursor: ReportCursor | None = None
    ) -> int:
        """Persist reports whose view changed (and the reporter's cursor) before returning; they
        are sent soon. Returns how many were staged anew."""
        outbox = await self._outbox()
        staged = await self._in_io(outbox.reports.stage, reports, cursor)
        if staged:
            self._wake.set()
        return int(staged)

    async def unsent_reports(self) -> int:
        outbox = await self._outbox()
        return int(await self._in_io(outbox.reports.unsent))

    async def outbox_size(self) -> int:
        outbox = await self._outbox()
        return await self._in_io(outbox.size)

    async def upload_logs(self, command_id: str, content: bytes) -> int:
        """Upload an (already masked) log bundle for an upload_logs command; returns its id."""
        data = await self._http.request(
            f"/kiosks/{self.kiosk_id}/logs?command_id={command_id}", content, "text/plain"
        )
        return int(data["upload_id"])

    async def agent_sign_in(self, request: AgentSignIn) -> AgentSignedIn:
        """Asks the fleet whether this is a village agent of our site; FleetError if not (its
        code is a wire.agents.AgentRefusal value) or if the fleet is unreachable."""
        path = AGENT_SIGN_IN_PATH.format(kiosk_id=self.kiosk_id)
        return AgentSignedIn.from_json(await self._post(path, request.to_json()))

    # -- plumbing ----------------------------------------------------------------------------------

    async def _outbox(self) -> Outbox:
        return await asyncio.wrap_future(self._outbox_future)

    async def _in_io(self, fn: Callable[..., _Result], *args: object) -> _Result:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def _append_blocking(self, kind: OutboxKind, payload: JsonObject) -> None:
        try:
            self._outbox_future.result().append(kind, payload)
        except Exception:
            log.exception("could not write to the fleet outbox")

    def _now(self) -> float:
        return self._http.now()

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def _post(self, path: str, payload: JsonObject) -> JsonValue:
        return await self._http.post(path, payload)

    def _queue_heartbeat_blocking(self) -> None:
        outbox = self._outbox_future.result()
        hb = heartbeat_json(
            self._status_source,
            self.kiosk_id,
            outbox.next_heartbeat_seq(),
            self._now,
            self.interval_s,
            outbox.pending_acks(),
            outbox.dropped,
        )
        outbox.append(OutboxKind.HEARTBEAT, hb)

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if now >= self._next_heartbeat:
                await self._in_io(self._queue_heartbeat_blocking)
                self._next_heartbeat = now + self._jittered(self.interval_s)
            if now >= self._retry_at:
                if await self._flush():
                    self.failures, self._retry_at = 0, 0.0
                else:
                    self.failures += 1
                    backoff = min(self.max_backoff_s, self.interval_s * 2 ** (self.failures - 1))
                    self._retry_at = loop.time() + backoff * random.uniform(0.5, 1.0)
            wake_at = self._next_heartbeat
            if self._retry_at:
                wake_at = min(wake_at, self._retry_at)
            self._wake.clear()
            # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation that
            # arrives as the event is set (an event posted just before stop()), and stop() then
            # waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake_at - loop.time())):
                    await self._wake.wait()

    async def _flush(self) -> bool:
        """Send the outbox in order; True once it is empty, False if the server is out of reach."""
        outbox = await self._outbox()
        while True:
            items = await self._in_io(outbox.peek, 100)
            if not items:
                return await self._send_reports(outbox)
            sent_acks: list[tuple[str, str]] = []
            if items[0].kind is OutboxKind.EVENT:
                batch = []
                for item in items:
                    if item.kind is not OutboxKind.EVENT:
                        break
                    batch.append(item)
                path = f"/kiosks/{self.kiosk_id}/events"
                payload: JsonObject = {
                    "kiosk_id": self.kiosk_id,
                    "events": [i.payload for i in batch],
                }
                payload = EventBatch.from_json(payload).to_json()
            else:
                batch = [items[0]]
                path = f"/kiosks/{self.kiosk_id}/heartbeat"
                payload = batch[0].payload
                sent_acks = [(a["command_id"], a["outcome"]) for a in payload.get("acks", [])]
            try:
                data = await self._post(path, payload)
            except FleetError as exc:
                self.online = exc.reason is not FleetErrorReason.UNREACHABLE
                self.last_error = str(exc)
                if exc.status == 400:
                    # The server will never take this item; drop it rather than block the rest.
                    log.error("fleet refused an outbox item", extra={"reason": str(exc)})
                    await self._in_io(outbox.remove, [i.seq for i in batch])
                    continue
                if exc.refusal in KEY_REFUSALS:
                    # Not an outage: an operator revoked this kiosk's key or retired it. The
                    # outbox is kept for when a technician re-keys it (kiosk-provision --rekey).
                    log.error(
                        "the fleet refuses this kiosk's key; it needs a re-key token",
                        extra={"reason": exc.code},
                    )
                    return False
                log.info("fleet server not reachable", extra={"reason": str(exc)})
                return False
            self.online, self.last_error = True, ""
            await self._in_io(outbox.remove, [i.seq for i in batch])
            if batch[0].kind is OutboxKind.HEARTBEAT:
                await self._on_reply(outbox, data, sent_acks)

    async def _send_reports(self, outbox: Outbox) -> bool:
        """Send staged reports in batches; False if the server is out of reach. A server that
        does not know the endpoint yet is asked again ten minutes later; heartbeats go on."""
        if time.monotonic() < self._reports_retry_at:
            return True
        while True:
            pending: list[PendingReport] = await self._in_io(outbox.reports.pending, 100)
            if not pending:
                return True
            lists: dict[str, list[JsonObject]] = {}
            for report in pending:
                lists.setdefault(report.kind.value, []).append(report.payload)
            try:
                payload = ReportBatch.from_json({"kiosk_id": self.kiosk_id, **lists}).to_json()
            except WireError as exc:  # a report this kiosk itself cannot send: never will
                log.error("reports do not fit the schema", extra={"reason": str(exc)})
                await self._in_io(outbox.reports.mark_sent, pending)
                continue
            try:
                await self._post(REPORTS_PATH.format(kiosk_id=self.kiosk_id), payload)
            except FleetError as exc:
                if exc.status == 404:
                    log.warning("the fleet server takes no reports yet; kept for later")
                    self._reports_retry_at = time.monotonic() + 600.0
                    return True
                if exc.status != 400:
                    self.online = exc.reason is not FleetErrorReason.UNREACHABLE
                    self.last_error = str(exc)
                    return False
                # The server will never take these; dropping them keeps the rest moving.
                log.error(
                    "fleet refused reports", extra={"reason": str(exc), "count": len(pending)}
                )
            await self._in_io(outbox.reports.mark_sent, pending)

    async def _on_reply(self, outbox: Outbox, data: JsonValue, sent_acks: list[tuple[str, str]]) -> None:
        try:
            reply = HeartbeatReply.from_json(data)
        except WireError as exc:
            log.error("bad heartbeat reply", extra={"reason": str(exc)})
            return
        self._http.clock_offset = reply.server_time - time.time()
        self.interval_s = reply.interval_s
        confirmed = [pair for pair in sent_acks if pair[0] in reply.acked]
        if confirmed:
            await self._in_io(outbox.confirm_acks, confirmed)
        if self._reply_handler is not None:
            try:
                await self._reply_handler(reply)
            except Exception:  # the kiosk's handling of a reply must not stop the agent
                log.exception("heartbeat reply handler failed")
        for command in reply.commands:
            if command.command_id in self._queued:
                continue
            if await self._in_io(outbox.was_started, command.command_id):
                continue
            self._queued.add(command.command_id)
            self._commands.put_nowait(command)

    async def _command_loop(self) -> None:
        outbox = await self._outbox()
        while True:
            command = await self._commands.get()
            # A safe moment: never in the middle of a citizen's transaction.
            while self._is_busy():
                await asyncio.sleep(self.busy_poll_s)
            self.running_command = command
            await self._in_io(outbox.mark_started, command.command_id)
            if command.kind in DISRUPTIVE_COMMANDS:
                # The process may not come back to report: say it is under way before acting.
                ack = CommandAck(command.command_id, AckOutcome.ACCEPTED, "started", self._now())
                await self._in_io(outbox.record_ack, ack)
            try:
                detail = await self._command_handler(command)
                ack = CommandAck(command.command_id, AckOutcome.DONE, detail or "", self._now())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = str(exc) if isinstance(exc, CommandFailed) else repr(exc)
                log.warning(
                    "command failed", extra={"command": command.kind.value, "reason": reason}
                )
                ack = CommandAck(command.command_id, AckOutcome.FAILED, reason[:200], self._now())
            finally:
                self.running_command = None
                self._queued.discard(command.command_id)
            await self._in_io(outbox.record_ack, ack)
            self.send_heartbeat_soon()
