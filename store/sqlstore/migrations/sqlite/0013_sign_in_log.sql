-- The sign-in log: every accepted sign-in and every refusal of a tenant, with the precise reason and
-- the reference id the person saw, kept 30 days (swept by at, in batches). seq is the cursor of the
-- console's pages, newest first. bucket is set (the minute, in Unix minutes, times 2, plus 1 for
-- the verified class) only on the one record per tenant, minute and class that counts the refusals
-- past the cap; the unique index makes that record one, however many replicas add to it.

CREATE TABLE sign_in_log (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    at          INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    method      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    email       TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    ref         TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    verified    INTEGER NOT NULL,
    client_addr TEXT NOT NULL,
    count       INTEGER NOT NULL,
    bucket      INTEGER NOT NULL
);

CREATE INDEX sign_in_log_by_tenant ON sign_in_log (tenant_id, seq);
CREATE INDEX sign_in_log_by_outcome ON sign_in_log (tenant_id, outcome, seq);
CREATE INDEX sign_in_log_by_email ON sign_in_log (tenant_id, email, seq);
CREATE INDEX sign_in_log_by_at ON sign_in_log (at);
CREATE UNIQUE INDEX sign_in_log_more ON sign_in_log (tenant_id, bucket) WHERE bucket > 0;

-- The refusals counted per tenant, minute and class: one upsert numbers each refusal exactly, on
-- any replica. Rows older than a minute are swept.
CREATE TABLE sign_in_refusals (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    bucket    INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, bucket)
);
