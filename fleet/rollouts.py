"""Software rollouts: a verified release bundle sent to the kiosks of a region, site or tag, in
stages, with each kiosk's progress and result.

- A rollout chooses its kiosks by place or tag, and a percentage of those (1%, 10%, all): a
  stable hash of rollout and kiosk, so raising the percentage only adds kiosks.
- A chosen kiosk gets the `update` command at once (fleet.commands); it is delivered on the
  kiosk's next heartbeat. Pausing withdraws the commands not yet delivered (they go out again on
  resume); aborting withdraws them for good. A kiosk that already has its command carries on:
  nobody can stop an installation half-way from here, and none needs to (the kiosk verifies and
  rolls back by itself).
- Each kiosk's progress comes from its heartbeats' update status (its updater's phase for this
  command, the version running, the last result), looked at only while the kiosk is in an
  unfinished rollout (kiosks.rollout_id). A rollback the kiosk reports ends its part as
  `rolled_back`; the alert comes from its event (fleet.alerts).
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
import time

from fleet.commands import CommandBook, CommandStatus
from fleet.db import Connection, Database
from fleet.status import SqlArgs
from wire.fields import JsonObject
from wire.fleet import CommandKind, Heartbeat, UpdateStatus
from wire.update.errors import Outcome


class RolloutState(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ABORTED = "aborted"


class TargetStatus(enum.Enum):
    """One kiosk's part in a rollout."""

    WAITING = "waiting"  # chosen; no command out (the rollout is paused)
    QUEUED = "queued"  # its update command waits for the kiosk's next heartbeat
    REQUESTED = "requested"  # the kiosk has the command; its updater has not reported on it yet
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    INSTALLING = "installing"
    STAGED = "staged"  # installed in the spare slot: the kiosk restarts between citizens
    POSTPONED = "postponed"  # the updater will retry (link down, disk full, a trial running)
    TRIAL = "trial"  # the new version runs and must prove healthy
    LIVE = "live"
    ROLLED_BACK = "rolled_back"
    REFUSED = "refused"  # the kiosk refused the bundle (reason in the detail)
    FAILED = "failed"  # the command failed (reason in the detail)
    CANCELLED = "cancelled"  # the rollout was aborted before the kiosk got its command


FINAL = frozenset({TargetStatus.LIVE, TargetStatus.ROLLED_BACK, TargetStatus.REFUSED,
                   TargetStatus.FAILED, TargetStatus.CANCELLED})
_PHASES = {
    "downloading": TargetStatus.DOWNLOADING,
    "verifying": TargetStatus.VERIFYING,
    "installing": TargetStatus.INSTALLING,
    "staged": TargetStatus.STAGED,
    "postponed": TargetStatus.POSTPONED,
}
# The kiosk has its command (a part still "queued" moves on to "requested").
_HAS_IT = (CommandStatus.DELIVERED.value, CommandStatus.ACKNOWLEDGED.value,
           CommandStatus.DONE.value)
NO_UPDATES = "this kiosk's software does not take updates from the fleet (its heartbeats say"\
    " nothing of updates): update it by hand (kiosk-update install)"
STAGES = (1, 10, 100)  # the usual percentages; any from 1 to 100 is accepted


class RolloutRefused(Exception):
    """An operator's request that cannot be done; `reason` is the code the API answers."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def in_stage(rollout_id: str, kiosk_id: str, percent: int) -> bool:
    """Whether a kiosk is among `percent`% of the rollout's kiosks (stable as percent grows)."""
    bucket = int.from_bytes(hashlib.sha256(f"{rollout_id}/{kiosk_id}".encode()).digest()[:4])
    return bucket % 100 < percent


def progress_of(version: str, command_id: str | None,
                update: UpdateStatus | None) -> tuple[TargetStatus, str] | None:
    """What a kiosk's update status says of its part in a rollout to `version`, or None."""
    if update is None:
        return None
    result = update.last_result
    if result is not None and result.version == version:
        why = f"{result.reason}: {result.detail}".strip(": ")
        if result.outcome == Outcome.ROLLED_BACK:
            return TargetStatus.ROLLED_BACK, why or "rolled back"
        if result.outcome in (Outcome.UPDATED, Outcome.INSTALLED) and \
                update.running_version == version:
            return TargetStatus.LIVE, f"from {result.from_version}" if result.from_version else ""
    mine = bool(command_id) and update.request_id == command_id
    if mine and update.phase == "refused":
        return TargetStatus.REFUSED, (
            f"{result.reason}: {result.detail}" if result and result.outcome == "refused"
            else "refused")
    if update.running_version == version:
        return TargetStatus.TRIAL, "the new version must prove healthy"
    if mine and update.phase in _PHASES:
        detail = update.waiting_for and f"waiting: {update.waiting_for}"
        return _PHASES[update.phase], detail or ""
    return None


