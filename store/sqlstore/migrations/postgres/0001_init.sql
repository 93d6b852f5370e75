-- PostgreSQL twin of sqlite/0001_init.sql: same tables, columns and indexes (TestMigrationParity).
-- Times are Unix microseconds (0 = unset) so both dialects store them the same way.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    sp_key_pem  BYTEA NOT NULL,
    sp_cert_pem BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A domain belongs to at most one tenant: the primary key says so.
CREATE TABLE domains (
    domain    TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id)
);
CREATE INDEX domains_tenant ON domains(tenant_id);

CREATE TABLE scim_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX scim_tokens_tenant ON scim_tokens(tenant_id);

CREATE TABLE users (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    user_name           TEXT NOT NULL,
    user_name_key       TEXT NOT NULL,
    emails              TEXT NOT NULL,
    given_name          TEXT NOT NULL,
    family_name         TEXT NOT NULL,
    country             TEXT NOT NULL,
    department          TEXT NOT NULL,
    team                TEXT NOT NULL,
    external_id         TEXT,
    secondary_email     TEXT NOT NULL,
    secondary_email_key TEXT NOT NULL,
    extra               BYTEA NOT NULL,
    active              INTEGER NOT NULL,
    source              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_user_name ON users(tenant_id, user_name_key);
CREATE UNIQUE INDEX users_external_id ON users(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_tenant_seq ON users(tenant_id, seq);
CREATE INDEX users_secondary_email ON users(tenant_id, secondary_email_key) WHERE secondary_email_key <> '';

-- One row per email, so that email filters and sign-in reconciliation use an index.
CREATE TABLE user_emails (
    user_seq   BIGINT NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    pos        INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    value_key  TEXT NOT NULL,
    type       TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    PRIMARY KEY (user_seq, pos)
);
CREATE INDEX user_emails_value ON user_emails(tenant_id, value_key);

CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    mobile       INTEGER NOT NULL,
    pending      INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(tenant_id, user_id);

CREATE TABLE authn_requests (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    id           TEXT NOT NULL,
    binding_hash BYTEA NOT NULL,
    return_to    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX authn_requests_expires ON authn_requests(expires_at);

CREATE TABLE used_assertions (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    assertion_id TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, assertion_id)
);
CREATE INDEX used_assertions_expires ON used_assertions(expires_at);

CREATE TABLE audit_log (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time      BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    token_id  TEXT NOT NULL,
    operation TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, time);

CREATE TABLE teams (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name      TEXT NOT NULL,
    hidden    INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE department_map (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    department_key TEXT NOT NULL,
    department     TEXT NOT NULL,
    team_id        TEXT NOT NULL REFERENCES teams(id),
    PRIMARY KEY (tenant_id, department_key)
);

-- SSO settings are one versioned document per tenant; the SAML side caches by version.
CREATE TABLE sso_settings (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id),
    version    BIGINT NOT NULL,
    settings   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
