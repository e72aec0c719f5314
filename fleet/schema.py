"""The fleet server's tables, in the SQL that SQLite and PostgreSQL both accept.

`_TABLES` is the first released schema (version 1) and never changes; every later change is a
numbered migration below, so a fresh database and an upgraded one end up the same. FleetStore
runs the migrations a database has not seen yet, once, on start-up.
"""

from __future__ import annotations

_TABLES = """
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION,
    used_by TEXT
);

CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    public_key_pem TEXT NOT NULL,
    site TEXT NOT NULL,
    region TEXT NOT NULL,
    enrolled_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION,
    status_at DOUBLE PRECISION,
    last_seq BIGINT NOT NULL DEFAULT -1,
    interval_s DOUBLE PRECISION NOT NULL,
    software_version TEXT NOT NULL DEFAULT '',
    catalog_version TEXT NOT NULL DEFAULT '',
    in_service INTEGER NOT NULL DEFAULT 1,
    devices_json TEXT NOT NULL DEFAULT '[]',
    attention_json TEXT NOT NULL DEFAULT '[]',
    counters_json TEXT NOT NULL DEFAULT '{}',
    alert_keys TEXT NOT NULL DEFAULT '[]',
    heartbeats BIGINT NOT NULL DEFAULT 0,
    events BIGINT NOT NULL DEFAULT 0,
    goodbye_at DOUBLE PRECISION,
    goodbye_reason TEXT NOT NULL DEFAULT '',
    offline_alert INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS events (
    id {serial},
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    device TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    UNIQUE (kiosk_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_kiosk ON events (kiosk_id, id);

CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    kind TEXT NOT NULL,
    params_json TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    acked_at DOUBLE PRECISION,
    outcome TEXT,
    ack_detail TEXT
);
CREATE INDEX IF NOT EXISTS commands_pending ON commands (kiosk_id, issued_at) WHERE acked_at IS NULL;

CREATE TABLE IF NOT EXISTS daily_counters (
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (kiosk_id, day, name)
);

CREATE TABLE IF NOT EXISTS alerts (
    id {serial},
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    raised_at DOUBLE PRECISION NOT NULL,
    cleared_at DOUBLE PRECISION,
    acked_at DOUBLE PRECISION,
    acked_by TEXT
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (kiosk_id) WHERE cleared_at IS NULL;

CREATE TABLE IF NOT EXISTS audit (
    id {serial},
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail_json TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (seen_at);

CREATE TABLE IF NOT EXISTS log_uploads (
    id {serial},
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    command_id TEXT NOT NULL,
    uploaded_at DOUBLE PRECISION NOT NULL,
    size INTEGER NOT NULL,
    content TEXT NOT NULL
);
"""

