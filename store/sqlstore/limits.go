package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// Limits are counted and written in one transaction. On SQLite that is enough: one connection writes,
// so no other transaction runs between the count and the write. On PostgreSQL two replicas' READ
// COMMITTED transactions could both count below a limit and both write, so each first takes a
// transaction-scoped advisory lock per key counted; the next holder's count then sees the rows the
// previous one committed.

// The classes of the two-key advisory locks limits take (the first key; the second is the hash of what
// is counted). The single-key migration lock lives in a separate key space.
const (
	lockLogin     = 0x6c6f67 // login attempts under a key ("log")
	lockReqClient = 0x726363 // outstanding AuthnRequests of a client address ("rcc")
	lockReqTenant = 0x726374 // outstanding AuthnRequests of a tenant ("rct")
	lockOIDCReq   = 0x6f7263 // outstanding OIDC authorization requests of a client address ("orc")
)

// lockKeys takes, on PostgreSQL, the advisory lock of every key of a class until tx ends (see
// postgres.go); SQLite's one writer needs none.
func (s *Store) lockKeys(ctx context.Context, tx *wtx, class int32, keys ...string) error {
	return s.db.lockKeys(ctx, tx, class, keys)
}

// ReserveLoginAttempt implements store.Store.
func (s *Store) ReserveLoginAttempt(ctx context.Context, window time.Duration, limits ...store.Limit) (string, error) {
	id := uuid.NewString()
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		keys := make([]string, len(limits))
		for i, l := range limits {
			keys[i] = l.Key
		}
		if err := s.lockKeys(ctx, tx, lockLogin, keys...); err != nil {
			return err
		}
		for _, l := range limits {
			var n int
			if err := tx.row(ctx, `SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?`, l.Key, micros(now.Add(-window))).Scan(&n); err != nil {
				return err
			}
			if n >= l.Max {
				return &store.LimitError{Key: l.Key}
			}
		}
		for _, k := range keys {
			if _, err := tx.exec(ctx, `INSERT INTO login_failures (key, at, attempt) VALUES (?, ?, ?)`, k, micros(now), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("sqlstore: reserve login attempt: %w", err)
	}
	return id, nil
}

// ForgetLoginAttempt implements store.Store.
func (s *Store) ForgetLoginAttempt(ctx context.Context, id string) error {
	// The partial index's condition is written out: plans do not look at bound values (see qpsg.go).
	return s.writeOne(ctx, "forget login attempt", anyRows, `DELETE FROM login_failures WHERE attempt = ? AND attempt <> ''`, id)
}

// rower is what outstanding counts on: the read pool (*Store) or a write transaction (*wtx).
type rower interface {
	row(ctx context.Context, q string, args ...any) row
}

// outstanding counts the unexpired AuthnRequests matching cond, on the index that covers it. Requests
// are stored only below the caps, so what it counts is bounded by the cap it is compared with.
func outstanding(ctx context.Context, db rower, now time.Time, cond, value string) (int, error) {
	var n int
	err := db.row(ctx, `SELECT count(*) FROM authn_requests WHERE `+cond+` AND expires_at > ?`, value, micros(now)).Scan(&n)
	return n, err
}

// requestCap is one cap on outstanding AuthnRequests: its name in a LimitError, its lock class, the
// condition that counts it, and its maximum (0: none).
type requestCap struct {
	name  string
	class int32
	cond  string
	value string
	max   int
}

// requestCaps are r's caps, the client's first: a flood from one address that is refused there never
// queues for the tenant's lock, which every other start of the tenant needs.
func requestCaps(r *store.AuthnRequest, lim store.RequestLimits) []requestCap {
	return []requestCap{
		{"client", lockReqClient, "client_key = ?", r.ClientKey, lim.PerClient},
		{"tenant", lockReqTenant, "tenant_id = ?", r.TenantID, lim.PerTenant},
	}
}

// CreateAuthnRequest implements store.Store.
func (s *Store) CreateAuthnRequest(ctx context.Context, r *store.AuthnRequest, lim store.RequestLimits) error {
	// A start already beyond a cap is refused on the read pool, before it queues for the write
	// connection (SQLite) or a lock (PostgreSQL): a flood at its cap slows no other writer. The counts
	// under the locks below stay the ones that decide.
	for _, c := range requestCaps(r, lim) {
		if c.max <= 0 {
			continue
		}
		n, err := outstanding(ctx, s, s.now(), c.cond, c.value)
		if err != nil {
			return fmt.Errorf("sqlstore: create authn request: %w", err)
		}
		if n >= c.max {
			return fmt.Errorf("sqlstore: create authn request: %w", &store.LimitError{Key: c.name})
		}
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		for _, c := range requestCaps(r, lim) {
			if c.max <= 0 {
				continue
			}
			if err := s.lockKeys(ctx, tx, c.class, c.value); err != nil {
				return err
			}
			n, err := outstanding(ctx, tx, now, c.cond, c.value)
			if err != nil {
				return err
			}
			if n >= c.max {
				return &store.LimitError{Key: c.name}
			}
		}
		r.CreatedAt = fromMicros(micros(now))
		_, err := tx.exec(ctx, `INSERT INTO authn_requests (tenant_id, id, binding_hash, return_to, purpose, session_hash, client_key, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.TenantID, r.ID, r.BindingHash, r.ReturnTo, string(r.Purpose), r.SessionHash, r.ClientKey, micros(now), micros(r.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create authn request: %w", err)
	}
	return nil
}
