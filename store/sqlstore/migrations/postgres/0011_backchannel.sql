-- OpenID Connect Back-Channel Logout 1.0. A client's back-channel logout URI ('' when it registered
-- none), checked when registered by the webhooks' rule: https, or http to a loopback address only
-- where the operator allows it.
--
-- And the clients each session signed in to (§2.3, "Remembering Logged-In RPs"): a client is
-- remembered when it redeems a code of the session, and told when the session ends. Not read off the
-- tokens: an access token is swept ten minutes after it was issued, while the client's own session,
-- begun with the ID token, lives on. The rows of the live sessions' tokens are carried over.

ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';

CREATE TABLE oidc_session_clients (
    session_hash BYTEA NOT NULL,
    client_id    TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    PRIMARY KEY (session_hash, client_id)
);
-- Removing a client deletes its rows (ON DELETE CASCADE): by this index, not a scan of the table.
CREATE INDEX oidc_session_clients_client ON oidc_session_clients(client_id);

INSERT INTO oidc_session_clients (session_hash, client_id)
    SELECT DISTINCT t.session_hash, t.client_id FROM oidc_tokens t
    WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id_hash = t.session_hash);
