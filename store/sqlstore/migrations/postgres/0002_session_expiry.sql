-- A session's end moves with its use (hard timeout after last use), so it is stored and swept.
ALTER TABLE sessions ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_expires ON sessions(expires_at);
