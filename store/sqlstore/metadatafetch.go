package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// maxFetchFailure bounds the stored reason of a failed metadata fetch.
const maxFetchFailure = 500

// ClaimMetadataFetch implements store.Store. The row is made on first claim; the claim itself is one
// UPDATE whose WHERE names the due time: on PostgreSQL a concurrent claim waits for the first one's
// row lock and then re-evaluates the WHERE on the committed row, which is no longer due; SQLite has
// one writer.
func (s *Store) ClaimMetadataFetch(ctx context.Context, tenantID string, lease time.Duration, force bool) (bool, error) {
	if !force {
		// Not due: answered by a read. Every replica asks for every tenant every few minutes, and a
		// write, even one that changes nothing, takes SQLite's one writer. The write below decides.
		var next int64
		err := s.row(ctx, `SELECT next_at FROM idp_metadata_fetches WHERE tenant_id = ?`, tenantID).Scan(&next)
		if err == nil && next > micros(s.now()) {
			return false, nil
		}
	}
	claimed := false
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		if _, err := tx.exec(ctx, `INSERT INTO idp_metadata_fetches (tenant_id, url, next_at, last_at, last_ok_at, last_error)
			VALUES (?, '', 0, 0, 0, '') ON CONFLICT (tenant_id) DO NOTHING`, tenantID); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE idp_metadata_fetches SET next_at = ? WHERE tenant_id = ? AND (next_at <= ? OR ? = 1)`,
			micros(now.Add(lease)), tenantID, micros(now), b2i(force))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim metadata fetch: %w", err)
	}
	return claimed, nil
}

// FinishMetadataFetch implements store.Store.
func (s *Store) FinishMetadataFetch(ctx context.Context, tenantID, url, failure string, next time.Duration) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		okAt := `last_ok_at`
		args := []any{store.Clip(url, 2048), micros(now.Add(next)), micros(now), store.Clip(failure, maxFetchFailure)}
		if failure == "" {
			okAt = `?`
			args = append(args, micros(now))
		}
		args = append(args, tenantID)
		return affected(tx.exec(ctx, `UPDATE idp_metadata_fetches SET url = ?, next_at = ?, last_at = ?, last_error = ?, last_ok_at = `+okAt+`
			WHERE tenant_id = ?`, args...))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: finish metadata fetch: %w", err)
	}
	return nil
}

// MetadataFetch implements store.Store.
func (s *Store) MetadataFetch(ctx context.Context, tenantID string) (*store.MetadataFetch, error) {
	f := store.MetadataFetch{TenantID: tenantID}
	var next, last, ok int64
	err := s.row(ctx, `SELECT url, next_at, last_at, last_ok_at, last_error FROM idp_metadata_fetches WHERE tenant_id = ?`, tenantID).
		Scan(&f.URL, &next, &last, &ok, &f.LastError)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: metadata fetch: %w", err)
	}
	f.NextAt, f.LastAt, f.LastOKAt = fromMicros(next), fromMicros(last), fromMicros(ok)
	return &f, nil
}

// AnnounceCertificateExpiring implements store.Store.
func (s *Store) AnnounceCertificateExpiring(ctx context.Context, tenantID string, c store.CertificateObject) (bool, error) {
	recorded := false
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		res, err := tx.exec(ctx, `INSERT INTO idp_certificate_warnings (tenant_id, fingerprint, announced_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, fingerprint) DO NOTHING`, tenantID, c.Fingerprint, micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		slug, err := s.tenantSlug(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		c.Tenant, c.NotAfter = slug, c.NotAfter.UTC()
		recorded = true
		return s.recordObject(ctx, tx, now, store.EventSSOCertificateExpiring, tenantID, "", c)
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: announce certificate expiring: %w", err)
	}
	return recorded, nil
}
