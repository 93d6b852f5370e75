package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// Admins: tenant admins, setup links, console sessions and the admin audit log (migration 0012).
// Every change an admin makes records its AdminAction inside the change's own write transaction
// (audit), so a change never exists without its entry, and a refused one leaves none.

// AdminActionRetention is how long the admin audit log is kept: Sweep deletes older entries. A year,
// because an audit is asked about a year back (who switched SSO on, who issued that token), and the
// entries are few: people make them by hand, not clients.
const AdminActionRetention = 365 * 24 * time.Hour

// audit records in tx that ActorOf(ctx) did action on target of the tenant ("" for none), with the
// object as it was before and after (nil: there was none), as JSON.
func (s *Store) audit(ctx context.Context, tx *wtx, now time.Time, tenantID, action, target string, before, after any) error {
	js := func(o any) (string, error) {
		if o == nil {
			return "", nil
		}
		b, err := json.Marshal(o)
		if err != nil {
			return "", fmt.Errorf("audit %s: %w", action, err)
		}
		return string(b), nil
	}
	b, err := js(before)
	if err != nil {
		return err
	}
	a, err := js(after)
	if err != nil {
		return err
	}
	who := store.ActorOf(ctx)
	_, err = tx.exec(ctx, `INSERT INTO admin_actions (id, at, tenant_id, actor_kind, actor_id, actor_name, action, target, before_json, after_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, uuid.NewString(), micros(now), tenantID, who.Kind, who.ID, who.Name, action, target, b, a)
	return err
}

// SetAdmin implements store.AdminStore. Taking the flag away also ends the user's console sessions.
func (s *Store) SetAdmin(ctx context.Context, tenantID, userID string, admin bool) error {
	if !storable(tenantID) || !storable(userID) {
		// PostgreSQL refuses NUL bytes and invalid UTF-8 in text: no such user, not a 500.
		return fmt.Errorf("sqlstore: set admin: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		// The tenant's row locked (PostgreSQL; SQLite has one writer): its admin changes run one at a
		// time, so two admins removing each other cannot both see the other remain.
		if err := tx.row(ctx, `SELECT id FROM tenants WHERE id = ?`+s.forNoKeyUpdate(), tenantID).Scan(new(string)); err != nil {
			return err
		}
		var name string
		if err := tx.row(ctx, `SELECT user_name FROM users WHERE tenant_id = ? AND id = ?`, tenantID, userID).Scan(&name); err != nil {
			return err // another tenant's or no user: store.ErrNotFound
		}
		admins := func(cond string, args ...any) (int, error) {
			var n int
			// Admins who can still act: a deactivated admin cannot sign in, so does not count as the one left.
			err := tx.row(ctx, `SELECT count(*) FROM tenant_admins WHERE tenant_id = ?`+cond+
				` AND user_id IN (SELECT id FROM users WHERE tenant_id = ? AND active = 1)`, append(append([]any{tenantID}, args...), tenantID)...).Scan(&n)
			return n, err
		}
		actor := store.ActorOf(ctx)
		if actor.Kind == store.ActorAdmin { // a request that passed the console's guard before its admin right was taken
			if n, err := admins(` AND user_id = ?`, actor.ID); err != nil || n == 0 {
				return cmp.Or(err, store.ErrNotAdmin)
			}
		}
		var res interface{ RowsAffected() (int64, error) }
		var err error
		action := store.ActionAdminAdded
		if admin {
			res, err = tx.exec(ctx, `INSERT INTO tenant_admins (tenant_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, userID, micros(now))
		} else {
			action = store.ActionAdminRemoved
			res, err = tx.exec(ctx, `DELETE FROM tenant_admins WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
			if err == nil {
				_, err = tx.exec(ctx, `DELETE FROM admin_sessions WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
			}
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // already as asked: nothing changed, nothing recorded
		}
		if !admin && actor.Kind != store.ActorCLI { // the operator may; anyone else leaves one admin
			if n, err := admins(""); err != nil || n == 0 {
				return cmp.Or(err, store.ErrLastAdmin)
			}
		}
		was, is := !admin, admin
		return s.audit(ctx, tx, now, tenantID, action, userID,
			store.UserAuditObject{ID: userID, UserName: name, Admin: &was}, store.UserAuditObject{ID: userID, UserName: name, Admin: &is})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set admin: %w", err)
	}
	return nil
}

