-- Platform API keys (scimsso apikey create): held by the platform's application, not by a tenant.
-- Only the SHA-256 of a key is stored; scopes is a comma-separated list of directory:read,
-- events:read and manage. A revoked key keeps its row (revoked_at) so that `apikey list` shows it.

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
