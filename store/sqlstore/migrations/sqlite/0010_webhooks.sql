-- Webhooks: destinations of events, each with the seq of the last event delivered or given up (the
-- events table is the outbox; delivery reads it after last_seq), and the record of their deliveries.
-- The secret is sealed with the store's keyring when there is one: it must be read back to sign.

CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    url        TEXT NOT NULL,
    types      TEXT NOT NULL,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    failures   INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id         INTEGER PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    at         INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    error      TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    resend     INTEGER NOT NULL
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_seq ON webhook_deliveries (webhook_id, seq);
-- webhook deliveries --outcome: a give-up stays reachable behind any number of deliveries.
CREATE INDEX webhook_deliveries_by_outcome ON webhook_deliveries (webhook_id, outcome, id);