// IsAdmin implements store.AdminStore.
func (s *Store) IsAdmin(ctx context.Context, tenantID, userID string) (bool, error) {
	if !storable(tenantID) || !storable(userID) {
		return false, nil // no user has such an id
	}
	var n int
	if err := s.row(ctx, `SELECT count(*) FROM tenant_admins WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: is admin: %w", err)
	}
	return n > 0, nil
}

// ListAdmins implements store.AdminStore.
func (s *Store) ListAdmins(ctx context.Context, tenantID string) ([]store.User, error) {
	var out []store.User
	err := s.each(ctx, `SELECT `+userCols+` FROM users
		WHERE tenant_id = ? AND id IN (SELECT user_id FROM tenant_admins WHERE tenant_id = ?) ORDER BY user_name_key, id`, []any{tenantID, tenantID}, func(sc scanner) error {
		u, _, err := scanUser(sc)
		if err != nil {
			return err
		}
		out = append(out, *u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admins: %w", err)
	}
	return out, nil
}

// CreateSetupLink implements store.AdminStore.
func (s *Store) CreateSetupLink(ctx context.Context, l *store.SetupLink) error {
	id := uuid.NewString()
	by := store.ActorOf(ctx)
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		if _, err := s.tenantSlug(ctx, tx, l.TenantID); err != nil {
			return err // an unknown tenant: store.ErrNotFound
		}
		if _, err := tx.exec(ctx, `INSERT INTO setup_links (id, tenant_id, scopes, hash, created_at, expires_at, used_at, created_by_kind, created_by_id, created_by_name)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`, id, l.TenantID, strings.Join(l.Scopes, ","), l.Hash, micros(now), micros(l.ExpiresAt), by.Kind, by.ID, by.Name); err != nil {
			return err
		}
		made := *l
		made.ID, made.CreatedAt, made.UsedAt, made.CreatedBy = id, fromMicros(micros(now)), time.Time{}, by
		return s.audit(ctx, tx, now, l.TenantID, store.ActionSetupLinkCreated, id, nil, store.NewSetupLinkAuditObject(&made))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create setup link: %w", err)
	}
	l.ID, l.CreatedAt, l.UsedAt, l.CreatedBy = id, fromMicros(micros(created)), time.Time{}, by
	return nil
}

const setupLinkCols = `id, tenant_id, scopes, created_at, expires_at, used_at, revoked_at, created_by_kind, created_by_id, created_by_name`

func scanSetupLink(sc scanner) (*store.SetupLink, error) {
	var l store.SetupLink
	var scopes string
	var c, e, u, r int64
	if err := sc.Scan(&l.ID, &l.TenantID, &scopes, &c, &e, &u, &r, &l.CreatedBy.Kind, &l.CreatedBy.ID, &l.CreatedBy.Name); err != nil {
		return nil, err
	}
	l.Scopes = splitList(scopes)
	l.CreatedAt, l.ExpiresAt, l.UsedAt, l.RevokedAt = fromMicros(c), fromMicros(e), fromMicros(u), fromMicros(r)
	return &l, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ListSetupLinks implements store.AdminStore.
func (s *Store) ListSetupLinks(ctx context.Context, tenantID string) ([]store.SetupLink, error) {
	var out []store.SetupLink
	err := s.each(ctx, `SELECT `+setupLinkCols+` FROM setup_links WHERE tenant_id = ? ORDER BY created_at DESC, id`, []any{tenantID}, func(sc scanner) error {
		l, err := scanSetupLink(sc)
		if err != nil {
			return err
		}
		out = append(out, *l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list setup links: %w", err)
	}
	return out, nil
}

// UseSetupLink implements store.AdminStore. The UPDATE's condition (unused, unexpired) is what makes
// the link one-time: on SQLite the one writer runs the transactions one after another, on PostgreSQL
// a second UPDATE waits for the first's row lock and then re-checks used_at, finds it set, and
// touches nothing.
func (s *Store) UseSetupLink(ctx context.Context, hash []byte, ss *store.AdminSession) (*store.SetupLink, error) {
	var l *store.SetupLink
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		var err error
		l, err = scanSetupLink(tx.row(ctx, `UPDATE setup_links SET used_at = ? WHERE hash = ? AND used_at = 0 AND revoked_at = 0 AND expires_at > ? RETURNING `+setupLinkCols,
			micros(now), hash, micros(now)))
		if err != nil {
			return err // none, used or expired: store.ErrNotFound
		}
		before := *l
		before.UsedAt = time.Time{}
		if _, err := tx.exec(ctx, `INSERT INTO admin_sessions (id_hash, tenant_id, user_id, setup_link_id, scopes, created_at, expires_at) VALUES (?, ?, '', ?, ?, ?, ?)`,
			ss.IDHash, l.TenantID, l.ID, strings.Join(l.Scopes, ","), micros(now), micros(ss.ExpiresAt)); err != nil {
			return err
		}
		ss.TenantID, ss.UserID, ss.SetupLinkID, ss.CreatedAt = l.TenantID, "", l.ID, fromMicros(micros(now))
		ss.Scopes = append([]string(nil), l.Scopes...)
		if who := store.ActorOf(ctx); who.Kind == store.ActorSetupLink && who.ID == "" {
			// The console knows the link only by its secret until it is used: name it now.
			ctx = store.WithActor(ctx, store.Actor{Kind: store.ActorSetupLink, ID: l.ID, Name: who.Name})
		}
		return s.audit(ctx, tx, now, l.TenantID, store.ActionSetupLinkUsed, l.ID, store.NewSetupLinkAuditObject(&before), store.NewSetupLinkAuditObject(l))
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: use setup link: %w", err)
	}
	return l, nil
}

// RevokeSetupLink implements store.AdminStore.
func (s *Store) RevokeSetupLink(ctx context.Context, tenantID, id string) error {
	if !storable(id) {
		return fmt.Errorf("sqlstore: revoke setup link: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		before, err := scanSetupLink(tx.row(ctx, `SELECT `+setupLinkCols+` FROM setup_links WHERE tenant_id = ? AND id = ?`, tenantID, id))
		if err != nil {
			return err // another tenant's or no link: store.ErrNotFound
		}
		if !before.RevokedAt.IsZero() {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE setup_links SET revoked_at = ? WHERE id = ?`, micros(now), id); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE tenant_id = ? AND setup_link_id = ?`, tenantID, id); err != nil {
			return err
		}
		after := *before
		after.RevokedAt = fromMicros(micros(now))
		return s.audit(ctx, tx, now, tenantID, store.ActionSetupLinkRevoked, id, store.NewSetupLinkAuditObject(before), store.NewSetupLinkAuditObject(&after))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: revoke setup link: %w", err)
	}
	return nil
}

// CreateAdminSession implements store.AdminStore. A tenant admin keeps at most
// store.MaxAdminSessionsPerUser live console sessions: the oldest beyond it end as this one starts.
func (s *Store) CreateAdminSession(ctx context.Context, ss *store.AdminSession) error {
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		if ss.UserID != "" {
			// The admin right and the people session are read again here, locked against change
			// (PostgreSQL; SQLite has one writer): SetAdmin(off) and whatever ends the people session
			// delete that row first and this user's console sessions after it, so either they wait for
			// this session and end it too, or this one sees them done and stores nothing. Without it a
			// console session could outlive both, checked a moment before they committed.
			if err := tx.row(ctx, `SELECT user_id FROM tenant_admins WHERE tenant_id = ? AND user_id = ?`+s.forShare(),
				ss.TenantID, ss.UserID).Scan(new(string)); errors.Is(err, store.ErrNotFound) {
				return store.ErrNotAdmin
			} else if err != nil {
				return err
			}
			if len(ss.PeopleSession) > 0 {
				if err := tx.row(ctx, `SELECT user_id FROM sessions WHERE id_hash = ? AND tenant_id = ? AND user_id = ? AND expires_at > ?`+s.forShare(),
					ss.PeopleSession, ss.TenantID, ss.UserID, micros(now)).Scan(new(string)); err != nil {
					return err // ended meanwhile: store.ErrNotFound
				}
			}
			var old [][]byte
			if err := tx.each(ctx, `SELECT id_hash FROM admin_sessions WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, id_hash`,
				[]any{ss.TenantID, ss.UserID}, func(sc scanner) error {
					var h []byte
					if err := sc.Scan(&h); err != nil {
						return err
					}
					old = append(old, h)
					return nil
				}); err != nil {
				return err
			}
			for _, h := range old[min(len(old), store.MaxAdminSessionsPerUser-1):] {
				if _, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = ?`, h); err != nil {
					return err
				}
			}
		}
		_, err := tx.exec(ctx, `INSERT INTO admin_sessions (id_hash, tenant_id, user_id, setup_link_id, people_session, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ss.IDHash, ss.TenantID, ss.UserID, ss.SetupLinkID, orEmpty(ss.PeopleSession), strings.Join(ss.Scopes, ","), micros(now), micros(ss.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create admin session: %w", err)
	}
	ss.CreatedAt = fromMicros(micros(created))
	return nil
}

// AdminSessionByHash implements store.AdminStore.
func (s *Store) AdminSessionByHash(ctx context.Context, idHash []byte) (*store.AdminSession, error) {
	ss := store.AdminSession{IDHash: idHash}
	var scopes string
	var c, e int64
	err := s.row(ctx, `SELECT tenant_id, user_id, setup_link_id, people_session, scopes, created_at, expires_at FROM admin_sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, micros(s.now())).Scan(&ss.TenantID, &ss.UserID, &ss.SetupLinkID, &ss.PeopleSession, &scopes, &c, &e)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: admin session: %w", err)
	}
	if len(ss.PeopleSession) == 0 {
		ss.PeopleSession = nil
	}
	ss.Scopes, ss.CreatedAt, ss.ExpiresAt = splitList(scopes), fromMicros(c), fromMicros(e)
	return &ss, nil
}

