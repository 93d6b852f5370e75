-- The OpenID provider: registered clients, the keys that sign ID tokens (private keys sealed with the
-- store's keyring when there is one), authorization requests and the tokens issued. Only SHA-256
-- hashes of secrets, codes and tokens are stored. Tokens name the scimsso session they came from: they
-- stop working when it ends.

CREATE TABLE oidc_clients (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    redirect_uris    TEXT NOT NULL,
    post_logout_uris TEXT NOT NULL,
    public           INTEGER NOT NULL,
    secret_hash      BYTEA NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE oidc_keys (
    id          TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retires_at  BIGINT NOT NULL
);

CREATE TABLE oidc_auth_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    response_mode         TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    prompt                TEXT NOT NULL,
    max_age               BIGINT NOT NULL,
    login_hint            TEXT NOT NULL,
    organization          TEXT NOT NULL,
    binding_hash          BYTEA NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    tenant_id             TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    session_hash          BYTEA NOT NULL,
    auth_time             BIGINT NOT NULL,
    amr                   TEXT NOT NULL,
    code_hash             BYTEA NOT NULL,
    code_expires_at       BIGINT NOT NULL,
    code_used_at          BIGINT NOT NULL
);
CREATE INDEX oidc_auth_requests_code ON oidc_auth_requests(code_hash);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests(expires_at);

CREATE TABLE oidc_tokens (
    hash         BYTEA PRIMARY KEY,
    refresh      INTEGER NOT NULL,
    client_id    TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    session_hash BYTEA NOT NULL,
    auth_time    BIGINT NOT NULL,
    amr          TEXT NOT NULL,
    family       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NOT NULL,
    revoked_at   BIGINT NOT NULL
);
CREATE INDEX oidc_tokens_family ON oidc_tokens(family);
CREATE INDEX oidc_tokens_expires ON oidc_tokens(expires_at);
