package storetest

import (
	"context"
	"testing"

	"github.com/scimsso/scimsso/store"
)

// testUnstorableIDs: an id PostgreSQL cannot hold as text (a NUL byte, invalid UTF-8), as a path of
// the management API may carry, names nothing on both dialects: ErrNotFound (or nothing listed),
// never a database error.
func testUnstorableIDs(t *testing.T, s store.Store, _ *Clock) {
	ctx := context.Background()
	tn := mustTenant(t, s, "acme", "acme.com")
	for _, id := range []string{"\x00", "a\x00b", "\xff", "\xc3("} {
		wantErr(t, "RevokeToken", s.RevokeToken(ctx, tn.ID, id), store.ErrNotFound)
		_, err := s.OIDCClient(ctx, id)
		wantErr(t, "OIDCClient", err, store.ErrNotFound)
		wantErr(t, "DeleteOIDCClient", s.DeleteOIDCClient(ctx, id), store.ErrNotFound)
		_, err = s.Webhook(ctx, id)
		wantErr(t, "Webhook", err, store.ErrNotFound)
		wantErr(t, "DeleteWebhook", s.DeleteWebhook(ctx, id), store.ErrNotFound)
		_, err = s.DeliveryOf(ctx, id, id)
		wantErr(t, "DeliveryOf", err, store.ErrNotFound)
		if ds, err := s.ListDeliveries(ctx, id, "", 10); err != nil || len(ds) != 0 {
			t.Fatalf("ListDeliveries(%q) = %v, %v; want none", id, ds, err)
		}
	}
}
