"""Remote commands and the operators' wanted service state, with an honest status for each.

A command moves queued -> delivered -> acknowledged -> done / failed, by the table below and
nowhere else, compare-and-set like the kiosk's journal. "Done" means the server saw the kiosk's
state change, not that the kiosk said it would act:
- out of service / back in service: the kiosk reports the service order's revision applied;
- restart: a heartbeat from a new process (its start time changed);
- reboot: a heartbeat from a new boot (its boot id changed);
- the others: the kiosk's own "done" after the work (catalog fetched, logs uploaded).
The wanted service state is the server's, kept per kiosk and sent on every heartbeat reply to a
v2 kiosk; a v1 kiosk gets out/back in service as commands, as before.
"""

from __future__ import annotations

import enum
import json
import secrets
import time
from typing import Any

from fleet.db import Connection, Database
from fleet.status import SqlArgs
from wire.fields import JsonObject
from wire.fleet import (
    SERVICE_COMMANDS,
    AckOutcome,
    Command,
    CommandAck,
    CommandKind,
    Heartbeat,
    ServiceOrder,
    ServiceState,
)


class CommandStatus(enum.Enum):
    QUEUED = "queued"  # waiting for the kiosk's next heartbeat
    DELIVERED = "delivered"  # sent on a heartbeat reply
    ACKNOWLEDGED = "acknowledged"  # the kiosk is acting on it; its effect not yet seen
    DONE = "done"  # the kiosk's state changed as asked
    FAILED = "failed"  # refused, failed (with the kiosk's reason) or superseded


# The legal moves, written once. A move from any other status is refused (a stale decision).
MOVES: dict[CommandStatus, frozenset[CommandStatus]] = {
    CommandStatus.QUEUED: frozenset({CommandStatus.DELIVERED, CommandStatus.FAILED}),
    CommandStatus.DELIVERED: frozenset(
        {CommandStatus.ACKNOWLEDGED, CommandStatus.DONE, CommandStatus.FAILED}
    ),
    CommandStatus.ACKNOWLEDGED: frozenset({CommandStatus.DONE, CommandStatus.FAILED}),
    CommandStatus.DONE: frozenset(),
    CommandStatus.FAILED: frozenset(),
}
OPEN_STATUSES = (CommandStatus.QUEUED, CommandStatus.DELIVERED, CommandStatus.ACKNOWLEDGED)


def _sources(target: CommandStatus) -> list[str]:
    return [s.value for s, targets in MOVES.items() if target in targets]


def _observed(waits_for: JsonObject, hb: Heartbeat) -> str | None:
    """What in this heartbeat shows the command took effect (a few words), or None."""
    if "service_revision" in waits_for:
        if hb.wire_version < 2 or hb.service_revision < waits_for["service_revision"]:
            return None
        if hb.service_state is ServiceState.OUT_OF_SERVICE:
            return "out of service: the kiosk serves no one"
        if hb.in_service:
            return "back in service: the kiosk serves citizens"
        return "back in service, but the kiosk cannot serve yet: see its problems"
    if "started_at_not" in waits_for:
        if hb.started_at and hb.started_at != waits_for["started_at_not"]:
            return "a new kiosk process is running"
        return None
    if "boot_id_not" in waits_for:
        if hb.boot_id and hb.boot_id != waits_for["boot_id_not"]:
            return "the kiosk came back from a reboot"
        return None
    return None


