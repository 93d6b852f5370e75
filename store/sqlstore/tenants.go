package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// CreateTenant implements store.Store.
func (s *Store) CreateTenant(ctx context.Context, t *store.Tenant) error {
	id := uuid.NewString()
	key, err := s.sealSPKey(id, t.SPKeyPEM)
	if err != nil {
		return fmt.Errorf("sqlstore: create tenant: %w", err)
	}
	var created time.Time
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		if _, err := tx.exec(ctx, `INSERT INTO tenants (id, slug, name, sp_key_pem, sp_cert_pem, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, t.Slug, t.Name, key, t.SPCertPEM, micros(now)); err != nil {
			return err
		}
		for _, d := range t.Domains {
			if _, err := tx.exec(ctx, `INSERT INTO domains (domain, tenant_id) VALUES (?, ?)`, strings.ToLower(d), id); err != nil {
				return err
			}
		}
		created = now
		if err := insertTeam(ctx, tx, id, uuid.NewString(), t.Name, true, true); err != nil {
			return err
		}
		made := *t
		made.ID, made.CreatedAt = id, fromMicros(micros(now))
		made.Domains = make([]string, len(t.Domains))
		for i, d := range t.Domains {
			made.Domains[i] = strings.ToLower(d)
		}
		sort.Strings(made.Domains)
		return s.audit(ctx, tx, now, id, store.ActionTenantCreated, id, nil, store.NewTenantAuditObject(&made))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create tenant: %w", err)
	}
	t.ID, t.CreatedAt = id, fromMicros(micros(created))
	s.slugs.Store(id, t.Slug)
	return nil
}

func (s *Store) tenantWhere(ctx context.Context, where string, arg any) (*store.Tenant, error) {
	var t store.Tenant
	var created int64
	err := s.row(ctx, `SELECT id, slug, name, sp_cert_pem, created_at FROM tenants WHERE `+where, arg).
		Scan(&t.ID, &t.Slug, &t.Name, &t.SPCertPEM, &created)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tenant: %w", mapErr(err))
	}
	t.CreatedAt = fromMicros(created)
	if t.Domains, err = s.domains(ctx, t.ID); err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Store) domains(ctx context.Context, tenantID string) ([]string, error) {
	var ds []string
	err := s.each(ctx, `SELECT domain FROM domains WHERE tenant_id = ? ORDER BY domain`, []any{tenantID}, func(sc scanner) error {
		var d string
		if err := sc.Scan(&d); err != nil {
			return err
		}
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: domains: %w", err)
	}
	return ds, nil
}

// SPKey implements store.Store.
func (s *Store) SPKey(ctx context.Context, tenantID string) ([]byte, error) {
	var slug string
	var key []byte
	if err := s.row(ctx, `SELECT slug, sp_key_pem FROM tenants WHERE id = ?`, tenantID).Scan(&slug, &key); err != nil {
		return nil, fmt.Errorf("sqlstore: SP key: %w", mapErr(err))
	}
	pem, err := s.openSPKey(tenantID, key)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tenant %s: SP private key: %w", slug, err)
	}
	return pem, nil
}

// TenantBySlug implements store.Store.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (*store.Tenant, error) {
	return s.tenantWhere(ctx, "slug = ?", slug)
}

// TenantByID implements store.Store.
func (s *Store) TenantByID(ctx context.Context, id string) (*store.Tenant, error) {
	return s.tenantWhere(ctx, "id = ?", id)
}

// TenantByDomain implements store.Store.
func (s *Store) TenantByDomain(ctx context.Context, domain string) (*store.Tenant, error) {
	return s.tenantWhere(ctx, "id = (SELECT tenant_id FROM domains WHERE domain = ?)", strings.ToLower(domain))
}

// ListTenants implements store.Store.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	var slugs []string
	err := s.each(ctx, `SELECT slug FROM tenants ORDER BY slug`, nil, func(sc scanner) error {
		var slug string
		if err := sc.Scan(&slug); err != nil {
			return err
		}
		slugs = append(slugs, slug)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tenants: %w", err)
	}
	// Byte order, whatever the database's collation: a PostgreSQL created with a locale that ignores
	// punctuation sorts "ab" before "a-c", and the platform API's cursor over this list compares bytes.
	slices.Sort(slugs)
	ts := make([]store.Tenant, 0, len(slugs))
	for _, slug := range slugs {
		t, err := s.TenantBySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		ts = append(ts, *t)
	}
	return ts, nil
}

// AddDomain implements store.Store.
func (s *Store) AddDomain(ctx context.Context, tenantID, domain string) error {
	domain = strings.ToLower(domain)
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if _, err := tx.exec(ctx, `INSERT INTO domains (domain, tenant_id) VALUES (?, ?)`, domain, tenantID); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionDomainAdded, domain, nil, store.DomainAuditObject{Domain: domain})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: add domain: %w", err)
	}
	return nil
}

// RemoveDomain implements store.Store.
func (s *Store) RemoveDomain(ctx context.Context, tenantID, domain string) error {
	domain = strings.ToLower(domain)
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if err := affected(tx.exec(ctx, `DELETE FROM domains WHERE domain = ? AND tenant_id = ?`, domain, tenantID)); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionDomainRemoved, domain, store.DomainAuditObject{Domain: domain}, nil)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: remove domain: %w", err)
	}
	return nil
}

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, tok *store.Token) error {
	id := uuid.NewString()
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		_, err := tx.exec(ctx, `INSERT INTO scim_tokens (id, tenant_id, name, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, 0)`,
			id, tok.TenantID, tok.Name, tok.Hash, micros(now), micros(tok.ExpiresAt))
		if err != nil {
			return err
		}
		issued := *tok
		issued.ID, issued.CreatedAt, issued.RevokedAt = id, fromMicros(micros(now)), time.Time{}
		return s.recordToken(ctx, tx, now, store.EventSCIMTokenIssued, nil, &issued)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create token: %w", err)
	}
	tok.ID, tok.CreatedAt = id, fromMicros(micros(created))
	return nil
}

// recordToken records an event of the type about tok, which is never shown with its hash, and the
// admin action (before: the token before a revocation, nil when issued).
func (s *Store) recordToken(ctx context.Context, tx *wtx, now time.Time, typ string, before, tok *store.Token) error {
	slug, err := s.tenantSlug(ctx, tx, tok.TenantID)
	if err != nil {
		return err
	}
	obj := store.NewTokenObject(tok, slug)
	if err := s.recordObject(ctx, tx, now, typ, tok.TenantID, "", obj); err != nil {
		return err
	}
	if before == nil {
		return s.audit(ctx, tx, now, tok.TenantID, store.ActionSCIMTokenIssued, tok.ID, nil, obj)
	}
	return s.audit(ctx, tx, now, tok.TenantID, store.ActionSCIMTokenRevoked, tok.ID, store.NewTokenObject(before, slug), obj)
}

const tokenCols = `id, tenant_id, name, hash, created_at, expires_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (*store.Token, error) {
	var t store.Token
	var c, e, r int64
	if err := sc.Scan(&t.ID, &t.TenantID, &t.Name, &t.Hash, &c, &e, &r); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicros(c), fromMicros(e), fromMicros(r)
	return &t, nil
}

// TokenByHash implements store.Store.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	t, err := scanToken(s.row(ctx, `SELECT `+tokenCols+` FROM scim_tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: token: %w", mapErr(err))
	}
	return t, nil
}

