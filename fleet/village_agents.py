"""Village agents (代办员) in the fleet: kept by operators, signed in at their own site's kiosks.

The fleet knows an agent by an agent id, a site, a keyed hash of their ID card number (HMAC with
a secret kept in the database, so every server process computes the same one; the number itself
is never stored) and a PIN as a scrypt hash. An agent signs in at a kiosk of their site with
their ID card and PIN, or with a one-time sign-in code an operator issues from the dashboard
(shown as a QR code: five minutes, one use, only its hash stored). Five wrong PINs in a row lock
the agent for 15 minutes, counted in the database (every server process sees it). Every
sign-in, refused or not, and every change an operator makes is in the audit log; what an agent
did is in tx_facts.agent_id (the kiosks' transaction summaries).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from fleet.auth import PasswordPool, token_hash
from fleet.store import FleetStore
from wire.agents import (
    SIGN_IN_CODE_PREFIX,
    AgentCredential,
    AgentRefusal,
    AgentSignedIn,
    AgentSignIn,
)
from wire.fields import JsonObject

AGENT_ID = re.compile(r"VA-[A-Za-z0-9]{1,24}")
CODE_LIFETIME_S = 300.0
SESSION_S = 30 * 60.0  # an agent session on the kiosk ends after this, whatever happens
MAX_PIN_FAILURES = 5
LOCKOUT_S = 15 * 60.0
_SECRET_NAME = "agent_id_card_key"


class AgentSignInRefused(Exception):
    def __init__(self, reason: AgentRefusal, agent_id: str = "") -> None:
        super().__init__(reason.value)
        self.reason, self.agent_id = reason, agent_id


@dataclass(frozen=True)
class SignInCode:
    code: str  # what the QR code holds
    agent_id: str
    expires_at: float


async def _id_card_key(store: FleetStore) -> bytes:
    """The fleet's key for ID card hashes: made once, by whichever process asks first."""
    await store.db.execute(
        "INSERT INTO fleet_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        _SECRET_NAME,
        secrets.token_hex(32),
    )
    row = await store.db.fetchrow("SELECT value FROM fleet_secrets WHERE name = $1", _SECRET_NAME)
    assert row is not None
    return bytes.fromhex(row["value"])


async def id_card_hash(store: FleetStore, id_number: str) -> str:
    return hmac.new(await _id_card_key(store), id_number.encode(), hashlib.sha256).hexdigest()


async def create_agent(
    store: FleetStore,
    passwords: PasswordPool,
    actor: str,
    agent_id: str,
    site: str,
    id_number: str,
    pin: str,
) -> None:
    """A new agent; raises ValueError("agent_exists" / "id_card_in_use")."""
    hashed_card = await id_card_hash(store, id_number)
    if await store.db.fetchrow("SELECT 1 FROM village_agents WHERE agent_id = $1", agent_id):
        raise ValueError("agent_exists")
    if await store.db.fetchrow(
        "SELECT 1 FROM village_agents WHERE id_card_hash = $1", hashed_card
    ):
        raise ValueError("id_card_in_use")
    pin_hash = await passwords.hash(pin)
    await store.db.execute(
        "INSERT INTO village_agents (agent_id, site, id_card_hash, pin_hash, created_by,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        agent_id,
        site,
        hashed_card,
        pin_hash,
        actor,
        time.time(),
    )
    await store.audit(actor, "create_village_agent", agent_id, "ok", {"site": site})


async def disable_agent(store: FleetStore, actor: str, agent_id: str) -> bool:
    changed = await store.db.execute(
        "UPDATE village_agents SET disabled_at = $1 WHERE agent_id = $2 AND disabled_at IS NULL",
        time.time(),
        agent_id,
    )
    await store.audit(actor, "disable_village_agent", agent_id, "ok" if changed else "unchanged")
    return bool(changed)


async def list_agents(store: FleetStore) -> list[JsonObject]:
    """What the dashboard lists (no hashes), with how many transactions each agent assisted."""
    rows = await store.db.fetch(
        "SELECT a.agent_id, a.site, a.created_by, a.created_at, a.disabled_at, a.locked_until,"
        " (SELECT COUNT(*) FROM tx_facts f WHERE f.agent_id = a.agent_id) AS assisted"
        " FROM village_agents a ORDER BY a.agent_id"
    )
    now = time.time()
    return [
        {
            "agent_id": r["agent_id"],
            "site": r["site"],
            "created_by": r["created_by"],
            "created_at": r["created_at"],
            "disabled": r["disabled_at"] is not None,
            "locked": r["locked_until"] > now,
            "assisted": int(r["assisted"]),
        }
        for r in rows
    ]


async def agent_acts(store: FleetStore, agent_id: str, limit: int = 100) -> list[JsonObject]:
    """The transactions an agent ran for citizens (the kiosks' summaries: no citizen data)."""
    return await store.db.fetch(
        "SELECT kiosk_id, tx_id, item_code, outcome, amount_fen, started_at FROM tx_facts"
        " WHERE agent_id = $1 ORDER BY started_at DESC LIMIT $2",
        agent_id,
        limit,
    )


