package scimserver_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// downStore is a store whose database goes away for writes once down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

var errDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

func (d *downStore) CreateUser(ctx context.Context, tenantID string, u *store.User, a store.Audit) error {
	if d.down.Load() {
		return errDown
	}
	return d.Store.CreateUser(ctx, tenantID, u, a)
}

func (d *downStore) UpdateUser(ctx context.Context, tenantID, id string, v int64, a store.Audit, fn func(*store.User) error) (*store.User, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Store.UpdateUser(ctx, tenantID, id, v, a, fn)
}

// An unreachable database is a 503 for every write, never the 500 the SCIM library makes of a 503
// returned by a resource handler (its per-method status table has no 503).
func TestUnavailableStoreIs503(t *testing.T) {
	ds := &downStore{}
	h := newHarnessWith(t, harnessOptions{wrap: func(s store.Store) store.Store { ds.Store = s; return ds }})
	id := h.create("alice@example.com", "00u1")
	before := h.snapshot()
	ds.down.Store(true) // reads and the bearer check still work; writes do not
	for _, tt := range []struct {
		name, method, path string
		body               any
	}{
		{"create", "POST", "/Users", oktaUser("carol@example.com", "00u3")},
		{"patch", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"put", "PUT", "/Users/" + id, oktaUser("alice@example.com", "00u1")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do(tt.method, tt.path, tt.body)
			if res.status != http.StatusServiceUnavailable {
				t.Fatalf("%s with the store down: %d, want 503\n%s", tt.name, res.status, res.body)
			}
			if m := res.json(t); m["status"] != "503" || m["detail"] == "" {
				t.Errorf("body %s: want a SCIM error document with status \"503\"", res.body)
			}
			if h.snapshot() != before {
				t.Error("a refused write changed the store")
			}
		})
	}
}
