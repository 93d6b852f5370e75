package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// email is the persisted form of store.Email inside users.emails. Display is only stored and
// returned, never searched, so it needs no column of user_emails.
type email struct {
	V string `json:"v"`
	T string `json:"t,omitempty"`
	P bool   `json:"p,omitempty"`
	D string `json:"d,omitempty"`
}

func encodeEmails(es []store.Email) string {
	if len(es) == 0 {
		return "[]"
	}
	pe := make([]email, len(es))
	for i, e := range es {
		pe[i] = email{e.Value, e.Type, e.Primary, e.Display}
	}
	b, _ := json.Marshal(pe)
	return string(b)
}

func decodeEmails(s string) ([]store.Email, error) {
	var pe []email
	if err := json.Unmarshal([]byte(s), &pe); err != nil {
		return nil, err
	}
	if len(pe) == 0 {
		return nil, nil
	}
	es := make([]store.Email, len(pe))
	for i, e := range pe {
		es[i] = store.Email{Value: e.V, Type: e.T, Primary: e.P, Display: e.D}
	}
	return es, nil
}

const userCols = `seq, id, tenant_id, user_name, emails, given_name, family_name, country, department, team,
	coalesce(external_id, ''), secondary_email, extra, active, source, created_at, updated_at, version, last_sign_in_at`

func scanUser(sc interface{ Scan(...any) error }) (*store.User, int64, error) {
	var u store.User
	var seq, c, m, signIn int64
	var emails, source string
	var active int
	if err := sc.Scan(&seq, &u.ID, &u.TenantID, &u.UserName, &emails, &u.GivenName, &u.FamilyName, &u.Country,
		&u.Department, &u.Team, &u.ExternalID, &u.SecondaryEmail, &u.Extra, &active, &source, &c, &m, &u.Version, &signIn); err != nil {
		return nil, 0, err
	}
	u.LastSignInAt = fromMicros(signIn)
	var err error
	if u.Emails, err = decodeEmails(emails); err != nil {
		return nil, 0, fmt.Errorf("user %s: emails: %w", u.ID, err)
	}
	u.Active, u.Source = active != 0, store.Source(source)
	u.CreatedAt, u.UpdatedAt = fromMicros(c), fromMicros(m)
	return &u, seq, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Store) insertEmails(ctx context.Context, tx *wtx, seq int64, tenantID string, es []store.Email) error {
	for i, e := range es {
		if _, err := tx.exec(ctx, `INSERT INTO user_emails (user_seq, pos, tenant_id, value_key, type, is_primary) VALUES (?, ?, ?, ?, ?, ?)`,
			seq, i, tenantID, store.Key(e.Value), strings.ToLower(e.Type), b2i(e.Primary)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertAudit(ctx context.Context, tx *wtx, now time.Time, a store.Audit) error {
	t := a.Time
	if t.IsZero() {
		t = now
	}
	_, err := tx.exec(ctx, `INSERT INTO audit_log (time, tenant_id, token_id, operation, user_id, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		micros(t), a.TenantID, a.TokenID, a.Operation, a.UserID, a.Outcome, a.Detail)
	return err
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, tenantID string, u *store.User, a store.Audit) error {
	u.LastSignInAt = time.Time{} // provisioned, not signed in: only sign-ins set it
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if err := s.insertUser(ctx, tx, now, tenantID, u); err != nil {
			return err
		}
		a.TenantID, a.UserID = tenantID, u.ID
		return s.insertAudit(ctx, tx, now, a)
	})
	if err != nil {
		u.ID, u.TenantID = "", ""
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	return nil
}

// insertUser stores u as a new user of the tenant inside tx, fills in its id, times and version, and
// records user.created. u.LastSignInAt is stored as given (a sign-in's time, or zero).
func (s *Store) insertUser(ctx context.Context, tx *wtx, now time.Time, tenantID string, u *store.User) error {
	id := uuid.NewString()
	if err := placeInTeam(ctx, tx, tenantID, u); err != nil {
		return err
	}
	var seq int64
	err := tx.row(ctx, `INSERT INTO users (id, tenant_id, user_name, user_name_key, emails, given_name, family_name,
		country, department, team, external_id, secondary_email, secondary_email_key, extra, active, source, created_at, updated_at, version,
		last_sign_in_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING seq`,
		id, tenantID, u.UserName, store.Key(u.UserName), encodeEmails(u.Emails), u.GivenName, u.FamilyName,
		u.Country, u.Department, u.Team, nullIfEmpty(u.ExternalID), u.SecondaryEmail, store.Key(u.SecondaryEmail),
		nonNil(u.Extra), b2i(u.Active), string(u.Source), micros(now), micros(now), micros(u.LastSignInAt)).Scan(&seq)
	if err != nil {
		return err
	}
	if err := s.insertEmails(ctx, tx, seq, tenantID, u.Emails); err != nil {
		return err
	}
	at := fromMicros(micros(now))
	u.ID, u.TenantID, u.CreatedAt, u.UpdatedAt, u.Version = id, tenantID, at, at, 1
	u.LastSignInAt = fromMicros(micros(u.LastSignInAt))
	return s.recordUser(ctx, tx, now, u, store.EventUserCreated)
}

// UserByID implements store.Store.
func (s *Store) UserByID(ctx context.Context, tenantID, id string) (*store.User, error) {
	if !storable(id) {
		return nil, fmt.Errorf("sqlstore: user: %w", store.ErrNotFound)
	}
	u, _, err := scanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND tenant_id = ?`, id, tenantID))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user: %w", mapErr(err))
	}
	return u, nil
}

// ListUsers implements store.Store.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q store.UserQuery) ([]store.User, int, error) {
	b := whereBuilder{tenantID: tenantID}
	where := "tenant_id = " + b.arg(tenantID)
	if q.Filter != nil {
		cond, err := b.user(q.Filter)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstore: list users: %w", err)
		}
		where += " AND (" + cond + ")"
	}
	users := []store.User{}
	if q.Limit > 0 {
		args := append(append([]any(nil), b.args...), q.Limit, max(q.Offset, 0))
		qctx := ctx
		if pointLookup(q.Filter) {
			// An indexed point lookup is quicker than the driver's cancel watcher it would start.
			qctx = context.WithoutCancel(ctx)
		}
		err := s.each(qctx, `SELECT `+userCols+` FROM users WHERE `+where+` ORDER BY seq LIMIT ? OFFSET ?`, args, func(sc scanner) error {
			u, _, err := scanUser(sc)
			if err != nil {
				return err
			}
			users = append(users, *u)
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstore: list users: %w", err)
		}
		// A short first page is the whole result: the common existence check costs one query.
		if q.Offset <= 0 && len(users) < q.Limit {
			return users, len(users), nil
		}
	}
	var total int
	if err := s.row(ctx, `SELECT count(*) FROM users WHERE `+where, b.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	return users, total, nil
}

// UsersAfter implements store.Store: the tenant's users past the position after (a users.seq), one
// more than asked for to learn whether another page follows, on the (tenant_id, seq) index.
func (s *Store) UsersAfter(ctx context.Context, tenantID string, after int64, limit int) ([]store.User, int64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("sqlstore: users after: limit %d: want > 0", limit)
	}
	users := make([]store.User, 0, min(limit, 256))
	var seqs []int64
	err := s.each(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{tenantID, after, limit + 1},
		func(sc scanner) error {
			u, seq, err := scanUser(sc)
			if err != nil {
				return err
			}
			users, seqs = append(users, *u), append(seqs, seq)
			return nil
		})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: users after: %w", err)
	}
	if len(users) <= limit {
		return users, 0, nil
	}
	return users[:limit], seqs[limit-1], nil
}

