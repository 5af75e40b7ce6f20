-- The agency directory: who may exchange, and which certificates sign for whom.
-- Several certificates per agency so a key can be rotated without a gap; a retired one stops verifying.

CREATE TABLE agencies (
    organ_id    text PRIMARY KEY CHECK (organ_id ~ '^[A-Za-z0-9._-]+$'),
    name        text NOT NULL,
    parent_id   text REFERENCES agencies (organ_id),
    active      boolean NOT NULL DEFAULT true,
    email       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agency_certificates (
    fingerprint_sha256 text PRIMARY KEY CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
    organ_id           text NOT NULL REFERENCES agencies (organ_id),
    pem                text NOT NULL,
    added_at           timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);
CREATE INDEX agency_certificates_organ ON agency_certificates (organ_id);