// EndAdminSession implements store.AdminStore.
func (s *Store) EndAdminSession(ctx context.Context, idHash []byte) error {
	return s.writeOne(ctx, "end admin session", anyRows, `DELETE FROM admin_sessions WHERE id_hash = ?`, idHash)
}

// RecordSSOTestPassed implements store.AdminStore.
func (s *Store) RecordSSOTestPassed(ctx context.Context, tenantID string, version int64) error {
	return s.writeOne(ctx, "record sso test", anyRows, `INSERT INTO sso_tests (tenant_id, version, at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version, at = excluded.at`, tenantID, version, txNow{})
}

// SSOTestPassedVersion implements store.AdminStore.
func (s *Store) SSOTestPassedVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	if err := s.row(ctx, `SELECT version FROM sso_tests WHERE tenant_id = ?`, tenantID).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: sso test: %w", err)
	}
	return v, nil
}

// orEmpty stores a nil byte slice as an empty one: the column is NOT NULL.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// maxAdminActions caps a page of ListAdminActions.
const maxAdminActions = 500

// ListAdminActions implements store.AdminStore. A Limit outside 1..500 is taken as 500's bounds.
func (s *Store) ListAdminActions(ctx context.Context, q store.AdminActionQuery) ([]store.AdminAction, error) {
	limit := min(max(q.Limit, 1), maxAdminActions)
	if q.Limit <= 0 {
		limit = 100
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	where, args := `seq < ?`, []any{before}
	if q.TenantID != "" {
		where, args = `tenant_id = ? AND seq < ?`, []any{q.TenantID, before}
	}
	out := []store.AdminAction{}
	err := s.each(ctx, `SELECT seq, id, at, tenant_id, actor_kind, actor_id, actor_name, action, target, before_json, after_json FROM admin_actions
		WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, limit), func(sc scanner) error {
		var a store.AdminAction
		var at int64
		if err := sc.Scan(&a.Seq, &a.ID, &at, &a.TenantID, &a.Actor.Kind, &a.Actor.ID, &a.Actor.Name, &a.Action, &a.Target, &a.Before, &a.After); err != nil {
			return err
		}
		a.Time = fromMicros(at)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admin actions: %w", err)
	}
	return out, nil
}

// sweepAdmins deletes setup links used, revoked or expired more than store.SetupLinkHistory ago and
// expired console sessions (one transaction:
// they are few), then the audit entries older than AdminActionRetention, sweepBatch at a time, each
// batch its own transaction, like the events.
func (s *Store) sweepAdmins(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		old := micros(now.Add(-store.SetupLinkHistory))
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM setup_links WHERE expires_at <= ? OR (used_at <> 0 AND used_at <= ?) OR (revoked_at <> 0 AND revoked_at <= ?)`, []any{old, old, old}},
			{`DELETE FROM admin_sessions WHERE expires_at <= ?`, []any{micros(now)}},
		} {
			res, err := tx.exec(ctx, q.sql, q.args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	for {
		var k int64
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			res, err := tx.exec(ctx, `DELETE FROM admin_actions WHERE seq IN (SELECT seq FROM admin_actions WHERE at < ? ORDER BY at LIMIT ?)`,
				micros(now.Add(-AdminActionRetention)), sweepBatch)
			if err != nil {
				return err
			}
			k, _ = res.RowsAffected()
			return nil
		})
		n += k
		if err != nil || k < sweepBatch {
			return n, err
		}
	}
}
