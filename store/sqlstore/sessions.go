package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error { return s.insertSession(ctx, tx, now, ss) })
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// insertSession stores ss inside tx with now as its creation and last-seen time, and records
// session.started.
func (s *Store) insertSession(ctx context.Context, tx *wtx, now time.Time, ss *store.Session) error {
	_, err := tx.exec(ctx, `INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, mobile, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.IDHash, ss.TenantID, ss.UserID, micros(now), micros(now), micros(ss.ExpiresAt), b2i(ss.Mobile), b2i(ss.Pending))
	if err != nil {
		return err
	}
	ss.CreatedAt = fromMicros(micros(now))
	ss.LastSeenAt = ss.CreatedAt
	return s.recordSessionStarted(ctx, tx, now, ss)
}

// TouchSession implements store.Store.
func (s *Store) TouchSession(ctx context.Context, idHash []byte, expiresAt time.Time) error {
	return s.writeOne(ctx, "touch session", anyRows, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?`, txNow{}, micros(expiresAt), idHash)
}

// SessionByHash implements store.Store.
func (s *Store) SessionByHash(ctx context.Context, idHash []byte) (*store.Session, error) {
	var ss store.Session
	var c, l, e int64
	var mobile, pending int
	err := s.row(ctx, `SELECT id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, mobile, pending FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&ss.IDHash, &ss.TenantID, &ss.UserID, &c, &l, &e, &mobile, &pending)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: session: %w", mapErr(err))
	}
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = fromMicros(c), fromMicros(l), fromMicros(e)
	ss.Mobile, ss.Pending = mobile != 0, pending != 0
	return &ss, nil
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	return s.EndSession(ctx, idHash, store.EndLogout)
}

// EndSession implements store.Store.
func (s *Store) EndSession(ctx context.Context, idHash []byte, reason string) error {
	switch reason {
	case store.EndLogout, store.EndTimeout, store.EndDeactivated:
	default:
		return fmt.Errorf("sqlstore: end session: unknown reason %q", reason)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		_, err := s.endSessions(ctx, tx, now, reason, `id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: end session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements store.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, tenantID, userID string) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		_, err := s.endSessions(ctx, tx, now, store.EndLogout, `tenant_id = ? AND user_id = ?`, tenantID, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete user sessions: %w", err)
	}
	return nil
}

const authnRequestCols = `tenant_id, id, binding_hash, return_to, purpose, session_hash, client_key, created_at, expires_at`

func scanAuthnRequest(row scanner) (*store.AuthnRequest, error) {
	var r store.AuthnRequest
	var c, e int64
	var purpose string
	if err := row.Scan(&r.TenantID, &r.ID, &r.BindingHash, &r.ReturnTo, &purpose, &r.SessionHash, &r.ClientKey, &c, &e); err != nil {
		return nil, err
	}
	r.Purpose = store.Purpose(purpose)
	r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
	return &r, nil
}

// AuthnRequest implements store.Store.
func (s *Store) AuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) (*store.AuthnRequest, error) {
	r, err := scanAuthnRequest(s.row(ctx, `SELECT `+authnRequestCols+` FROM authn_requests
		WHERE tenant_id = ? AND id = ? AND binding_hash = ? AND expires_at > ?`, tenantID, id, bindingHash, micros(s.now())))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: authn request: %w", mapErr(err))
	}
	return r, nil
}

// consumeAuthnRequest deletes the outstanding request inside tx; store.ErrNotFound unless it was
// outstanding. One statement finds and deletes it, so of two replicas consuming one request at once
// only one gets it back.
func consumeAuthnRequest(ctx context.Context, tx *wtx, now time.Time, tenantID, id string, bindingHash []byte) (*store.AuthnRequest, error) {
	return scanAuthnRequest(tx.row(ctx, `DELETE FROM authn_requests WHERE tenant_id = ? AND id = ? AND binding_hash = ? AND expires_at > ?
		RETURNING `+authnRequestCols, tenantID, id, bindingHash, micros(now)))
}

// ConsumeAuthnRequest implements store.Store.
func (s *Store) ConsumeAuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		_, err := consumeAuthnRequest(ctx, tx, now, tenantID, id, bindingHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: consume authn request: %w", err)
	}
	return nil
}