class CommandBook:
    """The command half of the fleet store."""

    db: Database

    async def _move(
        self,
        tx: Connection,
        command_id: str,
        to: CommandStatus,
        now: float,
        detail: str | None = None,
        **extra: Any,  # Any: the command row's other columns, each of its own type
    ) -> bool:
        """Compare-and-set one command to `to` from a status the table allows; False if stale."""
        args = SqlArgs(to.value, now)
        sets = ["status = $1", "status_at = $2"]
        if detail is not None:
            sets.append(f"ack_detail = {args.add(detail[:500])}")
        if to is CommandStatus.DELIVERED:
            sets.append("delivered_at = COALESCE(delivered_at, $2)")
        if to is CommandStatus.DONE:
            sets.append("done_at = $2")
        for column, value in extra.items():
            sets.append(f"{column} = {args.add(value)}")
        sources = ", ".join(args.add(s) for s in _sources(to))
        n = await tx.execute(
            f"UPDATE commands SET {', '.join(sets)} WHERE command_id = {args.add(command_id)}"
            f" AND status IN ({sources})",
            *args.values,
        )
        return n == 1

    # -- operators ---------------------------------------------------------------------------------

    async def queue_command(
        self,
        kiosk_id: str,
        kind: CommandKind,
        params: JsonObject,
        issued_by: str,
        bulk_id: str | None = None,
    ) -> Command:
        async with self.db.transaction() as tx:
            return await self._queue(tx, kiosk_id, kind, params, issued_by, bulk_id)

    async def _queue(
        self,
        tx: Connection,
        kiosk_id: str,
        kind: CommandKind,
        params: JsonObject,
        issued_by: str,
        bulk_id: str | None,
    ) -> Command:
        command = Command(f"cmd-{secrets.token_hex(8)}", kind, time.time(), params)
        waits_for: JsonObject = {}
        wanted = SERVICE_COMMANDS.get(kind)
        if wanted is not None:
            row = await tx.fetchrow(
                "UPDATE kiosks SET wanted_service = $1, wanted_revision = wanted_revision + 1"
                " WHERE kiosk_id = $2 RETURNING wanted_revision",
                wanted.value,
                kiosk_id,
            )
            assert row is not None
            waits_for = {"service_revision": int(row["wanted_revision"])}
            # An earlier out/back-in-service order the kiosk has not applied never will be.
            for old in await tx.fetch(
                "SELECT command_id FROM commands WHERE kiosk_id = $1 AND kind IN ($2, $3)"
                " AND status IN ($4, $5, $6)",
                kiosk_id,
                *(k.value for k in SERVICE_COMMANDS),
                *(s.value for s in OPEN_STATUSES),
            ):
                await self._move(
                    tx,
                    old["command_id"],
                    CommandStatus.FAILED,
                    command.issued_at,
                    f"superseded by {command.command_id}",
                )
        await tx.execute(
            "INSERT INTO commands (command_id, kiosk_id, kind, params_json, issued_by,"
            " issued_at, status, status_at, waits_for, bulk_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8, $9)",
            command.command_id,
            kiosk_id,
            kind.value,
            json.dumps(params, sort_keys=True),
            issued_by,
            command.issued_at,
            CommandStatus.QUEUED.value,
            json.dumps(waits_for),
            bulk_id,
        )
        detail = {"command_id": command.command_id, "kind": kind.value}
        if bulk_id:
            detail["bulk_id"] = bulk_id
        await self.audit(  # type: ignore[attr-defined]
            issued_by, f"command:{kind.value}", kiosk_id, "queued", detail, tx
        )
        return command

    async def queue_bulk(
        self,
        kiosk_ids: list[str],
        kind: CommandKind,
        params: JsonObject,
        issued_by: str,
        description: str,
    ) -> tuple[str, list[JsonObject]]:
        """One command per kiosk under one bulk id; each kiosk's result, in order."""
        bulk_id = f"bulk-{secrets.token_hex(6)}"
        results: list[JsonObject] = []
        for kiosk_id in kiosk_ids:
            try:
                command = await self.queue_command(kiosk_id, kind, params, issued_by, bulk_id)
            except Exception as exc:  # one kiosk's failure must not hide the others' results
                results.append({"kiosk_id": kiosk_id, "status": "refused", "error": repr(exc)})
            else:
                results.append(
                    {
                        "kiosk_id": kiosk_id,
                        "command_id": command.command_id,
                        "status": CommandStatus.QUEUED.value,
                    }
                )
        await self.audit(  # type: ignore[attr-defined]
            issued_by,
            f"bulk_command:{kind.value}",
            description[:200],
            "queued",
            {"bulk_id": bulk_id, "kiosks": len(kiosk_ids)},
        )
        return bulk_id, results

    async def list_commands(
        self, kiosk_id: str | None = None, limit: int = 50, bulk_id: str | None = None
    ) -> list[JsonObject]:
        args = SqlArgs()
        where = []
        if kiosk_id is not None:
            where.append(f"kiosk_id = {args.add(kiosk_id)}")
        if bulk_id is not None:
            where.append(f"bulk_id = {args.add(bulk_id)}")
        rows = await self.db.fetch(
            f"SELECT * FROM commands WHERE {' AND '.join(where) or '1 = 1'}"
            f" ORDER BY issued_at DESC, command_id LIMIT {args.add(limit)}",
            *args.values,
        )
        for r in rows:
            r["params"] = json.loads(r.pop("params_json"))
            r["waits_for"] = json.loads(r["waits_for"])
        return rows

    async def withdraw(self, tx: Connection, command_id: str, now: float, reason: str) -> bool:
        """Fail a command no kiosk has been sent yet (a paused rollout's); False once it was
        delivered: the kiosk may be acting on it, and its outcome will tell."""
        n = await tx.execute(
            "UPDATE commands SET status = $1, status_at = $2, ack_detail = $3"
            " WHERE command_id = $4 AND status = $5",
            CommandStatus.FAILED.value,
            now,
            reason[:500],
            command_id,
            CommandStatus.QUEUED.value,
        )
        return n == 1

    async def expire_unseen(self, now: float, window_s: float) -> int:
        """Fail acknowledged commands whose effect has not been seen within `window_s`."""
        rows = await self.db.fetch(
            "SELECT command_id FROM commands WHERE status = $1 AND waits_for != '{}'"
            " AND status_at < $2",
            CommandStatus.ACKNOWLEDGED.value,
            now - window_s,
        )
        failed = 0
        for row in rows:
            async with self.db.transaction() as tx:
                failed += await self._move(
                    tx,
                    row["command_id"],
                    CommandStatus.FAILED,
                    now,
                    f"accepted, but its effect was not seen within {window_s / 60:.0f} min",
                )
        return failed

    # -- the kiosk's side: acknowledgements, observation, delivery ---------------------------------

    async def apply_ack(
        self, tx: Connection, kiosk: JsonObject, ack: CommandAck, now: float
    ) -> None:
        """A kiosk's answer to one of its commands (`kiosk` is its row before this heartbeat)."""
        row = await tx.fetchrow(
            "SELECT kind, status, waits_for FROM commands WHERE command_id = $1 AND kiosk_id = $2",
            ack.command_id,
            kiosk["kiosk_id"],
        )
        if row is None:
            return
        kind = CommandKind(row["kind"])
        waits_for = json.loads(row["waits_for"])
        columns = {"acked_at": now, "outcome": ack.outcome.value}
        if ack.outcome in (AckOutcome.FAILED, AckOutcome.REJECTED):
            await self._move(
                tx,
                ack.command_id,
                CommandStatus.FAILED,
                now,
                f"{ack.outcome.value}: {ack.detail or 'no reason given'}",
                **columns,
            )
            return
        if not waits_for and kiosk["wire_version"] >= 2:
            # A v2 kiosk's restart and reboot are seen, not taken on its word.
            if kind is CommandKind.RESTART_APP and kiosk["started_at"]:
                waits_for = {"started_at_not": kiosk["started_at"]}
            elif kind is CommandKind.REBOOT and kiosk["boot_id"]:
                waits_for = {"boot_id_not": kiosk["boot_id"]}
        if ack.outcome is AckOutcome.DONE and not waits_for:
            await self._move(tx, ack.command_id, CommandStatus.DONE, now, ack.detail, **columns)
            return
        if waits_for and "service_revision" in waits_for and kiosk["wire_version"] < 2:
            # A v1 kiosk cannot report the revision: its "done" is all there is to see.
            await self._move(tx, ack.command_id, CommandStatus.DONE, now, ack.detail, **columns)
            return
        await self._move(
            tx,
            ack.command_id,
            CommandStatus.ACKNOWLEDGED,
            now,
            ack.detail or "the kiosk is acting on it",
            waits_for=json.dumps(waits_for),
            **columns,
        )

    async def observe(self, tx: Connection, hb: Heartbeat, now: float) -> None:
        """Mark done every open command whose effect this heartbeat shows."""
        rows = await tx.fetch(
            "SELECT command_id, waits_for FROM commands WHERE kiosk_id = $1"
            " AND status IN ($2, $3) AND waits_for != '{}'",
            hb.kiosk_id,
            CommandStatus.DELIVERED.value,
            CommandStatus.ACKNOWLEDGED.value,
        )
        for row in rows:
            seen = _observed(json.loads(row["waits_for"]), hb)
            if seen is not None:
                await self._move(tx, row["command_id"], CommandStatus.DONE, now, seen)

    async def deliver(
        self,
        tx: Connection,
        kiosk_id: str,
        wire_version: int,
        now: float,
        kiosk: JsonObject | None = None,
    ) -> tuple[tuple[Command, ...], ServiceOrder]:
        """The commands a heartbeat reply carries and the kiosk's service order; marks the
        queued ones delivered. A v2 kiosk gets out/back in service as the order, not commands;
        a command stays in replies until the kiosk acknowledges it. `kiosk`: its row as the
        caller read it in this transaction (wanted_service, wanted_revision, open_commands),
        which saves two statements on most heartbeats."""
        if kiosk is None:
            kiosk = await tx.fetchrow(
                "SELECT wanted_service, wanted_revision FROM kiosks WHERE kiosk_id = $1", kiosk_id
            )
        assert kiosk is not None
        order = ServiceOrder(ServiceState(kiosk["wanted_service"]), int(kiosk["wanted_revision"]))
        if kiosk.get("open_commands") == 0:
            return (), order
        pending = await tx.fetch(
            "SELECT command_id, kind, params_json, issued_at, status FROM commands"
            " WHERE kiosk_id = $1 AND status IN ($2, $3) ORDER BY issued_at, command_id",
            kiosk_id,
            CommandStatus.QUEUED.value,
            CommandStatus.DELIVERED.value,
        )
        commands = []
        for p in pending:
            kind = CommandKind(p["kind"])
            if p["status"] == CommandStatus.QUEUED.value:
                await self._move(tx, p["command_id"], CommandStatus.DELIVERED, now)
            if kind in SERVICE_COMMANDS and wire_version >= 2:
                continue
            commands.append(
                Command(p["command_id"], kind, p["issued_at"], json.loads(p["params_json"]))
            )
        return tuple(commands), order
