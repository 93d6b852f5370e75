package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// The OpenID provider's tables (migration 0006). Lists (redirect URIs, scopes, prompt values) are
// stored as one string: URIs one a line (a URI holds no newline), scopes and prompts space-separated
// as they travel on the wire.

func joinLines(v []string) string { return strings.Join(v, "\n") }

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinSpaces(v []string) string { return strings.Join(v, " ") }

func splitSpaces(s string) []string { return strings.Fields(s) }

// CreateOIDCClient implements store.Store.
func (s *Store) CreateOIDCClient(ctx context.Context, c *store.OIDCClient) error {
	id := uuid.NewString()
	// A session.ended event at or before last cannot name a client that does not exist yet: its
	// destination starts after it (events later committed get greater seqs).
	var insertDest func(tx *wtx, now time.Time) error
	if c.BackchannelLogoutURI != "" {
		last, err := s.LastEventSeq(ctx, false)
		if err != nil {
			return fmt.Errorf("sqlstore: create oidc client: %w", err)
		}
		// Its destination has no secret (logout tokens are signed with the provider's keys), sealed as
		// every webhook's is, so that it counts as current, not as one left in clear.
		dest := &store.Webhook{Kind: store.KindBackchannelLogout, Ref: id, URL: c.BackchannelLogoutURI,
			Types: []string{store.EventSessionEnded}, Cursor: last}
		if insertDest, err = s.newWebhook(dest); err != nil {
			return fmt.Errorf("sqlstore: create oidc client: %w", err)
		}
	}
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		_, err := tx.exec(ctx, `INSERT INTO oidc_clients (id, name, redirect_uris, post_logout_uris, public, secret_hash, id_token_alg,
			backchannel_logout_uri, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, c.Name, joinLines(c.RedirectURIs),
			joinLines(c.PostLogoutRedirectURIs), b2i(c.Public), nonNil(c.SecretHash), c.IDTokenAlg, c.BackchannelLogoutURI, micros(now))
		if err != nil {
			return err
		}
		if insertDest != nil {
			if err := insertDest(tx, now); err != nil {
				return err
			}
		}
		made := *c
		made.ID, made.CreatedAt = id, fromMicros(micros(now))
		return s.audit(ctx, tx, now, "", store.ActionOIDCClientAdded, id, nil, store.NewOIDCClientAuditObject(&made))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create oidc client: %w", err)
	}
	c.ID, c.CreatedAt = id, fromMicros(micros(created))
	return nil
}

const oidcClientCols = `id, name, redirect_uris, post_logout_uris, public, secret_hash, id_token_alg, backchannel_logout_uri, created_at`

func scanOIDCClient(sc scanner) (*store.OIDCClient, error) {
	var c store.OIDCClient
	var redirects, logouts string
	var public int
	var created int64
	if err := sc.Scan(&c.ID, &c.Name, &redirects, &logouts, &public, &c.SecretHash, &c.IDTokenAlg, &c.BackchannelLogoutURI, &created); err != nil {
		return nil, err
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs = splitLines(redirects), splitLines(logouts)
	c.Public, c.CreatedAt = public != 0, fromMicros(created)
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	return &c, nil
}

// OIDCClient implements store.Store.
func (s *Store) OIDCClient(ctx context.Context, id string) (*store.OIDCClient, error) {
	if !storable(id) {
		return nil, fmt.Errorf("sqlstore: oidc client: %w", store.ErrNotFound)
	}
	c, err := scanOIDCClient(s.row(ctx, `SELECT `+oidcClientCols+` FROM oidc_clients WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: oidc client: %w", mapErr(err))
	}
	return c, nil
}

