package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// PasswordSignIn implements store.Store. The user row is read locked (PostgreSQL) and the password
// row compared in the same transaction, so a deactivation or a password reset that commits first
// refuses the sign-in, and one that commits after finds the session to end.
func (s *Store) PasswordSignIn(ctx context.Context, tenantID string, in *store.PasswordSignIn, complete func(store.UserFinder, *store.User) (bool, error)) (*store.User, error) {
	var out *store.User
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		old, seq, err := scanUser(tx.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND tenant_id = ?`+s.forUpdate(), in.UserID, tenantID))
		if err != nil {
			return err
		}
		var one int
		if err := tx.row(ctx, `SELECT 1 FROM passwords WHERE tenant_id = ? AND user_id = ? AND hash = ?`, tenantID, in.UserID, in.PasswordHash).Scan(&one); err != nil {
			return err
		}
		if !old.Active {
			return store.ErrNotFound
		}
		u := old.Clone()
		f := &finder{ctx: ctx, row: tx.row, tenantID: tenantID}
		pending, err := complete(f, u)
		if err != nil {
			return errUpdater{err}
		}
		// The identity of the row is not complete's to change. Signing in is no change of the user: its
		// time is stored without raising the version (see SignIn).
		u.ID, u.TenantID, u.CreatedAt, u.Version = old.ID, old.TenantID, old.CreatedAt, old.Version
		u.LastSignInAt = now
		if u.Equal(old) {
			u = old
			if err := setLastSignIn(ctx, tx, now, seq, u); err != nil {
				return err
			}
		} else {
			if err := s.updateUserRow(ctx, tx, now, seq, old, u); err != nil {
				return err
			}
			a := in.Audit
			a.TenantID, a.UserID = tenantID, u.ID
			if err := s.insertAudit(ctx, tx, now, a); err != nil {
				return err
			}
		}
		// The partial index's condition is written out: plans do not look at bound values (see qpsg.go).
		if _, err := tx.exec(ctx, `DELETE FROM login_failures WHERE attempt = ? AND attempt <> ''`, in.Attempt); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, in.AccountKey); err != nil {
			return err
		}
		in.Session.TenantID, in.Session.UserID, in.Session.Pending = tenantID, u.ID, pending
		if err := s.insertSession(ctx, tx, now, &in.Session); err != nil {
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
		return nil, fmt.Errorf("sqlstore: password sign-in: %w", err)
	}
	return out, nil
}
