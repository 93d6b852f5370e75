-- The event log (SPEC "Platform API: directory and events"): every change the platform's applications
-- follow, written in the transaction of the change. seq is the reader's cursor, increasing in the
-- order events become visible. A number taken at insert would not be: transactions commit in another
-- order than they insert, and a reader past a later number would skip an earlier one that commits
-- after. So a row is inserted pending, with the negative of its insert number (events_pending), which
-- no reader's cursor (>= 0) reaches, and is numbered from events_seq once committed, in insert order,
-- by one sequencer at a time (sequencer.go). The seq index is the retention index too: events are
-- swept from the oldest seq up to the first event younger than 30 days. data is the JSON of the object
-- after the change.
CREATE SEQUENCE events_pending;
CREATE SEQUENCE events_seq;
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY DEFAULT (-nextval('events_pending')),
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data        TEXT NOT NULL
);

-- A poll for a few types (types=) walks each type's events from the cursor in seq order, not the
-- whole log after it.
CREATE INDEX events_type ON events(type, seq);

-- When the user last signed in, in Unix microseconds; 0: never. A sign-in sets it without raising the
-- user's version.
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT NOT NULL DEFAULT 0;

-- The OpenID clients holding tokens of a session, read when it ends (session.ended names them for
-- back-channel logout).
CREATE INDEX oidc_tokens_session ON oidc_tokens(session_hash);