// pointLookup reports whether f is an eq on a uniquely indexed attribute (the existence checks IdPs send).
func pointLookup(f *store.Filter) bool {
	return f != nil && f.Op == store.OpEq && (f.Attr == store.AttrUserName || f.Attr == store.AttrExternalID || f.Attr == store.AttrID)
}

// UpdateUser implements store.Store.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, wantVersion int64, a store.Audit, fn func(*store.User) error) (*store.User, error) {
	var out *store.User
	if !storable(id) {
		return nil, fmt.Errorf("sqlstore: update user: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		old, seq, err := scanUser(tx.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND tenant_id = ?`+s.forUpdate(), id, tenantID))
		if err != nil {
			return err
		}
		if wantVersion != 0 && wantVersion != old.Version {
			return store.ErrVersionMismatch
		}
		u := old.Clone()
		if err := fn(u); err != nil {
			return errUpdater{err}
		}
		// The identity of the row is not the updater's to change, nor when the user last signed in.
		u.ID, u.TenantID, u.CreatedAt, u.Version = old.ID, old.TenantID, old.CreatedAt, old.Version
		u.LastSignInAt = old.LastSignInAt
		a.TenantID, a.UserID = tenantID, id
		if u.Equal(old) {
			out = old
			return s.insertAudit(ctx, tx, now, a)
		}
		if err := s.updateUserRow(ctx, tx, now, seq, old, u); err != nil {
			return err
		}
		out = u
		return s.insertAudit(ctx, tx, now, a)
	})
	var ue errUpdater
	if errors.As(err, &ue) {
		return nil, ue.err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: update user: %w", err)
	}
	return out, nil
}