# version -> statements. Columns are added with defaults, so rows written by an older server stay
# valid; a new column that needs a value from old data gets an UPDATE here.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        # The operators' wanted service state, kept per kiosk and re-sent on every reply;
        # what the kiosk last reported of it; how to tell a restart and a reboot happened.
        "ALTER TABLE kiosks ADD COLUMN wanted_service TEXT NOT NULL DEFAULT 'in_service'",
        "ALTER TABLE kiosks ADD COLUMN wanted_revision BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE kiosks ADD COLUMN service_state TEXT NOT NULL DEFAULT 'in_service'",
        "ALTER TABLE kiosks ADD COLUMN service_revision BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE kiosks ADD COLUMN wire_version INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE kiosks ADD COLUMN started_at DOUBLE PRECISION",
        "ALTER TABLE kiosks ADD COLUMN boot_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE kiosks ADD COLUMN restarts INTEGER",
        # How many problems the last heartbeat showed (devices, supplies, attention): lets the
        # state at a glance be judged, filtered and paged in SQL.
        "ALTER TABLE kiosks ADD COLUMN problem_count INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS kiosks_by_place ON kiosks (region, site, kiosk_id)",
        "CREATE INDEX IF NOT EXISTS kiosks_by_site ON kiosks (site)",
        "CREATE INDEX IF NOT EXISTS kiosks_by_version ON kiosks (software_version)",
        """CREATE TABLE IF NOT EXISTS kiosk_tags (
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            tag TEXT NOT NULL,
            PRIMARY KEY (kiosk_id, tag)
        )""",
        "CREATE INDEX IF NOT EXISTS kiosk_tags_by_tag ON kiosk_tags (tag, kiosk_id)",
        # Command status: queued -> delivered -> acknowledged -> done (state observed) / failed.
        "ALTER TABLE commands ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'",
        "ALTER TABLE commands ADD COLUMN status_at DOUBLE PRECISION",
        "ALTER TABLE commands ADD COLUMN done_at DOUBLE PRECISION",
        "ALTER TABLE commands ADD COLUMN waits_for TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE commands ADD COLUMN bulk_id TEXT",
        """UPDATE commands SET status = CASE
            WHEN acked_at IS NOT NULL AND outcome = 'done' THEN 'done'
            WHEN acked_at IS NOT NULL THEN 'failed'
            WHEN delivered_at IS NOT NULL THEN 'delivered'
            ELSE 'queued' END""",
        "CREATE INDEX IF NOT EXISTS commands_by_kiosk ON commands (kiosk_id, issued_at)",
        "CREATE INDEX IF NOT EXISTS commands_by_bulk ON commands (bulk_id)",
        # Server-side history (offline, back online, goodbye) sits beside the kiosk's events.
        "ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT 'kiosk'",
        "CREATE INDEX IF NOT EXISTS alerts_by_kiosk ON alerts (kiosk_id, id)",
        "CREATE INDEX IF NOT EXISTS alerts_open_kind ON alerts (kind) WHERE cleared_at IS NULL",
        "CREATE INDEX IF NOT EXISTS log_uploads_by_kiosk ON log_uploads (kiosk_id, id)",
        # Alert notifications: a durable queue, so a server restart does not lose one.
        """CREATE TABLE IF NOT EXISTS notifications (
            id {serial},
            alert_id BIGINT NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at DOUBLE PRECISION NOT NULL,
            lease_until DOUBLE PRECISION,
            delivered_at DOUBLE PRECISION,
            failed_at DOUBLE PRECISION,
            last_error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (next_at)"
        " WHERE delivered_at IS NULL AND failed_at IS NULL",
    ),
    3: (
        # An enrollment token made to give one enrolled kiosk a new device key
        # (kiosk-fleet create-token --rekey).
        """CREATE TABLE IF NOT EXISTS rekey_tokens (
            token_hash TEXT PRIMARY KEY REFERENCES enrollment_tokens(token_hash),
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id)
        )""",
    ),
    4: (
        # What operators report (fleet.tx_facts, fleet.statistics, fleet.supervision): each
        # transaction summary once per kiosk and tx id (the highest revision kept), rolled up
        # per day and per month, per kiosk and (kiosk_id '') per site, so a month of a province
        # reads a few rows per site and item, and a kiosk's days a few rows of its own.
        """CREATE TABLE IF NOT EXISTS tx_facts (
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            tx_id TEXT NOT NULL,
            revision BIGINT NOT NULL,
            item_code TEXT NOT NULL,
            outcome TEXT NOT NULL,
            amount_fen BIGINT NOT NULL,
            refunded_fen BIGINT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION NOT NULL,
            day TEXT NOT NULL,
            region TEXT NOT NULL,
            site TEXT NOT NULL,
            agent_assisted INTEGER NOT NULL,
            reason TEXT NOT NULL,
            time_limit_days INTEGER NOT NULL,
            time_limit_unit TEXT NOT NULL,
            submitted_at DOUBLE PRECISION,
            deadline_at DOUBLE PRECISION,
            yellow_at DOUBLE PRECISION,
            received_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (kiosk_id, tx_id)
        )""",
        "CREATE INDEX IF NOT EXISTS tx_facts_supervised ON tx_facts (submitted_at)"
        " WHERE deadline_at IS NOT NULL",
        """CREATE TABLE IF NOT EXISTS app_decisions (
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            tx_id TEXT NOT NULL,
            status TEXT NOT NULL,
            decided_at DOUBLE PRECISION NOT NULL,
            revision BIGINT NOT NULL,
            PRIMARY KEY (kiosk_id, tx_id)
        )""",
        """CREATE TABLE IF NOT EXISTS evaluations (
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            evaluation_id TEXT NOT NULL,
            tx_id TEXT NOT NULL,
            item_code TEXT NOT NULL,
            level INTEGER NOT NULL,
            tags TEXT NOT NULL,
            rated_at DOUBLE PRECISION NOT NULL,
            day TEXT NOT NULL,
            agent_assisted INTEGER NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (kiosk_id, evaluation_id)
        )""",
        """CREATE TABLE IF NOT EXISTS stat_rollup (
            grain TEXT NOT NULL,
            period TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            item_code TEXT NOT NULL,
            region TEXT NOT NULL,
            site TEXT NOT NULL,
            transactions BIGINT NOT NULL DEFAULT 0,
            completed BIGINT NOT NULL DEFAULT 0,
            cancelled BIGINT NOT NULL DEFAULT 0,
            refunded BIGINT NOT NULL DEFAULT 0,
            unsettled BIGINT NOT NULL DEFAULT 0,
            amount_fen BIGINT NOT NULL DEFAULT 0,
            refunded_fen BIGINT NOT NULL DEFAULT 0,
            refunds BIGINT NOT NULL DEFAULT 0,
            agent_assisted BIGINT NOT NULL DEFAULT 0,
            completed_s DOUBLE PRECISION NOT NULL DEFAULT 0,
            evaluations BIGINT NOT NULL DEFAULT 0,
            evaluations_good BIGINT NOT NULL DEFAULT 0,
            evaluation_levels BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (grain, kiosk_id, period, item_code, region, site)
        )""",
        "CREATE INDEX IF NOT EXISTS stat_rollup_by_place ON stat_rollup (grain, period, region, site)",
        """CREATE TABLE IF NOT EXISTS service_items (
            item_code TEXT PRIMARY KEY,
            name TEXT NOT NULL
        )""",
        # Fleet health (fleet.availability, fleet.health): seconds in service per kiosk, item
        # ('' = the kiosk as a whole) and day, closed spells only; the open spell is on the
        # kiosk's row (since when, until its last heartbeat, in which state).
        """CREATE TABLE IF NOT EXISTS service_time (
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            day TEXT NOT NULL,
            item_code TEXT NOT NULL,
            in_service_s DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (kiosk_id, day, item_code)
        )""",
        "ALTER TABLE kiosks ADD COLUMN avail_from DOUBLE PRECISION",
        "ALTER TABLE kiosks ADD COLUMN avail_since DOUBLE PRECISION",
        "ALTER TABLE kiosks ADD COLUMN avail_until DOUBLE PRECISION",
        "ALTER TABLE kiosks ADD COLUMN avail_state TEXT NOT NULL DEFAULT ''",
        # A device out of use from its fault to its recovery (events or heartbeats).
        """CREATE TABLE IF NOT EXISTS repairs (
            id {serial},
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            device TEXT NOT NULL,
            reason TEXT NOT NULL,
            fault_at DOUBLE PRECISION NOT NULL,
            recovered_at DOUBLE PRECISION
        )""",
        "CREATE INDEX IF NOT EXISTS repairs_open ON repairs (kiosk_id, device)"
        " WHERE recovered_at IS NULL",
        "CREATE INDEX IF NOT EXISTS repairs_by_recovery ON repairs (recovered_at)",
        # Each change of a supply's level, with the device's usage total then (for forecasts).
        """CREATE TABLE IF NOT EXISTS supply_history (
            id {serial},
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            device TEXT NOT NULL,
            supply TEXT NOT NULL,
            level TEXT NOT NULL,
            remaining BIGINT,
            used_total BIGINT,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS supply_history_by_supply"
        " ON supply_history (kiosk_id, device, supply, id)",
    ),
    5: (
        # Several server processes on one database: sign-in throttling shared by all of them,
        # atomic per key ("addr:...", "pair:...", "user:..."), swept when its window is over.
        """CREATE TABLE IF NOT EXISTS login_throttle (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            window_start DOUBLE PRECISION NOT NULL,
            next_at DOUBLE PRECISION NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX IF NOT EXISTS login_throttle_by_age ON login_throttle (window_start)",
        # Server counters (requests refused, by reason...) summed over every process.
        """CREATE TABLE IF NOT EXISTS server_counters (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            value BIGINT NOT NULL,
            PRIMARY KEY (name, label)
        )""",
        # A kiosk's key revoked by an operator, a kiosk retired; an operator disabled.
        "ALTER TABLE kiosks ADD COLUMN key_revoked_at DOUBLE PRECISION",
        "ALTER TABLE kiosks ADD COLUMN retired_at DOUBLE PRECISION",
        "ALTER TABLE users ADD COLUMN disabled_at DOUBLE PRECISION",
        "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (username)",
        # An enrollment token may be bound to one kiosk id and one site.
        "ALTER TABLE enrollment_tokens ADD COLUMN for_kiosk_id TEXT",
        "ALTER TABLE enrollment_tokens ADD COLUMN for_site TEXT",
        # A log upload answers one upload_logs command, once (checked on upload).
        "CREATE INDEX IF NOT EXISTS log_uploads_by_command ON log_uploads (command_id)",
    ),
    6: (
        # Video help from the hall (fleet.signalling): one row per call, the messages relayed
        # between its kiosk and its agent (read by whichever server process holds the other
        # end's WebSocket, woken by NOTIFY on PostgreSQL), and each site's call policy.
        """CREATE TABLE IF NOT EXISTS calls (
            call_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            site TEXT NOT NULL,
            region TEXT NOT NULL,
            state TEXT NOT NULL,
            items_json TEXT NOT NULL DEFAULT '[]',
            recording INTEGER NOT NULL DEFAULT 0,
            agent TEXT NOT NULL DEFAULT '',
            created_at DOUBLE PRECISION NOT NULL,
            answered_at DOUBLE PRECISION,
            ended_at DOUBLE PRECISION,
            end_reason TEXT NOT NULL DEFAULT '',
            kiosk_left_at DOUBLE PRECISION,
            agent_left_at DOUBLE PRECISION
        )""",
        "CREATE INDEX IF NOT EXISTS calls_open ON calls (state) WHERE state <> 'ended'",
        """CREATE TABLE IF NOT EXISTS call_signals (
            id {serial},
            call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
            side TEXT NOT NULL,
            body TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS call_signals_by_call ON call_signals (call_id, side, id)",
        """CREATE TABLE IF NOT EXISTS call_policy (
            site TEXT PRIMARY KEY,
            calls_allowed INTEGER NOT NULL,
            recording INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    7: (
        # Software rollouts (fleet.rollouts): release bundles operators uploaded (the file is in
        # DATA/bundles/<digest>.kbundle; its manifest verified against the release keys), ...
        """CREATE TABLE IF NOT EXISTS bundles (
            digest TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            min_version TEXT NOT NULL,
            key_id TEXT NOT NULL,
            size BIGINT NOT NULL,
            runtime_included INTEGER NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at DOUBLE PRECISION NOT NULL
        )""",
        # ... a rollout of one to the kiosks of a region, site or tag, in stages (a percentage
        # of them, chosen by a stable hash of rollout and kiosk) ...
        """CREATE TABLE IF NOT EXISTS rollouts (
            rollout_id TEXT PRIMARY KEY,
            digest TEXT NOT NULL REFERENCES bundles(digest),
            version TEXT NOT NULL,
            bundle_url TEXT NOT NULL,
            region TEXT NOT NULL,
            site TEXT NOT NULL,
            tag TEXT NOT NULL,
            percent INTEGER NOT NULL,
            state TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            state_at DOUBLE PRECISION NOT NULL
        )""",
        # ... and each kiosk in it: its update command, how far it got, what became of it.
        """CREATE TABLE IF NOT EXISTS rollout_kiosks (
            rollout_id TEXT NOT NULL REFERENCES rollouts(rollout_id),
            kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
            status TEXT NOT NULL,
            command_id TEXT,
            from_version TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            bytes_done BIGINT,
            bytes_total BIGINT,
            added_at DOUBLE PRECISION NOT NULL,
            status_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (rollout_id, kiosk_id)
        )""",
        "CREATE INDEX IF NOT EXISTS rollout_kiosks_by_kiosk ON rollout_kiosks (kiosk_id)",
        # The rollout a kiosk is in and not finished with: its heartbeats' update status is
        # looked at only then (most heartbeats cost nothing more).
        "ALTER TABLE kiosks ADD COLUMN rollout_id TEXT",
        # The last heartbeat's update status (slot, updater phase, last result), as JSON.
        "ALTER TABLE kiosks ADD COLUMN update_json TEXT NOT NULL DEFAULT ''",
    ),
    8: (
        # Village agents (fleet.village_agents): kept by operators, signed in at their site's
        # kiosks by ID card (a keyed hash, never the number) and PIN (scrypt), or by a one-time
        # sign-in code from the dashboard (only its hash kept).
        """CREATE TABLE IF NOT EXISTS village_agents (
            agent_id TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            id_card_hash TEXT NOT NULL UNIQUE,
            pin_hash TEXT NOT NULL,
            pin_failures INTEGER NOT NULL DEFAULT 0,
            locked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            created_by TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            disabled_at DOUBLE PRECISION
        )""",
        """CREATE TABLE IF NOT EXISTS agent_sign_in_codes (
            code_hash TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL REFERENCES village_agents(agent_id),
            created_by TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION
        )""",
        # Server-side keys every process shares (the ID card hash's key).
        """CREATE TABLE IF NOT EXISTS fleet_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        # Which agent ran a transaction for a citizen ('' = the citizen alone).
        "ALTER TABLE tx_facts ADD COLUMN agent_id TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX IF NOT EXISTS tx_facts_by_agent ON tx_facts (agent_id) WHERE agent_id <> ''",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)

_SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGSERIAL PRIMARY KEY",
}


def schema_sql(dialect: str) -> str:
    """The first released schema (version 1)."""
    return _TABLES.replace("{serial}", _SERIAL[dialect])


def migration_sql(version: int, dialect: str) -> list[str]:
    """The statements that take a database from `version - 1` to `version`."""
    return [sql.replace("{serial}", _SERIAL[dialect]) for sql in MIGRATIONS[version]]