// ListOIDCClients implements store.Store.
func (s *Store) ListOIDCClients(ctx context.Context) ([]store.OIDCClient, error) {
	var out []store.OIDCClient
	err := s.each(ctx, `SELECT `+oidcClientCols+` FROM oidc_clients ORDER BY name, id`, nil, func(sc scanner) error {
		c, err := scanOIDCClient(sc)
		if err == nil {
			out = append(out, *c)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list oidc clients: %w", err)
	}
	return out, nil
}

// DeleteOIDCClient implements store.Store. The foreign keys delete the client's requests and tokens,
// and its destination's deliveries.
func (s *Store) DeleteOIDCClient(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("sqlstore: delete oidc client: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		old, err := scanOIDCClient(tx.row(ctx, `DELETE FROM oidc_clients WHERE id = ? RETURNING `+oidcClientCols, id))
		if err != nil {
			return err // no such client: store.ErrNotFound
		}
		if _, err := tx.exec(ctx, `DELETE FROM webhooks WHERE kind = ? AND ref = ?`, store.KindBackchannelLogout, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, "", store.ActionOIDCClientRemoved, id, store.NewOIDCClientAuditObject(old), nil)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete oidc client: %w", err)
	}
	return nil
}

// oidcKeyContext names the record a sealed signing key belongs to.
func oidcKeyContext(id string) string { return "oidc-key:" + id }

// OIDCKeys implements store.Store. A retiring key whose private half does not open (sealed under a key
// id the keyring no longer has) is returned without it: it only verifies now.
func (s *Store) OIDCKeys(ctx context.Context) ([]store.OIDCKey, error) {
	var out []store.OIDCKey
	err := s.each(ctx, `SELECT id, alg, private_key, public_key, created_at, retires_at FROM oidc_keys
		WHERE retires_at = 0 OR retires_at > ?
		ORDER BY CASE WHEN retires_at = 0 THEN 0 ELSE 1 END, retires_at DESC, created_at DESC, id`, []any{micros(s.now())}, func(sc scanner) error {
		var k store.OIDCKey
		var c, r int64
		if err := sc.Scan(&k.ID, &k.Algorithm, &k.PrivateKeyPEM, &k.PublicKeyPEM, &c, &r); err != nil {
			return err
		}
		k.CreatedAt, k.RetiresAt = fromMicros(c), fromMicros(r)
		pt, err := s.keys.Open(k.PrivateKeyPEM, oidcKeyContext(k.ID))
		switch {
		case err == nil:
			k.PrivateKeyPEM = pt
		case !k.RetiresAt.IsZero():
			k.PrivateKeyPEM = nil
		default:
			return fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: oidc keys: %w", err)
	}
	return out, nil
}

// AddOIDCKeys implements store.Store.
func (s *Store) AddOIDCKeys(ctx context.Context, keys []store.OIDCKey, keep time.Duration, onlyIfNone bool) (bool, error) {
	sealed := make([][]byte, len(keys))
	for i, k := range keys {
		sealed[i] = k.PrivateKeyPEM
		if s.keys != nil {
			var err error
			if sealed[i], err = s.keys.Seal(k.PrivateKeyPEM, oidcKeyContext(k.ID)); err != nil {
				return false, fmt.Errorf("sqlstore: add oidc keys: %w", err)
			}
		}
	}
	added := false
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		added, created = false, now
		if onlyIfNone {
			var n int
			if err := tx.row(ctx, `SELECT count(*) FROM oidc_keys WHERE retires_at = 0`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
		}
		if _, err := tx.exec(ctx, `UPDATE oidc_keys SET retires_at = ? WHERE retires_at = 0`, micros(now.Add(keep))); err != nil {
			return err
		}
		for i, k := range keys {
			if _, err := tx.exec(ctx, `INSERT INTO oidc_keys (id, alg, private_key, public_key, created_at, retires_at) VALUES (?, ?, ?, ?, ?, 0)`,
				k.ID, k.Algorithm, sealed[i], k.PublicKeyPEM, micros(now)); err != nil {
				return err
			}
		}
		added = true
		if onlyIfNone {
			return nil // the first keys, made at start: not an admin's act
		}
		after := make([]store.OIDCKeyAuditObject, len(keys))
		for i, k := range keys {
			after[i] = store.OIDCKeyAuditObject{ID: k.ID, Algorithm: k.Algorithm}
		}
		return s.audit(ctx, tx, now, "", store.ActionOIDCKeyRotated, "", nil, after)
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: add oidc keys: %w", err)
	}
	if added {
		for i := range keys {
			keys[i].CreatedAt = fromMicros(micros(created))
		}
	}
	return added, nil
}

const oidcRequestCols = `id, client_id, redirect_uri, scopes, state, nonce, response_mode, code_challenge, code_challenge_method,
	prompt, max_age, login_hint, organization, binding_hash, hint_subject, client_key, created_at, expires_at, tenant_id, user_id,
	session_hash, auth_time, amr, code_hash, code_expires_at, code_used_at`

func scanOIDCRequest(sc scanner) (*store.OIDCAuthRequest, error) {
	var r store.OIDCAuthRequest
	var scopes, prompt string
	var created, expires, authTime, codeExp, codeUsed int64
	if err := sc.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &scopes, &r.State, &r.Nonce, &r.ResponseMode, &r.CodeChallenge, &r.CodeChallengeMethod,
		&prompt, &r.MaxAge, &r.LoginHint, &r.Organization, &r.BindingHash, &r.HintSubject, &r.ClientKey, &created, &expires,
		&r.SignIn.TenantID, &r.SignIn.UserID,
		&r.SignIn.SessionHash, &authTime, &r.SignIn.AMR, &r.CodeHash, &codeExp, &codeUsed); err != nil {
		return nil, err
	}
	r.Scopes, r.Prompt = splitSpaces(scopes), splitSpaces(prompt)
	r.CreatedAt, r.ExpiresAt, r.SignIn.AuthTime = fromMicros(created), fromMicros(expires), fromMicros(authTime)
	r.CodeExpiresAt, r.CodeUsedAt = fromMicros(codeExp), fromMicros(codeUsed)
	for _, b := range []*[]byte{&r.BindingHash, &r.SignIn.SessionHash, &r.CodeHash} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	return &r, nil
}

// outstandingOIDC counts the unexpired outstanding (code not issued) requests of a client address, on
// the partial index that holds only those. Requests are stored only below the cap, so what it counts is
// bounded by the cap it is compared with.
func outstandingOIDC(ctx context.Context, db rower, now time.Time, clientKey string) (int, error) {
	var n int
	// The partial index's condition is written out: plans do not look at bound values (see qpsg.go).
	err := db.row(ctx, `SELECT count(*) FROM oidc_auth_requests WHERE client_key = ? AND code_expires_at = 0 AND expires_at > ?`,
		clientKey, micros(now)).Scan(&n)
	return n, err
}

// CreateOIDCAuthRequest implements store.Store.
func (s *Store) CreateOIDCAuthRequest(ctx context.Context, r *store.OIDCAuthRequest, maxPerClient int) error {
	capped := maxPerClient > 0 && r.CodeHash == nil
	limited := &store.LimitError{Key: "client"}
	// A request already beyond the cap is refused on the read pool, before it queues for the write
	// connection (SQLite) or a lock (PostgreSQL), as CreateAuthnRequest does; the count under the lock
	// decides.
	if capped {
		n, err := outstandingOIDC(ctx, s, s.now(), r.ClientKey)
		if err != nil {
			return fmt.Errorf("sqlstore: create oidc auth request: %w", err)
		}
		if n >= maxPerClient {
			return fmt.Errorf("sqlstore: create oidc auth request: %w", limited)
		}
	}
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if capped {
			if err := s.lockKeys(ctx, tx, lockOIDCReq, r.ClientKey); err != nil {
				return err
			}
			n, err := outstandingOIDC(ctx, tx, now, r.ClientKey)
			if err != nil {
				return err
			}
			if n >= maxPerClient {
				return limited
			}
		}
		created = now
		in := r.SignIn
		var codeExpires int64
		if r.CodeHash != nil {
			codeExpires = micros(r.CodeExpiresAt)
		}
		_, err := tx.exec(ctx, `INSERT INTO oidc_auth_requests (`+oidcRequestCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
			r.ID, r.ClientID, r.RedirectURI, joinSpaces(r.Scopes), r.State, r.Nonce, r.ResponseMode, r.CodeChallenge, r.CodeChallengeMethod,
			joinSpaces(r.Prompt), r.MaxAge, r.LoginHint, r.Organization, nonNil(r.BindingHash), r.HintSubject, r.ClientKey, micros(now),
			micros(r.ExpiresAt), in.TenantID, in.UserID, nonNil(in.SessionHash), micros(in.AuthTime), in.AMR, nonNil(r.CodeHash), codeExpires)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create oidc auth request: %w", err)
	}
	r.CreatedAt = fromMicros(micros(created))
	return nil
}

// OIDCAuthRequest implements store.Store.
func (s *Store) OIDCAuthRequest(ctx context.Context, id string) (*store.OIDCAuthRequest, error) {
	r, err := scanOIDCRequest(s.row(ctx, `SELECT `+oidcRequestCols+` FROM oidc_auth_requests WHERE id = ? AND expires_at > ?`, id, micros(s.now())))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: oidc auth request: %w", mapErr(err))
	}
	return r, nil
}

// IssueOIDCCode implements store.Store.
func (s *Store) IssueOIDCCode(ctx context.Context, id string, in store.OIDCSignIn, codeHash []byte, codeExpires, keepUntil time.Time) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		res, err := tx.exec(ctx, `UPDATE oidc_auth_requests SET tenant_id = ?, user_id = ?, session_hash = ?, auth_time = ?, amr = ?,
			code_hash = ?, code_expires_at = ?, expires_at = ? WHERE id = ? AND expires_at > ? AND code_expires_at = 0`,
			in.TenantID, in.UserID, nonNil(in.SessionHash), micros(in.AuthTime), in.AMR, codeHash, micros(codeExpires), micros(keepUntil),
			id, micros(now))
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: issue oidc code: %w", err)
	}
	return nil
}

