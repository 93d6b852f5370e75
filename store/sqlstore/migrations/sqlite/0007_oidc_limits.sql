-- The OpenID provider, continued: the algorithm a client's ID tokens are signed with (its registered
-- id_token_signed_response_alg; '' is RS256), the subject of an authorization request's id_token_hint,
-- and the client address that sent it, which the cap on outstanding requests counts by. The index
-- holds outstanding requests only: those answered at once, or since, take no place.

ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_auth_requests ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
CREATE INDEX oidc_auth_requests_outstanding ON oidc_auth_requests(client_key, expires_at) WHERE code_expires_at = 0;
