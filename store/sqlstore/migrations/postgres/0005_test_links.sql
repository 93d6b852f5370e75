-- One-time links that start an admin's test sign-in (the CLI prints them until the admin console
-- exists). Only the SHA-256 of a link's secret is stored; opening the link deletes its row.

CREATE TABLE test_links (
    hash       BYTEA PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX test_links_expires ON test_links(expires_at);
