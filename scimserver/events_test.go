package scimserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// TestWritesRecordEvents: every SCIM write records the events of what it changed, in the store's
// transaction, each with the user as it is after the request; a refused or empty change records none.
func TestWritesRecordEvents(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	seq := func() int64 {
		n, err := h.st.LastEventSeq(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := seq()
	id := h.create("ana@example.com", "ext-ana")
	sum := sha256.Sum256([]byte("ana's browser"))
	// A live session (the store's clock is time.Now): one past its expiry would end by timeout.
	ss := &store.Session{IDHash: sum[:], TenantID: h.acme.ID, UserID: id, ExpiresAt: time.Now().Add(time.Hour)}
	if err := h.st.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, h, before, id, store.EventUserCreated, store.EventSessionStarted)

	steps := []struct {
		name   string
		method string
		body   any
		status int
		want   []string
	}{
		{"PATCH an email added", "PATCH", patch(map[string]any{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "ana.home@example.com", "type": "home"}}}), 200,
			[]string{store.EventUserUpdated}},
		{"PATCH active as it is", "PATCH", patch(map[string]any{"op": "replace", "path": "active", "value": true}), 200, nil},
		{"PATCH userName and the primary email", "PATCH", patch(
			map[string]any{"op": "replace", "path": "userName", "value": "ana.b@example.com"},
			map[string]any{"op": "replace", "path": "emails[primary eq true].value", "value": "ana.b@example.com"}), 200,
			[]string{store.EventUserEmailChanged}},
		{"a refused PATCH", "PATCH", patch(map[string]any{"op": "remove", "path": "active"}), 400, nil},
		{"PATCH active false and an email removed", "PATCH", patch(
			map[string]any{"op": "replace", "path": "active", "value": false},
			map[string]any{"op": "remove", "path": `emails[type eq "home"]`}), 200,
			[]string{store.EventUserUpdated, store.EventUserDeactivated, store.EventSessionEnded}},
		{"PUT active again", "PUT", oktaUser("ana.b@example.com", "ext-ana"), 200, []string{store.EventUserReactivated}},
		{"DELETE", "DELETE", nil, 405, nil},
	}
	for _, s := range steps {
		before := seq()
		wantStatus(t, s.name, h.do(s.method, "/Users/"+id, s.body), s.status)
		es := wantEvents(t, h, before, id, s.want...)
		for _, e := range es {
			if e.Type == store.EventSessionEnded {
				var o store.SessionObject
				if err := json.Unmarshal(e.Data, &o); err != nil || o.Reason != store.EndDeactivated || o.ID != store.SessionID(sum[:]) {
					t.Fatalf("%s: session.ended %s", s.name, e.Data)
				}
				continue
			}
			u, err := h.st.UserByID(ctx, h.acme.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(store.NewUserObject(u, "acme"))
			if string(e.Data) != string(want) {
				t.Fatalf("%s: %s data\n got  %s\n want %s", s.name, e.Type, e.Data, want)
			}
		}
	}
}

// wantEvents checks the types of the events after seq, every one about user id of acme.
func wantEvents(t *testing.T, h *harness, after int64, id string, types ...string) []store.Event {
	t.Helper()
	es, err := h.st.ListEvents(context.Background(), store.EventQuery{After: after, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Subject != id || e.Tenant != "acme" {
			t.Fatalf("event %s about %s of %s", e.Type, e.Subject, e.Tenant)
		}
		got = append(got, e.Type)
	}
	if fmt.Sprint(got) != fmt.Sprint(types) {
		t.Fatalf("events %v, want %v", got, types)
	}
	return es
}