// CreateTestLink implements store.Store.
func (s *Store) CreateTestLink(ctx context.Context, l *store.TestLink) error {
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		if _, err := tx.exec(ctx, `INSERT INTO test_links (hash, tenant_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			l.Hash, l.TenantID, micros(now), micros(l.ExpiresAt)); err != nil {
			return err
		}
		// A test sign-in is an admin's act on the tenant's SSO: the log says who started one.
		return s.audit(ctx, tx, now, l.TenantID, store.ActionSSOTestStarted, "", nil, store.TestLinkAuditObject{ExpiresAt: l.ExpiresAt.UTC()})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create test link: %w", err)
	}
	l.CreatedAt = fromMicros(micros(created))
	return nil
}

// UseTestLink implements store.Store. One DELETE finds and removes the live link, so of two replicas
// opening it at once only one deletes a row. A read comes first so that guessed links, which anyone
// can send, cost no write transaction.
func (s *Store) UseTestLink(ctx context.Context, tenantID string, hash []byte) error {
	// A guessed link costs a read, never a write transaction.
	if err := s.TestLinkValid(ctx, tenantID, hash); err != nil {
		return err
	}
	return s.writeOne(ctx, "use test link", oneRow, `DELETE FROM test_links WHERE hash = ? AND tenant_id = ? AND expires_at > ?`, hash, tenantID, txNow{})
}

// TestLinkValid implements store.Store.
func (s *Store) TestLinkValid(ctx context.Context, tenantID string, hash []byte) error {
	var one int
	err := s.row(ctx, `SELECT 1 FROM test_links WHERE hash = ? AND tenant_id = ? AND expires_at > ?`, hash, tenantID, micros(s.now())).Scan(&one)
	if err != nil {
		return fmt.Errorf("sqlstore: test link: %w", mapErr(err))
	}
	return nil
}

func markAssertionUsed(ctx context.Context, tx *wtx, tenantID, assertionID string, expiresAt time.Time) error {
	// An expired entry may still be in the table until the next sweep; it still counts as used.
	_, err := tx.exec(ctx, `INSERT INTO used_assertions (tenant_id, assertion_id, expires_at) VALUES (?, ?, ?)`,
		tenantID, assertionID, micros(expiresAt))
	return err
}

// SignIn implements store.Store.
func (s *Store) SignIn(ctx context.Context, tenantID string, in *store.SignIn, decide func(store.UserFinder) (*store.User, error)) (*store.User, error) {
	var out *store.User
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if in.RequestID != "" {
			if _, err := consumeAuthnRequest(ctx, tx, now, tenantID, in.RequestID, in.BindingHash); err != nil {
				return err
			}
		}
		if err := markAssertionUsed(ctx, tx, tenantID, in.AssertionID, in.AssertionExpires); err != nil {
			if errors.Is(mapErr(err), store.ErrAlreadyExists) {
				return store.ErrReplayed
			}
			return err
		}
		f := &finder{ctx: ctx, row: tx.row, tenantID: tenantID, seen: map[string]seenUser{}, lock: s.forUpdate()}
		u, err := decide(f)
		if err != nil {
			return errUpdater{err}
		}
		u = u.Clone()
		// Signing in is not a change of the user: its time is stored without raising the version,
		// recorded in the events of a change that comes with it, and is no event of its own.
		u.LastSignInAt = now
		a := in.Audit
		a.TenantID = tenantID
		if u.ID == "" {
			if err := s.insertUser(ctx, tx, now, tenantID, u); err != nil {
				return err
			}
		} else {
			old, seq := f.seen[u.ID].user, f.seen[u.ID].seq
			if old == nil {
				var err error
				if old, seq, err = scanUser(tx.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND tenant_id = ?`+s.forUpdate(), u.ID, tenantID)); err != nil {
					return err
				}
			}
			u.TenantID, u.CreatedAt = old.TenantID, old.CreatedAt
			if u.Equal(old) {
				u = old
				a.Operation = ""
				if err := setLastSignIn(ctx, tx, now, seq, u); err != nil {
					return err
				}
			} else if err := s.updateUserRow(ctx, tx, now, seq, old, u); err != nil {
				return err
			}
		}
		if a.Operation != "" {
			a.UserID = u.ID
			if err := s.insertAudit(ctx, tx, now, a); err != nil {
				return err
			}
		}
		in.Session.TenantID, in.Session.UserID = tenantID, u.ID
		if in.Continue {
			// The session goes on as it was (pending or not); only its last use and end move.
			err := affected(tx.exec(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ? AND tenant_id = ? AND user_id = ?`,
				micros(now), micros(in.Session.ExpiresAt), in.Session.IDHash, tenantID, u.ID))
			if err != nil {
				return err
			}
		} else if err := s.insertSession(ctx, tx, now, &in.Session); err != nil {
			return err
		}
		if err := s.logAccepted(ctx, tx, now, tenantID, u, in.Log); err != nil {
			return err
		}
		out = u
		return nil
	})
	var ue errUpdater
	if errors.As(err, &ue) {
		return nil, ue.err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sign in: %w", err)
	}
	return out, nil
}

// setLastSignIn stores now as the last sign-in of user u (row seq), leaving its version as it is.
func setLastSignIn(ctx context.Context, tx *wtx, now time.Time, seq int64, u *store.User) error {
	u.LastSignInAt = fromMicros(micros(now))
	_, err := tx.exec(ctx, `UPDATE users SET last_sign_in_at = ? WHERE seq = ?`, micros(now), seq)
	return err
}

// Lookup implements store.Store.
func (s *Store) Lookup(ctx context.Context, tenantID string, fn func(store.UserFinder) error) error {
	return fn(&finder{ctx: ctx, row: s.row, tenantID: tenantID})
}

// finder implements store.UserFinder, inside a write transaction or on the read pool.
type finder struct {
	ctx      context.Context
	row      func(ctx context.Context, q string, args ...any) row
	tenantID string
	seen     map[string]seenUser // users returned, as read (nil: not kept)
	lock     string              // row lock clause, inside a write transaction on PostgreSQL
}

type seenUser struct {
	user *store.User
	seq  int64
}

// one returns the first user matching cond, in which ?1 is the tenant id and ?2 the value.
func (f *finder) one(cond, value string) (*store.User, error) {
	u, seq, err := scanUser(f.row(f.ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ?1 AND `+cond+` ORDER BY seq LIMIT 1`+f.lock, f.tenantID, value))
	if err != nil {
		return nil, mapErr(err)
	}
	if f.seen != nil {
		f.seen[u.ID] = seenUser{u.Clone(), seq}
	}
	return u, nil
}

