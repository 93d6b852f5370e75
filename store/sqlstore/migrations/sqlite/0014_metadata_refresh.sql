-- The periodic fetch of IdP metadata given by URL. next_at is the claim: a replica fetches a tenant's
-- metadata only after a conditional UPDATE moved next_at from due to the future, so one replica at a
-- time fetches it. last_* is what the console shows: when it was last tried, when it last succeeded,
-- and why the last try failed ('' when it did not).

CREATE TABLE idp_metadata_fetches (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id),
    url        TEXT NOT NULL,
    next_at    INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    last_ok_at INTEGER NOT NULL,
    last_error TEXT NOT NULL
);

-- The IdP certificates whose coming expiry was announced (an sso.certificate_expiring event), so
-- each is announced once, not at every refresh. fingerprint is the SHA-256 of the DER, in hex.
CREATE TABLE idp_certificate_warnings (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    fingerprint  TEXT NOT NULL,
    announced_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);