// OIDCAuthRequestByCode implements store.Store.
func (s *Store) OIDCAuthRequestByCode(ctx context.Context, codeHash []byte) (*store.OIDCAuthRequest, error) {
	if len(codeHash) == 0 {
		return nil, fmt.Errorf("sqlstore: oidc auth request by code: %w", store.ErrNotFound)
	}
	r, err := scanOIDCRequest(s.row(ctx, `SELECT `+oidcRequestCols+` FROM oidc_auth_requests WHERE code_hash = ? AND expires_at > ?`,
		codeHash, micros(s.now())))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: oidc auth request by code: %w", mapErr(err))
	}
	return r, nil
}

func insertOIDCTokens(ctx context.Context, tx *wtx, now time.Time, toks []store.OIDCToken) error {
	for i := range toks {
		t := &toks[i]
		if _, err := tx.exec(ctx, `INSERT INTO oidc_tokens (hash, refresh, client_id, tenant_id, user_id, session_hash, auth_time, amr, family, scopes,
			created_at, expires_at, used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`,
			t.Hash, b2i(t.Refresh), t.ClientID, t.TenantID, t.UserID, nonNil(t.SessionHash), micros(t.AuthTime), t.AMR, t.Family,
			joinSpaces(t.Scopes), micros(now), micros(t.ExpiresAt)); err != nil {
			return err
		}
		t.CreatedAt = fromMicros(micros(now))
	}
	return nil
}

