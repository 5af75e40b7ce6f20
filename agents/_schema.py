"""The agent's SQLite schema: one file per agent, WAL, created idempotently at open.

Why these tables: `outbox` is the durability of everything the agent sends (a row stays `pending` until the
router's notice, whatever happens to the broker); `sent` is the per-recipient fate the document system asks
about; `inbox` deduplicates redeliveries by message id (primary key) and keeps the exact signed bytes;
`deliveries` remembers which router deliveries still need an `ack` record; `rejected` keeps deliveries whose
signature did not verify, for the operator, without showing them to the document system; `directory` mirrors
`edx.directory` so the agent never needs PostgreSQL; `meta` holds facts about the store itself (when the
directory was first read to its end).
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    message_id         TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('edoc', 'status')),
    document_id        TEXT NOT NULL,
    recipients         TEXT NOT NULL,
    submitted_sha256   TEXT NOT NULL,
    body               BLOB NOT NULL,
    body_sha256        TEXT NOT NULL,
    subject            TEXT NOT NULL DEFAULT '',
    code_notation      TEXT NOT NULL DEFAULT '',
    status_code        TEXT,
    description        TEXT NOT NULL DEFAULT '',
    state              TEXT NOT NULL DEFAULT 'pending',
    reason             TEXT,
    created_at_ms      INTEGER NOT NULL,
    first_sent_at_ms   INTEGER,
    last_sent_at_ms    INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    confirmed_at_ms    INTEGER,
    UNIQUE (kind, document_id, submitted_sha256)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at_ms);
CREATE INDEX IF NOT EXISTS outbox_doc ON outbox (document_id);

CREATE TABLE IF NOT EXISTS sent (
    message_id              TEXT NOT NULL REFERENCES outbox (message_id),
    recipient               TEXT NOT NULL,
    document_id             TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    state                   TEXT NOT NULL DEFAULT 'pending',
    reason                  TEXT,
    last_status_code        TEXT,
    last_status_description TEXT,
    last_status_at_ms       INTEGER,
    PRIMARY KEY (message_id, recipient)
);
CREATE INDEX IF NOT EXISTS sent_doc ON sent (document_id, recipient);

CREATE TABLE IF NOT EXISTS inbox (
    message_id       TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('edoc', 'status')),
    sender           TEXT NOT NULL,
    document_id      TEXT NOT NULL,
    recipients       TEXT NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    status_code      TEXT,
    description      TEXT NOT NULL DEFAULT '',
    doc_type         INTEGER,
    received_at_ms   INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    sent_at_ms       INTEGER,
    transport_status TEXT NOT NULL DEFAULT 'pending',
    transport_reason TEXT,
    signer           TEXT NOT NULL,
    body             BLOB NOT NULL,
    superseded       TEXT,
    superseded_by    TEXT,
    exported         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS inbox_kind ON inbox (kind, transport_status);
CREATE INDEX IF NOT EXISTS inbox_doc ON inbox (document_id, sender);
CREATE INDEX IF NOT EXISTS inbox_export ON inbox (exported);

CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    acked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_unacked ON deliveries (acked);

CREATE TABLE IF NOT EXISTS rejected (
    delivery_id TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    sender      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    body        BLOB NOT NULL,
    at_ms       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS directory (
    organ_id      TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    parent_id     TEXT,
    active        INTEGER NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    updated_at_ms INTEGER NOT NULL
);
"""
