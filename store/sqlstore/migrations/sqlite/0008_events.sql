-- The event log (SPEC "Platform API: directory and events"): every change the platform's applications
-- follow, written in the transaction of the change. seq is the reader's cursor, increasing in the
-- order events become visible. SQLite has one writer, so the row id in commit order is that order.
-- A new row id is one above the greatest, and the sweep always keeps the newest event, so no number is
-- given twice (AUTOINCREMENT would too, at the cost of a write to sqlite_sequence in every
-- transaction). (PostgreSQL numbers its events after they commit, moving them from a queue,
-- events_pending, that SQLite does not need: see its 0008.) The seq index is the retention index
-- too: events are swept from the oldest seq up to the first event younger than 30 days, so no index
-- on occurred_at is kept up on every write. data is the JSON of the object after the change.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    data        TEXT NOT NULL
);

-- A poll for a few types (types=) walks each type's events from the cursor in seq order, not the
-- whole log after it.
CREATE INDEX events_type ON events(type, seq);

-- When the user last signed in, in Unix microseconds; 0: never. A sign-in sets it without raising the
-- user's version.
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER NOT NULL DEFAULT 0;