// rememberSignIns records that the clients of toks signed in with their sessions: when a session
// ends, its clients are sent back-channel logout (endSessions reads and forgets them). A client's
// tokens expire and are swept long before its own session, begun with the ID token, need end.
func rememberSignIns(ctx context.Context, tx *wtx, toks []store.OIDCToken) error {
	seen := map[string]bool{}
	for _, t := range toks {
		if k := string(t.SessionHash) + "\x00" + t.ClientID; !seen[k] {
			seen[k] = true
			if _, err := tx.exec(ctx, `INSERT INTO oidc_session_clients (session_hash, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
				nonNil(t.SessionHash), t.ClientID); err != nil {
				return err
			}
		}
	}
	return nil
}

func revokeFamily(ctx context.Context, tx *wtx, now time.Time, family string) error {
	_, err := tx.exec(ctx, `UPDATE oidc_tokens SET revoked_at = ? WHERE family = ? AND revoked_at = 0`, micros(now), family)
	return err
}

// RedeemOIDCCode implements store.Store. The code is used up by one conditional UPDATE, so of two
// replicas redeeming it at once only one issues tokens; the other revokes them.
func (s *Store) RedeemOIDCCode(ctx context.Context, id string, toks []store.OIDCToken) error {
	replayed := false
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		replayed = false
		res, err := tx.exec(ctx, `UPDATE oidc_auth_requests SET code_used_at = ? WHERE id = ? AND code_used_at = 0 AND code_expires_at > ?`,
			micros(now), id, micros(now))
		if err = affected(res, err); err == nil {
			// The session must still be live, and stays so until this commits (its row locked on
			// PostgreSQL; SQLite's one writer): a logout, deactivation or sweep ending it meanwhile
			// would otherwise miss this client, which would hold tokens and a sid of a dead session
			// and never be told by back-channel logout.
			// The tokens of one code come from one sign-in: one session.
			if len(toks) > 0 {
				var exp int64
				if err := tx.row(ctx, `SELECT expires_at FROM sessions WHERE id_hash = ?`+s.forUpdate(), nonNil(toks[0].SessionHash)).Scan(&exp); err != nil {
					return err // ErrNotFound: the session ended
				}
				if exp <= micros(now) {
					return store.ErrNotFound
				}
			}
			if err := insertOIDCTokens(ctx, tx, now, toks); err != nil {
				return err
			}
			return rememberSignIns(ctx, tx, toks)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var used int64
		if err := tx.row(ctx, `SELECT code_used_at FROM oidc_auth_requests WHERE id = ?`, id).Scan(&used); err != nil {
			return err
		}
		if used == 0 {
			return store.ErrNotFound // expired, or never issued
		}
		// Commit the revocation: the second use is refused below, outside the transaction.
		replayed = true
		return revokeFamily(ctx, tx, now, id)
	})
	if err == nil && replayed {
		err = store.ErrReplayed
	}
	if err != nil {
		return fmt.Errorf("sqlstore: redeem oidc code: %w", err)
	}
	return nil
}

const oidcTokenCols = `hash, refresh, client_id, tenant_id, user_id, session_hash, auth_time, amr, family, scopes, created_at, expires_at, used_at, revoked_at`

// OIDCToken implements store.Store.
func (s *Store) OIDCToken(ctx context.Context, hash []byte) (*store.OIDCToken, error) {
	var t store.OIDCToken
	var refresh int
	var scopes string
	var authTime, created, expires, used, revoked int64
	err := s.row(ctx, `SELECT `+oidcTokenCols+` FROM oidc_tokens WHERE hash = ?`, hash).Scan(&t.Hash, &refresh, &t.ClientID, &t.TenantID,
		&t.UserID, &t.SessionHash, &authTime, &t.AMR, &t.Family, &scopes, &created, &expires, &used, &revoked)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: oidc token: %w", err)
	}
	t.Refresh, t.Scopes = refresh != 0, splitSpaces(scopes)
	t.AuthTime, t.CreatedAt, t.ExpiresAt = fromMicros(authTime), fromMicros(created), fromMicros(expires)
	t.UsedAt, t.RevokedAt = fromMicros(used), fromMicros(revoked)
	return &t, nil
}

// RotateOIDCRefresh implements store.Store.
func (s *Store) RotateOIDCRefresh(ctx context.Context, hash []byte, toks []store.OIDCToken, sessionExpires time.Time) error {
	replayed := false
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		replayed = false
		res, err := tx.exec(ctx, `UPDATE oidc_tokens SET used_at = ? WHERE hash = ? AND refresh = 1 AND used_at = 0 AND revoked_at = 0 AND expires_at > ?`,
			micros(now), hash, micros(now))
		if err = affected(res, err); err == nil {
			if err := insertOIDCTokens(ctx, tx, now, toks); err != nil || sessionExpires.IsZero() || len(toks) == 0 {
				return err
			}
			// Only the expiry moves: the last use stays the person's, so the soft timeout still runs out
			// and a client that keeps refreshing cannot keep a session alive for ever.
			_, err := tx.exec(ctx, `UPDATE sessions SET expires_at = ? WHERE id_hash = ? AND expires_at < ?`, micros(sessionExpires),
				nonNil(toks[0].SessionHash), micros(sessionExpires))
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var family string
		var expires int64
		if err := tx.row(ctx, `SELECT family, expires_at FROM oidc_tokens WHERE hash = ? AND refresh = 1`, hash).Scan(&family, &expires); err != nil {
			return err
		}
		if expires <= micros(now) {
			return store.ErrNotFound
		}
		replayed = true
		return revokeFamily(ctx, tx, now, family)
	})
	if err == nil && replayed {
		err = store.ErrReplayed
	}
	if err != nil {
		return fmt.Errorf("sqlstore: rotate oidc refresh token: %w", err)
	}
	return nil
}

// RevokeOIDCFamily implements store.Store.
func (s *Store) RevokeOIDCFamily(ctx context.Context, family string) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error { return revokeFamily(ctx, tx, now, family) })
	if err != nil {
		return fmt.Errorf("sqlstore: revoke oidc family: %w", err)
	}
	return nil
}

// sweepOIDC deletes the provider's expired requests and tokens, its retired keys, and the clients
// remembered for sessions that are gone; Sweep calls it in its transaction.
func sweepOIDC(ctx context.Context, tx *wtx, now time.Time) (int64, error) {
	var n int64
	for _, q := range []string{
		`DELETE FROM oidc_auth_requests WHERE expires_at <= ?`,
		`DELETE FROM oidc_tokens WHERE expires_at <= ?`,
		`DELETE FROM oidc_keys WHERE retires_at <> 0 AND retires_at <= ?`,
	} {
		res, err := tx.exec(ctx, q, micros(now))
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += k
	}
	// oidc_session_clients needs no sweep: a code is redeemed only while its session lives, with the
	// session's row locked (RedeemOIDCCode), and every end of a session deletes its rows (endSessions).
	return n, nil
}

// oidcKeys is where the OpenID provider's signing keys are stored; the retired ones (out of the key
// set) are not reported.
var oidcKeys = sealedKind{
	what:    "oidc keys",
	list:    `SELECT id, id, private_key, retires_at FROM oidc_keys WHERE retires_at = 0 OR retires_at > ? ORDER BY id`,
	args:    func(s *Store) []any { return []any{micros(s.now())} },
	update:  `UPDATE oidc_keys SET private_key = ? WHERE id = ? AND private_key = ?`,
	context: oidcKeyContext,
}

// OIDCKeyState reports how the signing keys not yet retired are held, as SPKeys does for the SP keys.
func (s *Store) OIDCKeyState(ctx context.Context) (OIDCKeyReport, error) {
	return s.sealedReport(ctx, oidcKeys)
}

// ResealOIDCKeys encrypts under the keyring's first key every signing key (not yet retired) stored in
// clear or under another key, as ResealSPKeys does for the SP keys.
func (s *Store) ResealOIDCKeys(ctx context.Context) (OIDCKeyReport, error) {
	return s.reseal(ctx, oidcKeys)
}
