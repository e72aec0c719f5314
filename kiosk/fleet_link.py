"""The kiosk's side of the fleet: what its heartbeats say, and what its remote commands do.

The agent (kiosk.fleet_agent) carries the messages; this module decides their content from the
session, the journal and the devices, and runs commands only between citizens. The operators'
wanted service state comes on every heartbeat reply as a service order: it is saved in the state
directory the moment it arrives, applied at once (the current citizen finishes first), applied
again at the next start before the attract screen, and reported back so the server sees it done.
The link also tells the fleet how the previous run ended and reports its own death by an error.
Business reports (wire.reports) go through it too: a summary of every transaction that
reached an end, found in the journal (kiosk.fleet_tx_reports), and the evaluations and application
decisions the kiosk learns of (`report_evaluation`, `report_application_update`).
The snapshot the heartbeats carry is taken by kiosk.fleet_snapshot; devices' statuses and events
are mapped to the wire by kiosk.fleet_devices.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.fleet_agent import CommandFailed, FleetAgent
from kiosk.fleet_devices import fleet_event_kind
from kiosk.fleet_reporting import FleetReporting
from kiosk.fleet_snapshot import take_snapshot
from kiosk.fleet_updates import FleetUpdates, Updates
from kiosk.journal import Journal
from kiosk.json_object import JsonObject
from kiosk.run_state import PreviousRun, RunInfo, ServiceOrderFile
from kiosk.session import KioskSession
from peripherals.health import DeviceEvent
from wire.agents import AgentSignedIn, AgentSignIn
from wire.fleet import (
    Command,
    CommandKind,
    DeviceStatus,
    Event,
    EventKind,
    HeartbeatReply,
    ServiceOrder,
    ServiceState,
    Severity,
)
from wire.reports import ApplicationStatus, EvaluationReport

log = logging.getLogger(__name__)

# --no-ask-password: refused at once rather than waiting for a password nobody will type. The
# kiosk user may reboot through the polkit rule scripts/setup.sh installs.
REBOOT_COMMAND = ("systemctl", "reboot", "--no-ask-password")
REBOOT_TIMEOUT_S = 30.0
REPORT_SCAN_S = 2.0  # how often the journal is looked at for transactions that reached an end


def crash_reason(exc: BaseException) -> str:
    """Where an exception came from, in words safe for the fleet: its type and the innermost
    frame's file and line, never its message (which may hold a citizen's data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"exception {type(exc).__name__}{where}"


