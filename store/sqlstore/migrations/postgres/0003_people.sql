-- What a person meets in a browser: the tenant's root team, passwords for excluded users, failed
-- password attempts (shared by replicas, so a limit holds across them), and what an outstanding
-- AuthnRequest is for (a mobile sign-in, a silent re-authentication of a session, an admin's test).

ALTER TABLE teams ADD COLUMN root INTEGER NOT NULL DEFAULT 0;
-- Every tenant has one root team, named after the tenant; it is never offered at first sign-in.
INSERT INTO teams (id, tenant_id, name, hidden, root)
    SELECT md5(random()::text || id), id, name, 1, 1 FROM tenants
    ON CONFLICT DO NOTHING;
CREATE UNIQUE INDEX teams_root ON teams(tenant_id) WHERE root = 1;

CREATE TABLE passwords (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    hash       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
CREATE INDEX login_failures_at ON login_failures(at);

ALTER TABLE authn_requests ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE authn_requests ADD COLUMN session_hash BYTEA;
