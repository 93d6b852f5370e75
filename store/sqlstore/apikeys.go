package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimsso/scimsso/store"
)

// Platform API keys: one row each, the key's SHA-256 unique and the scopes one comma-separated
// column (the few scopes are never searched).

// CreateAPIKey implements store.APIKeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	id := uuid.NewString()
	var created time.Time
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		created = now
		_, err := tx.exec(ctx, `INSERT INTO api_keys (id, name, scopes, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, 0)`,
			id, k.Name, strings.Join(k.Scopes, ","), k.Hash, micros(now))
		if err != nil {
			return err
		}
		made := *k
		made.ID, made.CreatedAt, made.RevokedAt = id, fromMicros(micros(now)), time.Time{}
		return s.audit(ctx, tx, now, "", store.ActionAPIKeyCreated, id, nil, store.NewAPIKeyAuditObject(&made))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create API key: %w", err)
	}
	k.ID, k.CreatedAt, k.RevokedAt = id, fromMicros(micros(created)), time.Time{}
	return nil
}

func scanAPIKey(sc scanner, withHash bool) (*store.APIKey, error) {
	var k store.APIKey
	var scopes string
	var c, r int64
	dest := []any{&k.ID, &k.Name, &scopes, &c, &r}
	if withHash {
		dest = append(dest, &k.Hash)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if scopes != "" {
		k.Scopes = strings.Split(scopes, ",")
	}
	k.CreatedAt, k.RevokedAt = fromMicros(c), fromMicros(r)
	return &k, nil
}

// APIKeyByHash implements store.APIKeyStore.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	k, err := scanAPIKey(s.row(ctx, `SELECT id, name, scopes, created_at, revoked_at, hash FROM api_keys WHERE hash = ?`, hash), true)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys implements store.APIKeyStore.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	var ks []store.APIKey
	err := s.each(ctx, `SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, id`, nil, func(sc scanner) error {
		k, err := scanAPIKey(sc, false)
		if err != nil {
			return err
		}
		ks = append(ks, *k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list API keys: %w", err)
	}
	return ks, nil
}

// RevokeAPIKey implements store.APIKeyStore.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		k, err := scanAPIKey(tx.row(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0 RETURNING id, name, scopes, created_at, revoked_at`,
			micros(now), id), false)
		if err != nil {
			return err // no such live key: store.ErrNotFound
		}
		before := *k
		before.RevokedAt = time.Time{}
		return s.audit(ctx, tx, now, "", store.ActionAPIKeyRevoked, id, store.NewAPIKeyAuditObject(&before), store.NewAPIKeyAuditObject(k))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: revoke API key: %w", err)
	}
	return nil
}
