-- The web console (axis.console): its accounts, the projection of receipts still owed, and the indexes that
-- keep its pages fast at national volume (millions of documents): every page reads through an index, never
-- a scan of the ledger's history.

CREATE TABLE console_users (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role          text NOT NULL CHECK (role IN ('viewer', 'operator')),
    password_hash text NOT NULL,  -- argon2id, with its parameters and salt (PHC string)
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Receipts still owed: one row per (document, recipient) first published to the recipient's inbox that has
-- no 03/02 (or later) status yet; `arrived` once any 01..06 came. Kept by the console from the append-only
-- events in seq order (console_progress), so "overdue" is a range over `delivered_at` instead of an anti-join
-- of every delivery against every status.
CREATE TABLE console_open_receipts (
    document     bigint NOT NULL,
    recipient    text NOT NULL,
    delivered_at timestamptz NOT NULL,
    arrived      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (document, recipient)
);
CREATE INDEX console_open_receipts_due ON console_open_receipts (delivered_at, document, recipient);

CREATE TABLE console_progress (
    name       text PRIMARY KEY,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
INSERT INTO console_progress (name, seq, updated_at) VALUES ('open_receipts', 0, now());

-- Search (/documents?q=): a DocumentId exactly, an organ id as sender or recipient, or any 3+ characters of
-- the DocumentId (which holds the code and notation) or the subject, through trigrams.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX documents_document_id ON documents (document_id);
CREATE INDEX documents_sender_id ON documents (sender, id);
CREATE INDEX documents_recipients ON documents USING gin (recipients);
CREATE INDEX documents_text ON documents USING gin ((document_id || ' ' || subject) gin_trgm_ops);

-- Today's figures (overview, agencies) start from the documents received today.
CREATE INDEX documents_received_at ON documents (received_at);

-- When each agency's agent was last heard from: its latest document, status or acknowledgement.
CREATE INDEX events_actor_at ON events (actor, at);