// updateUserRow stores u over old (row seq) inside tx with the version raised (and u.LastSignInAt as
// given), records the events of the change, and ends the user's sessions when u deactivates it.
func (s *Store) updateUserRow(ctx context.Context, tx *wtx, now time.Time, seq int64, old, u *store.User) error {
	if err := placeInTeam(ctx, tx, old.TenantID, u); err != nil {
		return err
	}
	u.Version = old.Version + 1
	u.UpdatedAt = fromMicros(micros(now))
	u.LastSignInAt = fromMicros(micros(u.LastSignInAt))
	if _, err := tx.exec(ctx, `UPDATE users SET user_name = ?, user_name_key = ?, emails = ?, given_name = ?, family_name = ?,
		country = ?, department = ?, team = ?, external_id = ?, secondary_email = ?, secondary_email_key = ?, extra = ?, active = ?, source = ?,
		updated_at = ?, version = ?, last_sign_in_at = ? WHERE seq = ?`,
		u.UserName, store.Key(u.UserName), encodeEmails(u.Emails), u.GivenName, u.FamilyName, u.Country, u.Department, u.Team,
		nullIfEmpty(u.ExternalID), u.SecondaryEmail, store.Key(u.SecondaryEmail), nonNil(u.Extra), b2i(u.Active), string(u.Source),
		micros(now), u.Version, micros(u.LastSignInAt), seq); err != nil {
		return err
	}
	if encodeEmails(u.Emails) != encodeEmails(old.Emails) {
		if _, err := tx.exec(ctx, `DELETE FROM user_emails WHERE user_seq = ?`, seq); err != nil {
			return err
		}
		if err := s.insertEmails(ctx, tx, seq, u.TenantID, u.Emails); err != nil {
			return err
		}
	}
	if err := s.recordUser(ctx, tx, now, u, userEvents(old, u)...); err != nil {
		return err
	}
	if old.Active && !u.Active {
		if _, err := s.endSessions(ctx, tx, now, store.EndDeactivated, `tenant_id = ? AND user_id = ?`, u.TenantID, u.ID); err != nil {
			return err
		}
	}
	return nil
}

// errUpdater carries an updater's own error through the transaction untouched by mapErr.
type errUpdater struct{ err error }

func (e errUpdater) Error() string { return e.err.Error() }

// RecordAudit implements store.Store.
func (s *Store) RecordAudit(ctx context.Context, a store.Audit) error {
	if err := s.write(ctx, func(tx *wtx, now time.Time) error { return s.insertAudit(ctx, tx, now, a) }); err != nil {
		return fmt.Errorf("sqlstore: record audit: %w", err)
	}
	return nil
}

// ListAudit implements store.Store.
func (s *Store) ListAudit(ctx context.Context, tenantID string, since time.Time) ([]store.Audit, error) {
	return s.auditEntries(ctx, "list audit", `SELECT time, tenant_id, token_id, operation, user_id, outcome, detail FROM audit_log
		WHERE tenant_id = ? AND time >= ? ORDER BY seq`, tenantID, micros(since))
}

// RecentAudit implements store.Store. The index on (tenant_id, time) is read backwards, so the cost
// is the limit's (and the sign-ins' in between it skips), not the log's. A SCIM request is an entry
// made with a token: the sign-ins' entries (sso-signin, password-signin, welcome) have none.
func (s *Store) RecentAudit(ctx context.Context, tenantID string, limit int) ([]store.Audit, error) {
	if limit < 1 || limit > 500 {
		return nil, fmt.Errorf("sqlstore: recent audit: limit %d not in 1..500", limit)
	}
	return s.auditEntries(ctx, "recent audit", `SELECT time, tenant_id, token_id, operation, user_id, outcome, detail FROM audit_log
		WHERE tenant_id = ? AND token_id <> '' ORDER BY time DESC, seq DESC LIMIT ?`, tenantID, limit)
}

// auditEntries runs a query of audit_log entries.
func (s *Store) auditEntries(ctx context.Context, what, query string, args ...any) ([]store.Audit, error) {
	var as []store.Audit
	err := s.each(ctx, query, args, func(sc scanner) error {
		var a store.Audit
		var t int64
		if err := sc.Scan(&t, &a.TenantID, &a.TokenID, &a.Operation, &a.UserID, &a.Outcome, &a.Detail); err != nil {
			return err
		}
		a.Time = fromMicros(t)
		as = append(as, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return as, nil
}
