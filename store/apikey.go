package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scopes of a platform API key: what the platform's application may read or do with it (SPEC.md
// "Platform API: directory and events"). Each is granted on its own: manage does not imply the others.
const (
	ScopeDirectoryRead = "directory:read" // tenants and their users
	ScopeEventsRead    = "events:read"    // the event log
	ScopeManage        = "manage"         // the management API
)

// APIKeyScopes lists every scope, in the order the README documents them.
var APIKeyScopes = []string{ScopeDirectoryRead, ScopeEventsRead, ScopeManage}

// APIKeyPrefix starts every platform API key, so that secret scanners and people recognise a leaked
// one and tell it from a SCIM token (TokenPrefix alone).
const APIKeyPrefix = "scimsso_key_"

// ErrInvalidScope is wrapped by the errors of ParseScopes.
var ErrInvalidScope = errors.New("not a valid API key scope")

// ParseScopes is the rule for an API key's scopes: one or more of APIKeyScopes, each named once or
// more (repeats are dropped), given as a list of comma-separated lists ("directory:read,events:read").
// It returns them in APIKeyScopes' order, or an error wrapping ErrInvalidScope.
func ParseScopes(lists ...string) ([]string, error) {
	seen := map[string]bool{}
	for _, l := range lists {
		for _, s := range strings.Split(l, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(APIKeyScopes, s) {
				return nil, fmt.Errorf("%w %q: want %s", ErrInvalidScope, s, strings.Join(APIKeyScopes, ", "))
			}
			seen[s] = true
		}
	}
	var out []string
	for _, s := range APIKeyScopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none given; want one or more of %s", ErrInvalidScope, strings.Join(APIKeyScopes, ", "))
	}
	return out, nil
}

// APIKey is a key of the platform API (/api/v1), held by the platform's application, not by a
// tenant. Only the SHA-256 of the key is ever stored (NewSecret(APIKeyPrefix), HashSecret).
type APIKey struct {
	ID        string
	Name      string
	Scopes    []string // ParseScopes' result
	Hash      []byte
	CreatedAt time.Time
	RevokedAt time.Time // zero: live
}

// Live reports whether the key may be used: it has not been revoked. Keys do not expire; the operator
// revokes one that is no longer needed.
func (k *APIKey) Live() bool { return k.RevokedAt.IsZero() }

// Allows reports whether the key grants scope.
func (k *APIKey) Allows(scope string) bool { return slices.Contains(k.Scopes, scope) }

// APIKeyStore is the platform API keys' part of the Store.
type APIKeyStore interface {
	// CreateAPIKey stores k with a new ID and the store's time as its creation time. ErrAlreadyExists
	// if a key with that hash exists.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns the key whose hash is hash, revoked or not, or ErrNotFound.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListAPIKeys returns every key, revoked ones included, oldest first, without their hashes: nothing
	// that lists keys needs them.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey marks the key revoked at the store's time; it stops working at once, on every
	// replica. ErrNotFound unless the key exists and is not revoked yet.
	RevokeAPIKey(ctx context.Context, id string) error
}
