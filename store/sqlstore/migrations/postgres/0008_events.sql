-- The event log (SPEC "Platform API: directory and events"): every change the platform's applications
-- follow, written in the transaction of the change. seq is the reader's cursor, increasing in the
-- order events become visible. A number taken at insert would not be: transactions commit in another
-- order than they insert, and a reader past a later number would skip an earlier one that commits
-- after. So an event is written to events_pending, n its insert number, and once committed the
-- sequencer (sequencer.go), one at a time across replicas, moves it into events with the next seq, in
-- insert order: events only grows at its right edge, and no row of it is ever updated, so its index
-- keeps no dead entries where readers and the sequencer look. The seq index is the retention index
-- too: events are swept from the oldest seq up to the first event younger than 30 days. data is the
-- JSON of the object after the change.
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY,
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

-- Events not numbered yet: a queue, each row inserted once and deleted once, that holds what the
-- last sequencer rounds (20 ms apart) have not taken. Its dead rows and index entries are what the
-- sequencer walks when it looks for work, so autovacuum cleans it whenever it looks
-- (autovacuum_naptime) and a thousand rows went, however many it held when last counted (by default
-- a fifth of those: large after a burst), and without cost-based pauses. (SQLite numbers at insert,
-- without a queue.)
CREATE TABLE events_pending (
    n           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data        TEXT NOT NULL
) WITH (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);

-- When the user last signed in, in Unix microseconds; 0: never. A sign-in sets it without raising the
-- user's version.
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT NOT NULL DEFAULT 0;