// TenantToken implements store.Store.
func (s *Store) TenantToken(ctx context.Context, slug string, hash []byte) (*store.Tenant, *store.Token, error) {
	var t store.Tenant
	var created, c, e, r int64
	var domains string
	tok := store.Token{Hash: hash}
	err := s.row(ctx, `SELECT n.id, n.slug, n.name, n.created_at, coalesce((SELECT string_agg(domain, ',') FROM domains WHERE tenant_id = n.id), ''),
			k.id, k.name, k.created_at, k.expires_at, k.revoked_at
		FROM scim_tokens k JOIN tenants n ON n.id = k.tenant_id WHERE k.hash = ? AND n.slug = ?`, hash, slug).
		Scan(&t.ID, &t.Slug, &t.Name, &created, &domains, &tok.ID, &tok.Name, &c, &e, &r)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: tenant token: %w", mapErr(err))
	}
	t.CreatedAt = fromMicros(created)
	if domains != "" {
		t.Domains = strings.Split(domains, ",")
		sort.Strings(t.Domains)
	}
	tok.TenantID = t.ID
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = fromMicros(c), fromMicros(e), fromMicros(r)
	return &t, &tok, nil
}

// TenantSSOVersion implements store.Store.
func (s *Store) TenantSSOVersion(ctx context.Context, slug string) (*store.Tenant, int64, error) {
	var t store.Tenant
	var created, version int64
	var domains string
	err := s.row(ctx, `SELECT n.id, n.slug, n.name, n.created_at, coalesce((SELECT string_agg(domain, ',') FROM domains WHERE tenant_id = n.id), ''),
			coalesce((SELECT version FROM sso_settings WHERE tenant_id = n.id), 0)
		FROM tenants n WHERE n.slug = ?`, slug).Scan(&t.ID, &t.Slug, &t.Name, &created, &domains, &version)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: tenant sso version: %w", mapErr(err))
	}
	t.CreatedAt = fromMicros(created)
	if domains != "" {
		t.Domains = strings.Split(domains, ",")
		sort.Strings(t.Domains)
	}
	return &t, version, nil
}

// ListTokens implements store.Store.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]store.Token, error) {
	var ts []store.Token
	err := s.each(ctx, `SELECT `+tokenCols+` FROM scim_tokens WHERE tenant_id = ? ORDER BY created_at DESC, id`, []any{tenantID}, func(sc scanner) error {
		t, err := scanToken(sc)
		if err != nil {
			return err
		}
		ts = append(ts, *t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken implements store.Store.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string) error {
	if !storable(id) {
		return fmt.Errorf("sqlstore: revoke token: %w", store.ErrNotFound)
	}
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		tok := store.Token{ID: id, TenantID: tenantID, RevokedAt: fromMicros(micros(now))}
		var c, e int64
		if err := tx.row(ctx, `UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at = 0 RETURNING name, created_at, expires_at`,
			micros(now), id, tenantID).Scan(&tok.Name, &c, &e); err != nil {
			return err // no such live token of the tenant: store.ErrNotFound
		}
		tok.CreatedAt, tok.ExpiresAt = fromMicros(c), fromMicros(e)
		before := tok
		before.RevokedAt = time.Time{}
		return s.recordToken(ctx, tx, now, store.EventSCIMTokenRevoked, &before, &tok)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: revoke token: %w", err)
	}
	return nil
}
