-- Admins (SPEC "Admins: console, setup links, management API"): tenant admins, one-time setup links,
-- console sessions and the admin audit log.

-- A tenant's admins: users marked with `user set-admin`, who reach the console after signing in.
CREATE TABLE tenant_admins (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- One-time links that open a console session of their tenant. Only the SHA-256 of the secret is
-- stored; used_at and revoked_at are set once (0: not yet), and Sweep deletes used, revoked and expired
-- links 30 days later, so that lists show what happened to them. scopes is a comma-separated list of
-- sso and scim; created_by_* is the actor that made the link.
CREATE TABLE setup_links (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    scopes          TEXT NOT NULL,
    hash            BLOB NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER NOT NULL,
    revoked_at      INTEGER NOT NULL DEFAULT 0,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT NOT NULL
);
CREATE INDEX setup_links_tenant ON setup_links(tenant_id, created_at);
CREATE INDEX setup_links_expires ON setup_links(expires_at);

-- Console sessions, in the console's own cookie. Only the SHA-256 of the cookie is stored. user_id is
-- the tenant admin's ('' for a setup link's session), setup_link_id the link that opened it,
-- people_session the hash of the tenant admin's people session it was opened from (empty for a setup
-- link's): whatever ends that session (sign-out, timeout, deactivation) deletes these rows with it.
CREATE TABLE admin_sessions (
    id_hash       BLOB PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    user_id       TEXT NOT NULL,
    setup_link_id TEXT NOT NULL,
    people_session BLOB NOT NULL DEFAULT x'',
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions(tenant_id, user_id);
CREATE INDEX admin_sessions_people ON admin_sessions(people_session);
CREATE INDEX admin_sessions_expires ON admin_sessions(expires_at);

-- The admin audit log: every administrative change, written in the change's transaction. seq orders
-- the log for paging (newest first); it is not a follower's cursor like the events' seq, so a number
-- taken at insert is enough, but one never reused: AUTOINCREMENT, since without it SQLite hands out
-- max(seq)+1, which after a sweep emptied the table starts again at 1 and a saved cursor would skip. tenant_id is '' for what belongs to no tenant. Kept a year, swept by
-- time (the at index).
CREATE TABLE admin_actions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    at         INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL
);
CREATE INDEX admin_actions_tenant ON admin_actions(tenant_id, seq);
CREATE INDEX admin_actions_at ON admin_actions(at);

-- The last test sign-in of a tenant that succeeded: the SSO settings' version it ran with. The console
-- switches SSO to active only after one with the settings as they are.
CREATE TABLE sso_tests (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    version   INTEGER NOT NULL,
    at        INTEGER NOT NULL
);