async def issue_code(store: FleetStore, actor: str, agent_id: str) -> SignInCode:
    """A one-time sign-in code for the dashboard's QR code; raises LookupError if no such
    agent is enabled."""
    agent = await store.db.fetchrow(
        "SELECT disabled_at FROM village_agents WHERE agent_id = $1", agent_id
    )
    if agent is None or agent["disabled_at"] is not None:
        raise LookupError(agent_id)
    code = SIGN_IN_CODE_PREFIX + secrets.token_urlsafe(24)
    now = time.time()
    await store.db.execute(
        "INSERT INTO agent_sign_in_codes (code_hash, agent_id, created_by, created_at,"
        " expires_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash(code),
        agent_id,
        actor,
        now,
        now + CODE_LIFETIME_S,
    )
    await store.audit(actor, "issue_agent_sign_in_code", agent_id, "ok")
    return SignInCode(code, agent_id, now + CODE_LIFETIME_S)


async def _agent_by_code(store: FleetStore, code: str, now: float) -> JsonObject:
    # One use: the code is spent by the UPDATE that finds it unused, so two kiosks scanning
    # the same code at once cannot both sign in with it.
    spent = await store.db.execute(
        "UPDATE agent_sign_in_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL"
        " AND expires_at > $1",
        now,
        token_hash(code),
    )
    row = await store.db.fetchrow(
        "SELECT agent_id, expires_at, used_at FROM agent_sign_in_codes WHERE code_hash = $1",
        token_hash(code),
    )
    if row is None:
        raise AgentSignInRefused(AgentRefusal.UNKNOWN)
    if not spent:
        used = row["used_at"] is not None
        raise AgentSignInRefused(
            AgentRefusal.CODE_USED if used else AgentRefusal.CODE_EXPIRED, row["agent_id"]
        )
    agent = await store.db.fetchrow(
        "SELECT * FROM village_agents WHERE agent_id = $1", row["agent_id"]
    )
    assert agent is not None  # REFERENCES village_agents
    return agent


async def _agent_by_card(
    store: FleetStore, passwords: PasswordPool, request: AgentSignIn, now: float
) -> JsonObject:
    agent = await store.db.fetchrow(
        "SELECT * FROM village_agents WHERE id_card_hash = $1",
        await id_card_hash(store, request.id_number),
    )
    if agent is None:
        raise AgentSignInRefused(AgentRefusal.UNKNOWN)
    if agent["locked_until"] > now:
        raise AgentSignInRefused(AgentRefusal.LOCKED, agent["agent_id"])
    if not await passwords.check(request.pin, agent["pin_hash"]):
        # Counted in the row itself, in one statement (its right-hand sides all read the old
        # row): every server process adds to the same count, and the fifth locks.
        await store.db.execute(
            "UPDATE village_agents SET"
            " locked_until = CASE WHEN pin_failures + 1 >= $1 THEN $2 ELSE locked_until END,"
            " pin_failures = CASE WHEN pin_failures + 1 >= $1 THEN 0 ELSE pin_failures + 1 END"
            " WHERE agent_id = $3",
            MAX_PIN_FAILURES,
            now + LOCKOUT_S,
            agent["agent_id"],
        )
        raise AgentSignInRefused(AgentRefusal.PIN_WRONG, agent["agent_id"])
    await store.db.execute(
        "UPDATE village_agents SET pin_failures = 0 WHERE agent_id = $1", agent["agent_id"]
    )
    return agent


async def sign_in(
    store: FleetStore, passwords: PasswordPool, request: AgentSignIn, now: float | None = None
) -> AgentSignedIn:
    """The fleet's answer to a kiosk's AgentSignIn; raises AgentSignInRefused. Audited."""
    now = time.time() if now is None else now
    actor = f"kiosk:{request.kiosk_id}"
    try:
        if request.credential is AgentCredential.SIGN_IN_CODE:
            agent = await _agent_by_code(store, request.code, now)
        else:
            agent = await _agent_by_card(store, passwords, request, now)
        if agent["disabled_at"] is not None:
            raise AgentSignInRefused(AgentRefusal.DISABLED, agent["agent_id"])
        kiosk = await store.db.fetchrow(
            "SELECT site FROM kiosks WHERE kiosk_id = $1", request.kiosk_id
        )
        if kiosk is None or kiosk["site"] != agent["site"]:
            raise AgentSignInRefused(AgentRefusal.OTHER_SITE, agent["agent_id"])
    except AgentSignInRefused as exc:
        await store.audit(
            actor, "agent_sign_in", exc.agent_id or "?", exc.reason.value,
            {"credential": request.credential.value},
        )
        raise
    await store.audit(
        actor, "agent_sign_in", agent["agent_id"], "ok", {"credential": request.credential.value}
    )
    return AgentSignedIn(agent["agent_id"], SESSION_S)
