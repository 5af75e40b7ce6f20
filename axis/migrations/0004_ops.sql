-- What the operators' surfaces need from the ledger: refused packages kept with their bytes (dead letters,
-- requeued on an operator's request), operators' actions (append-only), and the pointers of facts still to
-- publish on edx.events (written in the transaction of the fact, deleted once the broker acknowledged them).

CREATE TABLE dead_letters (
    message_id           text PRIMARY KEY,  -- the record's message-id, or 'x' || sha256 when it had none
    sender               text NOT NULL DEFAULT '',
    kind                 text NOT NULL DEFAULT '',
    document_id          text NOT NULL DEFAULT '',
    reason_code          text NOT NULL,
    reason               text NOT NULL,
    headers              jsonb NOT NULL,
    body                 bytea NOT NULL,
    refused_at           timestamptz NOT NULL,
    requeue_requested_at timestamptz,
    requeued_by          text,
    requeued_at          timestamptz,
    requeue_message_id   text
);
CREATE INDEX dead_letters_recent ON dead_letters (refused_at DESC, message_id DESC);
CREATE INDEX dead_letters_requested ON dead_letters (requeue_requested_at)
    WHERE requeue_requested_at IS NOT NULL AND requeued_at IS NULL;

CREATE TABLE operator_actions (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL,
    operator text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL DEFAULT '',
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE TRIGGER operator_actions_no_update BEFORE UPDATE OR DELETE ON operator_actions
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER operator_actions_no_truncate BEFORE TRUNCATE ON operator_actions
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- fact_id: 'e' || events.seq, 'r' || message id of a refusal, 'o' || operator_actions.id
CREATE TABLE event_outbox (
    id      bigserial PRIMARY KEY,
    fact_id text NOT NULL
);

-- Republishing a day's facts after the broker lost its data reads them by time.
CREATE INDEX events_at ON events (at);
CREATE INDEX processed_messages_refused ON processed_messages (processed_at) WHERE outcome = 'refused';
