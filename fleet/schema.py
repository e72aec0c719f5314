"""The fleet server's tables, in the SQL that SQLite and PostgreSQL both accept."""

from __future__ import annotations

SCHEMA_VERSION = 1

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

-- An enrollment token made to give one enrolled kiosk a new device key (kiosk-fleet create-token
-- --rekey). Its own table, so databases made before it gain it by CREATE TABLE IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS rekey_tokens (
    token_hash TEXT PRIMARY KEY REFERENCES enrollment_tokens(token_hash),
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id)
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

_SERIAL = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGSERIAL PRIMARY KEY",
}


def schema_sql(dialect: str) -> str:
    return _TABLES.replace("{serial}", _SERIAL[dialect])