class Rollouts(CommandBook):
    """The rollout half of the fleet store (its commands are fleet.commands' own)."""

    db: Database

    # -- bundles -----------------------------------------------------------------------------

    async def add_bundle(self, digest: str, version: str, min_version: str, key_id: str,
                         size: int, runtime_included: bool, username: str) -> bool:
        """Record a verified bundle; False if the same manifest was uploaded before."""
        async with self.db.transaction() as tx:
            added = await tx.execute(
                "INSERT INTO bundles (digest, version, min_version, key_id, size,"
                " runtime_included, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6,"
                " $7, $8) ON CONFLICT (digest) DO NOTHING",
                digest, version, min_version, key_id, size, int(runtime_included), username,
                time.time())
            await self.audit(  # type: ignore[attr-defined]
                username, "bundle_upload", version, "stored" if added else "known",
                             {"digest": digest}, tx)
        return bool(added)

    async def list_bundles(self, limit: int = 100) -> list[JsonObject]:
        return await self.db.fetch(
            "SELECT * FROM bundles ORDER BY uploaded_at DESC LIMIT $1", limit)

    async def get_bundle(self, digest: str) -> JsonObject | None:
        return await self.db.fetchrow("SELECT * FROM bundles WHERE digest = $1", digest)

    # -- operators ---------------------------------------------------------------------------

    async def create_rollout(self, digest: str, bundle_url: str, region: str, site: str,
                             tag: str, percent: int, username: str) -> str:
        bundle = await self.get_bundle(digest)
        if bundle is None:
            raise RolloutRefused("no_such_bundle", "no bundle with this manifest digest")
        rollout_id = f"ro-{secrets.token_hex(6)}"
        now = time.time()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO rollouts (rollout_id, digest, version, bundle_url, region, site, tag,"
                " percent, state, created_by, created_at, state_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                rollout_id, digest, bundle["version"], bundle_url, region, site, tag, percent,
                RolloutState.ACTIVE.value, username, now)
            rollout = await self._rollout(tx, rollout_id)
            added = await self._add_kiosks(tx, rollout, username, now)
            await self.audit(  # type: ignore[attr-defined]
                username, "rollout_create", rollout_id, "created",
                             {"version": bundle["version"], "region": region, "site": site,
                              "tag": tag, "percent": percent, "kiosks": added}, tx)
        return rollout_id

    async def set_stage(self, rollout_id: str, percent: int, username: str) -> int:
        """Raise the share of the chosen kiosks; returns how many joined."""
        now = time.time()
        async with self.db.transaction() as tx:
            rollout = await self._rollout(tx, rollout_id)
            if rollout["state"] == RolloutState.ABORTED.value:
                raise RolloutRefused("aborted", "this rollout was aborted")
            if percent < rollout["percent"]:
                raise RolloutRefused("stage_lower", "a stage only grows: kiosks updated stay so")
            await tx.execute("UPDATE rollouts SET percent = $1 WHERE rollout_id = $2",
                             percent, rollout_id)
            added = await self._add_kiosks(tx, {**rollout, "percent": percent}, username, now)
            await self.audit(  # type: ignore[attr-defined]
                username, "rollout_stage", rollout_id, f"{percent}%",
                             {"kiosks_added": added}, tx)
        return added

    async def set_rollout_state(self, rollout_id: str, wanted: RolloutState,
                                username: str) -> dict[str, int]:
        """Pause, resume or abort; how many commands were withdrawn or sent."""
        now = time.time()
        async with self.db.transaction() as tx:
            rollout = await self._rollout(tx, rollout_id)
            state = RolloutState(rollout["state"])
            if state is RolloutState.ABORTED:
                raise RolloutRefused("aborted", "this rollout was aborted")
            counts = {"withdrawn": 0, "sent": 0}
            if wanted is RolloutState.ACTIVE:
                for row in await tx.fetch(
                        "SELECT kiosk_id FROM rollout_kiosks WHERE rollout_id = $1 AND status = $2",
                        rollout_id, TargetStatus.WAITING.value):
                    await self._send(tx, rollout, row["kiosk_id"], username, now)
                    counts["sent"] += 1
            else:
                after = (TargetStatus.WAITING if wanted is RolloutState.PAUSED
                         else TargetStatus.CANCELLED)
                counts["withdrawn"] = await self._withdraw(tx, rollout, after, now)
            await tx.execute("UPDATE rollouts SET state = $1, state_at = $2 WHERE rollout_id = $3",
                             wanted.value, now, rollout_id)
            await self.audit(  # type: ignore[attr-defined]
                username, f"rollout_{wanted.value}", rollout_id, "ok", counts, tx)
        return counts

    async def list_rollouts(self, limit: int = 100) -> list[JsonObject]:
        rows = await self.db.fetch(
            "SELECT * FROM rollouts ORDER BY created_at DESC LIMIT $1", limit)
        counts = await self.db.fetch(
            "SELECT rollout_id, status, COUNT(*) AS n FROM rollout_kiosks GROUP BY rollout_id,"
            " status")
        by_rollout: dict[str, dict[str, int]] = {}
        for c in counts:
            by_rollout.setdefault(c["rollout_id"], {})[c["status"]] = int(c["n"])
        for r in rows:
            r["counts"] = by_rollout.get(r["rollout_id"], {})
        return rows

    async def get_rollout(self, rollout_id: str) -> JsonObject | None:
        rollout = await self.db.fetchrow("SELECT * FROM rollouts WHERE rollout_id = $1",
                                         rollout_id)
        if rollout is None:
            return None
        rollout["kiosks"] = await self.db.fetch(
            "SELECT r.*, k.region, k.site, k.software_version FROM rollout_kiosks r"
            " JOIN kiosks k ON k.kiosk_id = r.kiosk_id WHERE r.rollout_id = $1"
            " ORDER BY r.kiosk_id", rollout_id)
        rollout["counts"] = {}
        for k in rollout["kiosks"]:
            rollout["counts"][k["status"]] = rollout["counts"].get(k["status"], 0) + 1
        return rollout

    # -- inside -------------------------------------------------------------------------------

    async def _rollout(self, tx: Connection, rollout_id: str) -> JsonObject:
        row = await tx.fetchrow(
            "SELECT * FROM rollouts WHERE rollout_id = $1"
            + (" FOR UPDATE" if tx.dialect == "postgresql" else ""), rollout_id)
        if row is None:
            raise RolloutRefused("no_such_rollout", "no such rollout")
        return row

    async def _add_kiosks(self, tx: Connection, rollout: JsonObject, username: str,
                          now: float) -> int:
        args = SqlArgs(rollout["rollout_id"])
        where = ["k.retired_at IS NULL", "NOT EXISTS (SELECT 1 FROM rollout_kiosks r WHERE"
                 " r.rollout_id = $1 AND r.kiosk_id = k.kiosk_id)"]
        for column in ("region", "site"):
            if rollout[column]:
                where.append(f"k.{column} = {args.add(rollout[column])}")
        if rollout["tag"]:
            where.append("k.kiosk_id IN (SELECT kiosk_id FROM kiosk_tags WHERE tag ="
                         f" {args.add(rollout['tag'])})")
        candidates = await tx.fetch(
            "SELECT k.kiosk_id, k.software_version, k.rollout_id FROM kiosks k WHERE "
            + " AND ".join(where) + " ORDER BY k.kiosk_id", *args.values)
        added = 0
        for kiosk in candidates:
            if not in_stage(rollout["rollout_id"], kiosk["kiosk_id"], rollout["percent"]):
                continue
            added += 1
            status, detail = TargetStatus.WAITING, ""
            if kiosk["software_version"] == rollout["version"]:
                status, detail = TargetStatus.LIVE, "was running it already"
            elif kiosk["rollout_id"] and kiosk["rollout_id"] != rollout["rollout_id"]:
                status, detail = TargetStatus.CANCELLED, f"in rollout {kiosk['rollout_id']}"
            await tx.execute(
                "INSERT INTO rollout_kiosks (rollout_id, kiosk_id, status, from_version, detail,"
                " added_at, status_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                rollout["rollout_id"], kiosk["kiosk_id"], status.value,
                kiosk["software_version"], detail, now)
            if status is TargetStatus.WAITING and rollout["state"] == RolloutState.ACTIVE.value:
                await self._send(tx, rollout, kiosk["kiosk_id"], username, now)
        return added

    async def _send(self, tx: Connection, rollout: JsonObject, kiosk_id: str,
                    username: str, now: float) -> None:
        command = await self._queue(
            tx, kiosk_id, CommandKind.UPDATE,
            {"url": rollout["bundle_url"], "manifest_digest": rollout["digest"]},
            username, rollout["rollout_id"])
        await tx.execute(
            "UPDATE rollout_kiosks SET status = $1, command_id = $2, status_at = $3, detail = ''"
            " WHERE rollout_id = $4 AND kiosk_id = $5",
            TargetStatus.QUEUED.value, command.command_id, now, rollout["rollout_id"], kiosk_id)
        await tx.execute("UPDATE kiosks SET rollout_id = $1 WHERE kiosk_id = $2",
                         rollout["rollout_id"], kiosk_id)

    async def _withdraw(self, tx: Connection, rollout: JsonObject, after: TargetStatus,
                        now: float) -> int:
        """The commands not yet delivered, withdrawn; their kiosks' parts become `after`."""
        withdrawn = 0
        reason = "rollout paused" if after is TargetStatus.WAITING else "rollout aborted"
        for row in await tx.fetch(
                "SELECT kiosk_id, command_id, status FROM rollout_kiosks WHERE rollout_id = $1"
                " AND status IN ($2, $3)", rollout["rollout_id"], TargetStatus.QUEUED.value,
                TargetStatus.WAITING.value):
            if row["status"] == TargetStatus.QUEUED.value and not await self.withdraw(
                    tx, row["command_id"], now, reason):
                continue  # delivered meanwhile: the kiosk has it and carries on
            withdrawn += row["status"] == TargetStatus.QUEUED.value
            await tx.execute(
                "UPDATE rollout_kiosks SET status = $1, command_id = NULL, status_at = $2,"
                " detail = $3 WHERE rollout_id = $4 AND kiosk_id = $5",
                after.value, now, reason, rollout["rollout_id"], row["kiosk_id"])
            await tx.execute("UPDATE kiosks SET rollout_id = NULL WHERE kiosk_id = $1"
                             " AND rollout_id = $2", row["kiosk_id"], rollout["rollout_id"])
        return withdrawn

    async def rollout_seen(self, tx: Connection, rollout_id: str, hb: Heartbeat,
                           now: float) -> None:
        """A heartbeat of a kiosk in an unfinished rollout: its part moves on."""
        part = await tx.fetchrow(
            "SELECT r.status, r.command_id, r.detail, r.bytes_done, r.from_version, o.version,"
            " c.status AS command_status, c.ack_detail FROM rollout_kiosks r JOIN rollouts o ON o.rollout_id = r.rollout_id"
            " LEFT JOIN commands c ON c.command_id = r.command_id"
            " WHERE r.rollout_id = $1 AND r.kiosk_id = $2", rollout_id, hb.kiosk_id)
        if part is None or TargetStatus(part["status"]) in FINAL:
            await tx.execute("UPDATE kiosks SET rollout_id = NULL WHERE kiosk_id = $1",
                             hb.kiosk_id)
            return
        if hb.update is None and part["command_status"] == CommandStatus.QUEUED.value:
            # Software that says nothing of updates does not know the command either: a reply
            # carrying it would be refused whole (an unknown command kind), service order and all.
            await self.withdraw(tx, part["command_id"], now, NO_UPDATES)
            part = {**part, "command_status": CommandStatus.FAILED.value, "ack_detail": NO_UPDATES}
        seen = progress_of(part["version"], part["command_id"], hb.update)
        if seen is None and part["command_status"] == CommandStatus.FAILED.value:
            seen = TargetStatus.FAILED, part["ack_detail"] or "the command failed"
        elif seen is None and part["status"] == TargetStatus.QUEUED.value and \
                part["command_status"] in _HAS_IT:
            seen = TargetStatus.REQUESTED, ""
        update = hb.update
        done = update.bytes_done if update else None
        since = part["from_version"] or _from_version(part["version"], update)
        if seen is None or (seen[0].value, seen[1], done, since) == (
                part["status"], part["detail"], part["bytes_done"], part["from_version"]):
            return
        status, detail = seen
        await tx.execute(
            "UPDATE rollout_kiosks SET status = $1, detail = $2, status_at = $3, bytes_done = $4,"
            " bytes_total = $5, from_version = $6 WHERE rollout_id = $7 AND kiosk_id = $8",
            status.value, detail[:500], now, done, update.bytes_total if update else None, since,
            rollout_id, hb.kiosk_id)
        if status in FINAL:
            await tx.execute("UPDATE kiosks SET rollout_id = NULL WHERE kiosk_id = $1",
                             hb.kiosk_id)


def _from_version(version: str, update: UpdateStatus | None) -> str:
    """The version a kiosk updates from, for one not heard from when the rollout chose it."""
    if update is None:
        return ""
    if update.running_version != version:
        return update.running_version
    result = update.last_result
    return result.from_version if result is not None and result.version == version else ""


def update_json(hb: Heartbeat) -> str:
    """The heartbeat's update status as the kiosks table keeps it ('' when it sent none)."""
    return json.dumps(hb.update.to_json(), sort_keys=True) if hb.update else ""
