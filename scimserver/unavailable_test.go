package scimserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// An unreachable database is a 503 for every write, which Okta and Entra retry: the server's own error
// renderer answers it (elimity's resource handlers turned it into a 500, as their per-method status
// table has no 503), and the refusal is audited like every other.
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
			if m := res.json(t); m["status"] != "503" || !strings.Contains(fmt.Sprint(m["detail"]), "briefly unavailable") {
				t.Errorf("body %s: want scimsso's SCIM error document with status \"503\"", res.body)
			}
			if h.snapshot() != before {
				t.Error("a refused write changed the store")
			}
			audit, err := h.st.ListAudit(context.Background(), h.acme.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if last := audit[len(audit)-1]; last.Operation != map[string]string{"POST": "create", "PATCH": "patch", "PUT": "replace"}[tt.method] || last.Outcome != "503" {
				t.Errorf("last audit entry %+v, want the refused %s with outcome 503", last, tt.name)
			}
		})
	}
}
