-- The ledger: tracking rows, documents, the router's outbox (deliveries, notices) and the event chain.
-- Times are written by the application's clock (tests advance it), never by now().
-- Rows point at their tracking row with deferred foreign keys: the outcome (and so the tracking row)
-- is known only after the effects were judged, all inside one transaction.

-- One row per outbound message id, written in the same transaction as its effects: a redelivered
-- record finds its row and is answered as a duplicate instead of being applied twice.
CREATE TABLE processed_messages (
    message_id   text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('edoc', 'status', 'ack')),
    sender       text NOT NULL,
    document_id  text NOT NULL DEFAULT '',
    outcome      text NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    reason       text NOT NULL DEFAULT '',
    body_sha256  text NOT NULL,
    sent_at_ms   bigint NOT NULL DEFAULT 0,
    recipients   text[] NOT NULL DEFAULT '{}',
    processed_at timestamptz NOT NULL
);

CREATE TABLE documents (
    id            bigserial PRIMARY KEY,
    document_id   text NOT NULL,
    sender        text NOT NULL REFERENCES agencies (organ_id),
    message_id    text NOT NULL UNIQUE REFERENCES processed_messages (message_id) DEFERRABLE INITIALLY DEFERRED,
    subject       text NOT NULL DEFAULT '',
    code          text NOT NULL DEFAULT '',
    business_type smallint NOT NULL DEFAULT 0 CHECK (business_type BETWEEN 0 AND 3),
    business_reason text NOT NULL DEFAULT '',
    recipients    text[] NOT NULL,
    body          bytea NOT NULL,
    signer_fingerprint text NOT NULL,
    received_at   timestamptz NOT NULL,
    UNIQUE (sender, document_id)
);

-- A revoke, update or replace package and the document(s) it concerns.
CREATE TABLE document_links (
    document   bigint NOT NULL REFERENCES documents (id),
    concerns   bigint NOT NULL REFERENCES documents (id),
    business_type smallint NOT NULL CHECK (business_type BETWEEN 1 AND 3),
    organ_ids  text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (document, concerns)
);
CREATE INDEX document_links_concerns ON document_links (concerns);

-- Status packages that were accepted: their bytes are delivered like a document's.
CREATE TABLE status_messages (
    message_id  text PRIMARY KEY REFERENCES processed_messages (message_id) DEFERRABLE INITIALLY DEFERRED,
    document    bigint NOT NULL REFERENCES documents (id),
    sender      text NOT NULL,
    status_code text NOT NULL,
    description text NOT NULL DEFAULT '',
    status_at   timestamptz NOT NULL,
    body        bytea NOT NULL,
    received_at timestamptz NOT NULL
);

-- The router's outbox towards inboxes: one row per (message, recipient), published by the relay,
-- acknowledged by the recipient's agent, redelivered with backoff until acked or given up.
CREATE TABLE deliveries (
    delivery_id     text PRIMARY KEY,
    message_id      text NOT NULL REFERENCES processed_messages (message_id) DEFERRABLE INITIALLY DEFERRED,
    document        bigint NOT NULL REFERENCES documents (id),
    recipient       text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('edoc', 'status')),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'published', 'acked', 'undeliverable')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    first_published_at timestamptz,
    published_at    timestamptz,
    acked_at        timestamptz,
    reason          text NOT NULL DEFAULT '',
    UNIQUE (message_id, recipient)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'published');
CREATE INDEX deliveries_document ON deliveries (document, recipient);

-- Notices to senders (accepted, refused, duplicate, undeliverable), published by the relay.
CREATE TABLE notices (
    id           bigserial PRIMARY KEY,
    organ_id     text NOT NULL,
    message_id   text NOT NULL,
    outcome      text NOT NULL,
    body         bytea NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'published')),
    created_at   timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX notices_pending ON notices (id) WHERE state = 'pending';

-- Append-only, hash-chained event log: hash = SHA-256 of the canonical JSON of the row and prev_hash.
CREATE TABLE events (
    seq          bigint PRIMARY KEY,
    at           timestamptz NOT NULL,
    document     bigint NOT NULL REFERENCES documents (id),
    document_id  text NOT NULL,
    recipient    text NOT NULL DEFAULT '',
    actor        text NOT NULL,
    kind         text NOT NULL,
    status_code  text NOT NULL DEFAULT '',
    message_id   text NOT NULL DEFAULT '',
    detail       jsonb NOT NULL DEFAULT '{}',
    signature    text NOT NULL DEFAULT '',
    prev_hash    text NOT NULL,
    hash         text NOT NULL UNIQUE
);
CREATE SEQUENCE events_seq OWNED BY events.seq;
CREATE INDEX events_document ON events (document, recipient, seq);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are append-only (% refused)', TG_OP USING ERRCODE = 'AXAPP';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
