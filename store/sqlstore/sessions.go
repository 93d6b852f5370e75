package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	var at time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		at = now
		_, err := tx.exec(ctx, `INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, mobile, pending) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			ss.IDHash, ss.TenantID, ss.UserID, micros(now), micros(now), b2i(ss.Mobile), b2i(ss.Pending))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	ss.CreatedAt = fromMicros(micros(at))
	ss.LastSeenAt = ss.CreatedAt
	return nil
}

// SessionByHash implements store.Store.
func (s *Store) SessionByHash(ctx context.Context, idHash []byte) (*store.Session, error) {
	var ss store.Session
	var c, l int64
	var mobile, pending int
	err := s.row(ctx, `SELECT id_hash, tenant_id, user_id, created_at, last_seen_at, mobile, pending FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&ss.IDHash, &ss.TenantID, &ss.UserID, &c, &l, &mobile, &pending)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: session: %w", mapErr(err))
	}
	ss.CreatedAt, ss.LastSeenAt = fromMicros(c), fromMicros(l)
	ss.Mobile, ss.Pending = mobile != 0, pending != 0
	return &ss, nil
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		_, err := tx.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements store.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, tenantID, userID string) error {
	err := s.write(ctx, func(tx *wtx, _ time.Time) error {
		_, err := tx.exec(ctx, `DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete user sessions: %w", err)
	}
	return nil
}

// CreateAuthnRequest implements store.Store.
func (s *Store) CreateAuthnRequest(ctx context.Context, r *store.AuthnRequest) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		r.CreatedAt = fromMicros(micros(now))
		_, err := tx.exec(ctx, `INSERT INTO authn_requests (tenant_id, id, binding_hash, return_to, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.TenantID, r.ID, r.BindingHash, r.ReturnTo, micros(now), micros(r.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create authn request: %w", err)
	}
	return nil
}

// ConsumeAuthnRequest implements store.Store.
func (s *Store) ConsumeAuthnRequest(ctx context.Context, tenantID, id string, bindingHash []byte) (*store.AuthnRequest, error) {
	var r store.AuthnRequest
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		var c, e int64
		err := tx.row(ctx, `SELECT tenant_id, id, binding_hash, return_to, created_at, expires_at FROM authn_requests
			WHERE tenant_id = ? AND id = ? AND binding_hash = ? AND expires_at > ?`, tenantID, id, bindingHash, micros(now)).
			Scan(&r.TenantID, &r.ID, &r.BindingHash, &r.ReturnTo, &c, &e)
		if err != nil {
			return err
		}
		r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
		_, err = tx.exec(ctx, `DELETE FROM authn_requests WHERE tenant_id = ? AND id = ?`, tenantID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: consume authn request: %w", err)
	}
	return &r, nil
}

// MarkAssertionUsed implements store.Store.
func (s *Store) MarkAssertionUsed(ctx context.Context, tenantID, assertionID string, expiresAt time.Time) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		// An expired entry may still be in the table until the next sweep; it still counts as used.
		_, err := tx.exec(ctx, `INSERT INTO used_assertions (tenant_id, assertion_id, expires_at) VALUES (?, ?, ?)`,
			tenantID, assertionID, micros(expiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: mark assertion used: %w", err)
	}
	return nil
}

// Sweep implements store.Store.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		for _, q := range []string{`DELETE FROM authn_requests WHERE expires_at <= ?`, `DELETE FROM used_assertions WHERE expires_at <= ?`} {
			res, err := tx.exec(ctx, q, micros(now))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep: %w", err)
	}
	return n, nil
}