// first tries each condition in turn, each an indexed lookup, and returns the first match.
func (f *finder) first(value string, conds ...string) (*store.User, error) {
	for _, c := range conds {
		u, err := f.one(c, value)
		if !errors.Is(err, store.ErrNotFound) {
			return u, err
		}
	}
	return nil, store.ErrNotFound
}

const (
	byUserName = `user_name_key = ?2`
	byEmail    = `seq IN (SELECT user_seq FROM user_emails WHERE tenant_id = ?1 AND value_key = ?2)`
	// The partial index's condition is written out: plans do not look at bound values (see qpsg.go).
	bySecondaryEmail = `secondary_email_key = ?2 AND secondary_email_key <> ''`
)

func (f *finder) ByExternalID(id string) (*store.User, error) { return f.one(`external_id = ?2`, id) }

func (f *finder) ByEmail(email string) (*store.User, error) {
	return f.first(store.Key(email), byUserName, byEmail)
}

func (f *finder) BySecondaryEmail(email string) (*store.User, error) {
	return f.first(store.Key(email), byUserName, byEmail, bySecondaryEmail)
}

func (f *finder) DepartmentTeam(department string) (string, bool, error) {
	return departmentTeam(f.ctx, f.row, f.tenantID, department)
}

// Sweep implements store.Store. It ends the expired sessions first, in batches (sweepSessions), each
// with a session.ended event naming the clients signed in with it; then deletes the other expired rows
// in one transaction, and the old events in batches (sweepEvents).
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	hooks, err := s.ListWebhooks(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: %w", err)
	}
	ids := make([]string, len(hooks))
	for i, w := range hooks {
		ids[i] = w.ID
	}
	n, err := s.sweepSessions(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: sessions: %w", err)
	}
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		day := micros(now.Add(-24 * time.Hour))
		for _, q := range []struct {
			sql    string
			before int64
		}{
			{`DELETE FROM authn_requests WHERE expires_at <= ?`, micros(now)},
			{`DELETE FROM test_links WHERE expires_at <= ?`, micros(now)},
			{`DELETE FROM used_assertions WHERE expires_at <= ?`, micros(now)},
			{`DELETE FROM login_failures WHERE at < ?`, day},
		} {
			res, err := tx.exec(ctx, q.sql, q.before)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		k, err := sweepOIDC(ctx, tx, now)
		n += k
		if err != nil {
			return err
		}
		k, err = sweepWebhooks(ctx, tx, now, ids)
		n += k
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: %w", err)
	}
	k, err := s.sweepEvents(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: events: %w", err)
	}
	n += k
	k, err = s.sweepSignIns(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: sign-in log: %w", err)
	}
	a, err := s.sweepAdmins(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: admins: %w", err)
	}
	return n + k + a, nil
}
