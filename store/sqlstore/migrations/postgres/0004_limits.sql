-- Limits on what clients can make the store hold or do. Each outstanding AuthnRequest records the
-- client address that started it, so that caps per address and per tenant can be counted (indexes
-- that cover the counts, so a count reads no table row); a password attempt is reserved before it is
-- checked, and a successful one is forgotten again by its id.

ALTER TABLE authn_requests ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
CREATE INDEX authn_requests_client ON authn_requests(client_key, expires_at);
CREATE INDEX authn_requests_tenant ON authn_requests(tenant_id, expires_at);

ALTER TABLE login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_attempt ON login_failures(attempt) WHERE attempt <> '';
