-- Proof of delivery (docs/ARCHITECTURE.md, "The proof"): every event records the SHA-256 of the bytes it
-- concerns; events carry no link to a previous event any more (one chain serialised every writer): each unit
-- of work writes one batch row with the Merkle root of its events' hashes, and checkpoints seal the batches'
-- roots in one chain, signed by the exchange and time-stamped where a TSA is configured. Events written before
-- this migration keep their chain (hash_version 1) and are verified as such.
-- A package refused and an operator's action are events too (with no document row: `document` is NULL);
-- `operator_actions` keeps the actions recorded before this migration, and fact pointers of the old forms
-- ('r' refusal, 'o' action) are not published: the rows they named stay where they are.

ALTER TABLE events ALTER COLUMN document DROP NOT NULL;
ALTER TABLE events ADD COLUMN body_sha256 text NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN hash_version smallint NOT NULL DEFAULT 1;
ALTER TABLE events ALTER COLUMN hash_version SET DEFAULT 2;
-- A version-2 hash covers the event's seq, so it is unique by construction: the index only cost writes.
ALTER TABLE events DROP CONSTRAINT events_hash_key;

CREATE TABLE event_batches (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL,
    root   text NOT NULL,
    events integer NOT NULL CHECK (events > 0)
);
CREATE INDEX event_batches_at ON event_batches (at);  -- the checkpointer looks back for late commits by time
ALTER TABLE events ADD COLUMN batch bigint REFERENCES event_batches (id);
CREATE INDEX events_batch ON events (batch, seq);

CREATE TABLE checkpoints (
    id        bigint PRIMARY KEY,
    at        timestamptz NOT NULL,
    hash      text NOT NULL UNIQUE,
    prev_hash text NOT NULL,
    root      text NOT NULL,
    canonical bytea NOT NULL,
    seal      jsonb NOT NULL
);
CREATE TABLE checkpoint_batches (
    batch      bigint PRIMARY KEY REFERENCES event_batches (id),
    checkpoint bigint NOT NULL REFERENCES checkpoints (id),
    position   integer NOT NULL
);
CREATE INDEX checkpoint_batches_checkpoint ON checkpoint_batches (checkpoint, position);
CREATE TABLE checkpoint_timestamps (
    checkpoint bigint PRIMARY KEY REFERENCES checkpoints (id),
    token      bytea NOT NULL
);

CREATE TRIGGER event_batches_no_update BEFORE UPDATE OR DELETE ON event_batches
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER checkpoint_batches_no_update BEFORE UPDATE OR DELETE ON checkpoint_batches
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER checkpoint_timestamps_no_update BEFORE UPDATE OR DELETE ON checkpoint_timestamps
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER proof_no_truncate BEFORE TRUNCATE ON event_batches
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

DELETE FROM event_outbox WHERE fact_id NOT LIKE 'e%';
CREATE INDEX events_operator ON events (seq) WHERE kind = 'operator';  -- the console's list of actions
CREATE INDEX dead_letters_document ON dead_letters (document_id) WHERE document_id <> '';  -- a document's page

-- Package bodies moved to signed archive files (`axis ledger archive`): the hashes stay here.
ALTER TABLE documents ADD COLUMN archive text;
ALTER TABLE status_messages ADD COLUMN archive text;