class FleetLink:
    def __init__(
        self,
        config: KioskConfig,
        session: KioskSession,
        journal: Journal,
        device_status: Callable[[], list[DeviceStatus]],
        restart_app: Callable[[], None],
        run: RunInfo,
        updates: Updates | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.journal = journal
        self.device_status = device_status
        self.restart_app = restart_app
        self.run = run
        self.stop_reason = "shutdown"
        key = Path(config.fleet.device_key_path).read_bytes()
        self.agent = FleetAgent(
            config.fleet.server_url,
            config.kiosk_id,
            key,
            config.state_dir / "fleet-outbox.sqlite3",
            status_source=self.status,
            is_busy=lambda: session.must_not_restart,
            command_handler=self.handle,
            interval_s=config.fleet.heartbeat_interval_s,
            reply_handler=self.on_reply,
            outbox_limit=config.retention.fleet_outbox_messages,
            tasks=session.ctx.tasks,
        )
        # What the kiosk's parts tell the fleet (problems, ratings, changes) and ask of it (a
        # village agent's sign-in) comes through its channel, from `start` to `stop`.
        self.channel = session.ctx.fleet_channel
        self._staging: set[asyncio.Task[None]] = set()
        # Software updates (kiosk.update.agent): the update command, the heartbeat's status.
        self.updates = FleetUpdates(updates, self.agent.post_event) if updates else None
        # Read once at start-up, before the attract screen (a few bytes, like the key above).
        self.service_file = ServiceOrderFile(config.state_dir)
        self.service = self.service_file.load() or ServiceOrder(ServiceState.IN_SERVICE, 0)
        self._apply(self.service)
        self._snapshot: JsonObject = {}
        self._snapshot_task: asyncio.Task[None] | None = None
        self.reports = FleetReporting(
            journal,
            lambda: session.catalog,
            self.agent,
            min(REPORT_SCAN_S, config.fleet.heartbeat_interval_s),
        )
        if session.device_manager is not None:
            session.device_manager.subscribe(self._device_event)

    # -- events ------------------------------------------------------------------------------------

    def _device_event(self, event: DeviceEvent) -> None:
        """Device faults, recoveries and low supplies reach the operators as events at once, and
        a heartbeat with the new state follows straight after."""
        kind = fleet_event_kind(event)
        if kind is None:
            return
        reason = event.status.reason.value if event.status.reason else ""
        severity = Severity.INFO if kind is EventKind.DEVICE_RECOVERED else Severity.WARNING
        # The snapshot first: no heartbeat queued after this event may show the old state.
        self._snapshot = self._take_snapshot()
        self.agent.post_event(
            Event.new(kind, time.time(), severity=severity, device=event.device, reason=reason)
        )
        self.agent.send_heartbeat_soon()

    # -- the fleet channel's peer (kiosk.fleet_channel.FleetPeer) -----------------------------

    def problem(self, kind: str, reason: str) -> None:
        """A problem the operators should hear of at once (e.g. a refused catalog)."""
        self.agent.post_event(
            Event.new(
                EventKind.INFO, time.time(), severity=Severity.WARNING, reason=f"{kind}:{reason}"
            )
        )

    def evaluation(self, report: EvaluationReport) -> None:
        """Every rating the citizen gives here (kiosk.evaluation)."""
        self.stage_evaluation(report)

    def changed(self) -> None:
        """A change a heartbeat carries (the disk's level): the operators see it now."""
        self.agent.send_heartbeat_soon()

    async def agent_sign_in(self, request: AgentSignIn) -> AgentSignedIn:
        """Village agents sign in by the fleet."""
        return await self.agent.agent_sign_in(request)

    def _report_start(self) -> None:
        """How this run began: a restart event, and an unexpected exit nobody reported yet."""
        run = self.run
        detail: dict[str, str | int | float | bool] = {"previous_run": run.previous.value}
        if run.restarts is not None:
            detail["systemd_restarts"] = run.restarts
        if run.previous is PreviousRun.UNCLEAN:
            self.agent.post_event(
                Event.new(
                    EventKind.UNEXPECTED_EXIT,
                    run.started_at,
                    severity=Severity.CRITICAL,
                    reason="no clean stop: killed, power lost or hung",
                    detail={"previous_started_at": run.previous_started_at or 0.0, **detail},
                )
            )
        severity = Severity.INFO if run.previous is not PreviousRun.UNCLEAN else Severity.WARNING
        self.agent.post_event(
            Event.new(
                EventKind.STARTED,
                run.started_at,
                severity=severity,
                reason=f"previous run: {run.previous.value}",
                detail=detail,
            )
        )

    # -- what heartbeats say -----------------------------------------------------------------------

    def status(self) -> JsonObject:
        """What the next heartbeat says. The agent may ask from its own thread, so this returns
        the snapshot the loop last took (the journal is used from the loop thread only)."""
        return self._snapshot

    async def _keep_snapshot(self) -> None:
        while True:
            self._snapshot = self._take_snapshot()
            await asyncio.sleep(min(1.0, self.config.fleet.heartbeat_interval_s / 2))

    def _take_snapshot(self) -> JsonObject:
        return take_snapshot(self.session, self.journal, self.device_status, self.updates,
                             self.service, self.run)

    # -- business reports --------------------------------------------------------------------------

    async def report_transaction(self, tx_id: str) -> bool:
        """Stage this transaction's summary for the fleet now, e.g. as its settling ends (the
        journal scan finds it within REPORT_SCAN_S anyway). True if it reached an end and its
        summary was staged anew."""
        return await self.reports.transaction(tx_id)

    async def report_evaluation(
        self,
        evaluation_id: str,
        item_code: str,
        level: int,
        rated_at: float,
        tx_id: str = "",
        tags: Sequence[str] = (),
        agent_assisted: bool = False,
    ) -> None:
        """A citizen's evaluation (好差评) for the fleet's satisfaction rate: level 1-5 and the
        reason tags, never the comment. Persisted before this returns; counted once."""
        await self.reports.evaluation(
            evaluation_id, item_code, level, rated_at, tx_id, tags, agent_assisted
        )

    def stage_evaluation(self, report: EvaluationReport) -> None:
        """A rating given on this kiosk's screen (kiosk.evaluation): staged in the fleet outbox
        from the loop, without holding up the citizen's screen."""
        task = self.session.ctx.tasks.spawn("stage-evaluation", self._stage_evaluation(report))
        self._staging.add(task)   # the loop keeps only a weak reference to a task
        task.add_done_callback(self._staging.discard)

    async def _stage_evaluation(self, report: EvaluationReport) -> None:
        try:
            await self.report_evaluation(report.evaluation_id, report.item_code, report.level,
                                         report.rated_at, report.tx_id, report.tags,
                                         report.agent_assisted)
        except Exception:   # the backend's copy is in the kiosk outbox; only the figure is lost
            log.exception("evaluation %s not staged for the fleet", report.evaluation_id)

    async def report_application_update(
        self, tx_id: str, status: ApplicationStatus, at: float
    ) -> None:
        """The office's decision on an application submitted here: it ends the fleet's
        e-supervision of it (its light stops)."""
        await self.reports.application_update(tx_id, status, at)

    # -- the service order -------------------------------------------------------------------------

    def _apply(self, order: ServiceOrder) -> None:
        self.session.set_out_of_service(order.state is ServiceState.OUT_OF_SERVICE)

    async def take_order(self, order: ServiceOrder) -> None:
        """Save, apply and report a service order (unless it is the one already held)."""
        if order == self.service:
            return
        await asyncio.to_thread(self.service_file.save, order)
        self.service = order
        self._apply(order)
        log.info(
            "service order applied",
            extra={"state": order.state.value, "revision": order.revision},
        )
        self._snapshot = self._take_snapshot()
        self.agent.send_heartbeat_soon()  # so the operators see it done now, not next interval

    async def on_reply(self, reply: HeartbeatReply) -> None:
        if self.updates is not None:
            self.updates.acknowledged()
        if reply.service is not None:
            await self.take_order(reply.service)

    # -- commands ----------------------------------------------------------------------------------

    async def handle(self, command: Command) -> str | None:
        """Run one command; returns what was done, or raises CommandFailed with the reason."""
        kind = command.kind
        log.info("fleet command %s: %s", command.command_id, kind.value)
        if kind in (CommandKind.OUT_OF_SERVICE, CommandKind.BACK_IN_SERVICE):
            # Only a fleet server of the previous release sends these as commands.
            wanted = (
                ServiceState.OUT_OF_SERVICE
                if kind is CommandKind.OUT_OF_SERVICE
                else ServiceState.IN_SERVICE
            )
            await self.take_order(ServiceOrder(wanted, self.service.revision))
            return wanted.value
        if kind is CommandKind.REFETCH_CATALOG:
            await self.session.refresh_catalog()
            if self.session.catalog_problem:
                raise CommandFailed(f"catalog not refreshed: {self.session.catalog_problem}")
            catalog = self.session.catalog
            return f"catalog {catalog.version if catalog else 'none'}"
        if kind is CommandKind.RESTART_APP:
            self.stop_reason = "restart"
            self.restart_app()
            return "restarting"
        if kind is CommandKind.REBOOT:
            await self.reboot()
            return "reboot started"
        if kind is CommandKind.UPDATE:
            if self.updates is None:
                raise CommandFailed("updates are not set up on this kiosk")
            return await self.updates.handle(command)
        if kind is CommandKind.UPLOAD_LOGS:
            upload_id = await self.agent.upload_logs(command.command_id, self._log_tail())
            return f"upload {upload_id}"
        raise CommandFailed(f"unknown command {kind.value}")

    async def reboot(self) -> None:
        """Ask systemd to reboot; raise CommandFailed with its words if it refuses."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *REBOOT_COMMAND,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise CommandFailed(f"reboot refused: {REBOOT_COMMAND[0]}: {exc.strerror}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), REBOOT_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CommandFailed(
                f"reboot: no answer from systemd in {REBOOT_TIMEOUT_S:.0f} s"
            ) from None
        if proc.returncode != 0:
            words = [line.strip() for line in (err + out).decode(errors="replace").splitlines()]
            reason = " / ".join(w for w in words if w) or f"exit status {proc.returncode}"
            log.error("reboot refused", extra={"reason": reason})
            raise CommandFailed(f"reboot refused: {reason}"[:200])

    def _log_tail(self, limit: int = 512 * 1024) -> bytes:
        """The newest part of the kiosk's log; every line in it went through the masking filter."""
        path = self.config.log_dir / "kiosk.log"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return b""
        return data[-limit:]

    # -- start and stop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._snapshot = self._take_snapshot()
        self._snapshot_task = self.session.ctx.tasks.keep_running("fleet-snapshot",
                                                                  self._keep_snapshot)
        self.reports.start()
        self._report_start()
        self.agent.start()
        self.channel.connect(self)

    async def stop(self, failure: BaseException | None = None) -> None:
        """A clean stop says goodbye. A death by an exception says no goodbye: it reports an
        unexpected exit (an alert for the operators) instead."""
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
        # What ended in this run's last moments is reported with its goodbye.
        await self.reports.stop(last_scan=failure is None)
        if self._staging:   # a rating given just before the stop
            await asyncio.gather(*self._staging)
        # What the kiosk reports until now still goes out with the goodbye (post_event keeps
        # it on disk at once); from here on, nobody listens.
        self.channel.disconnect(self)
        if isinstance(failure, Exception):
            self.agent.post_event(
                Event.new(
                    EventKind.UNEXPECTED_EXIT,
                    time.time(),
                    severity=Severity.CRITICAL,
                    reason=crash_reason(failure),
                )
            )
            await self.agent.stop(clean=False)
        else:
            await self.agent.stop(clean=True, reason=self.stop_reason)
