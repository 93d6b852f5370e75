package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// CreateTeam implements store.Store.
func (s *Store) CreateTeam(ctx context.Context, tenantID string, t *store.Team) error {
	id := uuid.NewString()
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if err := insertTeam(ctx, tx, tenantID, id, t.Name, t.Hidden, false); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionTeamCreated, id, nil, store.TeamAuditObject{ID: id, Name: t.Name, Hidden: t.Hidden})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create team: %w", mapErr(err))
	}
	t.ID, t.TenantID, t.Root = id, tenantID, false
	return nil
}

func insertTeam(ctx context.Context, tx *wtx, tenantID, id, name string, hidden, root bool) error {
	_, err := tx.exec(ctx, `INSERT INTO teams (id, tenant_id, name, hidden, root) VALUES (?, ?, ?, ?, ?)`, id, tenantID, name, b2i(hidden), b2i(root))
	return err
}

// ListTeams implements store.Store.
func (s *Store) ListTeams(ctx context.Context, tenantID string) ([]store.Team, error) {
	var out []store.Team
	err := s.each(ctx, `SELECT id, name, hidden, root FROM teams WHERE tenant_id = ? ORDER BY name`, []any{tenantID}, func(sc scanner) error {
		t := store.Team{TenantID: tenantID}
		var hidden, root int
		if err := sc.Scan(&t.ID, &t.Name, &hidden, &root); err != nil {
			return err
		}
		t.Hidden, t.Root = hidden != 0, root != 0
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list teams: %w", err)
	}
	return out, nil
}

// ReplaceDepartmentMap implements store.Store.
func (s *Store) ReplaceDepartmentMap(ctx context.Context, tenantID string, m []store.DepartmentMapping) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		var old []store.DepartmentMapping
		if err := tx.each(ctx, `SELECT m.department, t.name FROM department_map m JOIN teams t ON t.id = m.team_id
			WHERE m.tenant_id = ? ORDER BY m.department_key`, []any{tenantID}, func(sc scanner) error {
			var r store.DepartmentMapping
			if err := sc.Scan(&r.Department, &r.Team); err != nil {
				return err
			}
			old = append(old, r)
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM department_map WHERE tenant_id = ?`, tenantID); err != nil {
			return err
		}
		for _, r := range m {
			var teamID string
			if err := tx.row(ctx, `SELECT id FROM teams WHERE tenant_id = ? AND name = ?`, tenantID, r.Team).Scan(&teamID); err != nil {
				return fmt.Errorf("team %q: %w", r.Team, mapErr(err))
			}
			if _, err := tx.exec(ctx, `INSERT INTO department_map (tenant_id, department_key, department, team_id) VALUES (?, ?, ?, ?)`,
				tenantID, store.Key(r.Department), r.Department, teamID); err != nil {
				return fmt.Errorf("department %q: %w", r.Department, mapErr(err))
			}
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionDepartmentMapReplaced, "", store.NewDepartmentMapAuditObject(old), store.NewDepartmentMapAuditObject(m))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: replace department map: %w", err)
	}
	return nil
}

// DepartmentMap implements store.Store.
func (s *Store) DepartmentMap(ctx context.Context, tenantID string) ([]store.DepartmentMapping, error) {
	var out []store.DepartmentMapping
	err := s.each(ctx, `SELECT m.department, t.name FROM department_map m JOIN teams t ON t.id = m.team_id
		WHERE m.tenant_id = ? ORDER BY m.department_key`, []any{tenantID}, func(sc scanner) error {
		var r store.DepartmentMapping
		if err := sc.Scan(&r.Department, &r.Team); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: department map: %w", err)
	}
	return out, nil
}

// departmentTeam is the map's team for department ("" without a match) and whether the tenant has a map.
func departmentTeam(ctx context.Context, queryRow func(context.Context, string, ...any) row, tenantID, department string) (string, bool, error) {
	var team string
	var hasMap int
	err := queryRow(ctx, `SELECT coalesce((SELECT t.name FROM department_map m JOIN teams t ON t.id = m.team_id
			WHERE m.tenant_id = ?1 AND m.department_key = ?2), ''),
		CASE WHEN EXISTS (SELECT 1 FROM department_map WHERE tenant_id = ?1) THEN 1 ELSE 0 END`, tenantID, store.Key(department)).Scan(&team, &hasMap)
	if err != nil {
		return "", false, err
	}
	return team, hasMap != 0, nil
}

// placeInTeam gives a user without a team the team its department maps to, whoever writes the user
// (SCIM or a sign-in): the map is the tenant's rule, not the caller's.
func placeInTeam(ctx context.Context, tx *wtx, tenantID string, u *store.User) error {
	if u.Team != "" || u.Department == "" {
		return nil
	}
	team, _, err := departmentTeam(ctx, tx.row, tenantID, u.Department)
	u.Team = team
	return err
}

// CompleteSession implements store.Store.
func (s *Store) CompleteSession(ctx context.Context, idHash []byte) error {
	return s.writeOne(ctx, "complete session", oneRow, `UPDATE sessions SET pending = 0 WHERE id_hash = ?`, idHash)
}

// SetPassword implements store.Store.
func (s *Store) SetPassword(ctx context.Context, tenantID, userID, hash string) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		var name string
		if err := tx.row(ctx, `SELECT user_name FROM users WHERE tenant_id = ? AND id = ?`, tenantID, userID).Scan(&name); err != nil {
			return err // another tenant's or no user: store.ErrNotFound
		}
		_, err := tx.exec(ctx, `INSERT INTO passwords (tenant_id, user_id, hash, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`, tenantID, userID, hash, micros(now))
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionPasswordSet, userID, nil, store.UserAuditObject{ID: userID, UserName: name, PasswordSet: true})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set password: %w", err)
	}
	return nil
}

// PasswordHash implements store.Store.
func (s *Store) PasswordHash(ctx context.Context, tenantID, userID string) (string, error) {
	var h string
	if err := s.row(ctx, `SELECT hash FROM passwords WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&h); err != nil {
		return "", fmt.Errorf("sqlstore: password: %w", mapErr(err))
	}
	return h, nil
}

// LoginFailures implements store.Store.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	if err := s.row(ctx, `SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?`, key, micros(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: login failures: %w", err)
	}
	return n, nil
}

// RecordLoginFailure implements store.Store.
func (s *Store) RecordLoginFailure(ctx context.Context, key string) error {
	return s.writeOne(ctx, "record login failure", anyRows, `INSERT INTO login_failures (key, at) VALUES (?, ?)`, key, txNow{})
}

// ClearLoginFailures implements store.Store.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	return s.writeOne(ctx, "clear login failures", anyRows, `DELETE FROM login_failures WHERE key = ?`, key)
}
