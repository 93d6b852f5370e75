package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimsso/scimsso/store"
)

// SSOSettings implements store.Store.
func (s *Store) SSOSettings(ctx context.Context, tenantID string) (*store.SSOSettings, error) {
	var doc []byte
	var version, updated int64
	if err := s.row(ctx, `SELECT version, settings, updated_at FROM sso_settings WHERE tenant_id = ?`, tenantID).Scan(&version, &doc, &updated); err != nil {
		return nil, fmt.Errorf("sqlstore: sso settings: %w", mapErr(err))
	}
	var out store.SSOSettings
	if err := json.Unmarshal(doc, &out); err != nil {
		return nil, fmt.Errorf("sqlstore: sso settings of %s: %w", tenantID, err)
	}
	out.TenantID, out.Version, out.UpdatedAt = tenantID, version, fromMicros(updated)
	return &out, nil
}

// PutSSOSettings implements store.Store. The settings are kept as one JSON document; the struct's field
// names are its schema, and a field added later reads as its zero value from older documents.
func (s *Store) PutSSOSettings(ctx context.Context, tenantID string, set *store.SSOSettings) error {
	c := *set
	c.TenantID, c.Version, c.UpdatedAt = "", 0, time.Time{}
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlstore: put sso settings: %w", err)
	}
	var at time.Time
	var noop bool
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		at, noop = now, false
		var old *store.SSOSettings
		var oldDoc []byte
		var oldVersion, oldUpdated int64
		switch err := tx.row(ctx, `SELECT version, settings, updated_at FROM sso_settings WHERE tenant_id = ?`+s.forUpdate(), tenantID).Scan(&oldVersion, &oldDoc, &oldUpdated); {
		case err == nil:
			old = &store.SSOSettings{}
			if err := json.Unmarshal(oldDoc, old); err != nil {
				return err
			}
			old.TenantID, old.Version, old.UpdatedAt = tenantID, oldVersion, fromMicros(oldUpdated)
			if oldVersion == set.Version && unchanged(old, doc) {
				noop = true
				return nil // storing what is stored: no new version, no event, no audit entry
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		// Each statement checks the version it changes, so two writers of one version cannot both win.
		var res sql.Result
		var err error
		if set.Version == 0 {
			res, err = tx.exec(ctx, `INSERT INTO sso_settings (tenant_id, version, settings, updated_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (tenant_id) DO NOTHING`, tenantID, string(doc), micros(now))
		} else {
			res, err = tx.exec(ctx, `UPDATE sso_settings SET version = version + 1, settings = ?, updated_at = ? WHERE tenant_id = ? AND version = ?`,
				string(doc), micros(now), tenantID, set.Version)
		}
		if err != nil {
			return err // an unknown tenant is store.ErrNotFound
		}
		if errors.Is(affected(res, nil), store.ErrNotFound) {
			return store.ErrVersionMismatch
		}
		slug, err := s.tenantSlug(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		stored := *set
		stored.TenantID, stored.Version, stored.UpdatedAt = tenantID, set.Version+1, fromMicros(micros(now))
		after := store.NewSSOSettingsObject(&stored, slug)
		if err := s.recordObject(ctx, tx, now, store.EventSSOSettingsChanged, tenantID, "", after); err != nil {
			return err
		}
		var before any
		if old != nil {
			before = store.NewSSOSettingsObject(old, slug)
		}
		return s.audit(ctx, tx, now, tenantID, store.ActionSSOSettingsChanged, "", before, after)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: put sso settings: %w", err)
	}
	set.TenantID = tenantID
	if noop {
		return nil
	}
	set.Version++
	set.UpdatedAt = fromMicros(micros(at))
	return nil
}

// unchanged reports whether the stored settings old are doc (the new settings' JSON, without tenant,
// version and time), compared as the same struct marshalled the same way.
func unchanged(old *store.SSOSettings, doc []byte) bool {
	c := *old
	c.TenantID, c.Version, c.UpdatedAt = "", 0, time.Time{}
	b, err := json.Marshal(c)
	return err == nil && bytes.Equal(b, doc)
}
