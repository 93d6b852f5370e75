-- OpenID Connect Back-Channel Logout 1.0: where a client is sent a logout token when a session it
-- holds tokens of ends ('' when it registered none). The URL passed the webhooks' rule when it was
-- registered: https, or http to a loopback address only where the operator allows it.

ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
