package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// TestEventJSON: the one JSON form of an event, byte for byte, since webhooks sign these bytes.
func TestEventJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		name string
		data string
		want string
	}{
		{"user", `{"id":"u1", "active": false}`,
			`{"id":"ev1","seq":42,"type":"user.deactivated","tenant":"acme","occurred_at":"2026-11-23T09:00:00.123456Z","data":{"id":"u1","active":false}}`},
		{"no data", ``,
			`{"id":"ev1","seq":42,"type":"user.deactivated","tenant":"acme","occurred_at":"2026-11-23T09:00:00.123456Z","data":null}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := store.Event{ID: "ev1", Seq: 42, Type: store.EventUserDeactivated, TenantID: "t1", Tenant: "acme", Subject: "u1",
				OccurredAt: at, Data: []byte(tt.data)}
			got, err := store.EventJSON(e)
			if err != nil || string(got) != tt.want {
				t.Fatalf("EventJSON = %s, %v\nwant %s", got, err, tt.want)
			}
			if !json.Valid(got) {
				t.Fatal("not JSON")
			}
		})
	}
	if _, err := store.EventJSON(store.Event{ID: "ev2", Data: []byte(`{"id":`)}); err == nil || !strings.Contains(err.Error(), "ev2") {
		t.Fatalf("EventJSON of data that is not JSON: %v, want an error naming the event", err)
	}
}

// TestParseScopes: the scopes of an API key, from the CLI's --scope lists.
func TestParseScopes(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []string // nil: refused
	}{
		{[]string{"directory:read"}, []string{"directory:read"}},
		{[]string{"events:read,directory:read"}, []string{"directory:read", "events:read"}},
		{[]string{"manage", " events:read , manage"}, []string{"events:read", "manage"}},
		{[]string{""}, nil},
		{nil, nil},
		{[]string{"directory:read,"}, nil},
		{[]string{"directory:write"}, nil},
		{[]string{"Manage"}, nil},
		{[]string{"*"}, nil},
	} {
		got, err := store.ParseScopes(tt.in...)
		switch {
		case tt.want == nil && (err == nil || !errors.Is(err, store.ErrInvalidScope)):
			t.Errorf("ParseScopes(%q) = %v, %v; want ErrInvalidScope", tt.in, got, err)
		case tt.want != nil && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("ParseScopes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestParseEventTypes: the one rule for event type lists (?types=, webhook add --types).
func TestParseEventTypes(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []string
		bad  string // part of the refusal
	}{
		{in: nil},
		{in: []string{"user.created"}, want: []string{"user.created"}},
		{in: []string{"session.ended, user.created", "session.ended"}, want: []string{"session.ended", "user.created"}},
		{in: []string{"user.created,"}, bad: `unknown event type ""`},
		{in: []string{""}, bad: `unknown event type ""`},
		{in: []string{"user.created", "user.*"}, bad: `unknown event type "user.*"; the types are user.created,`},
		{in: []string{"User.Created"}, bad: `"User.Created"`},
		{in: []string{strings.Repeat("x", 100)}, bad: `"` + strings.Repeat("x", 64) + `…"`},
	} {
		got, err := store.ParseEventTypes(tt.in...)
		switch {
		case tt.bad == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("ParseEventTypes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.bad != "" && (!errors.Is(err, store.ErrUnknownEventType) || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("ParseEventTypes(%q) = %v, %v; want ErrUnknownEventType saying %q", tt.in, got, err, tt.bad)
		}
	}
}

// TestAPIKeyPrefix: an API key is told from a SCIM token by its shape alone.
func TestAPIKeyPrefix(t *testing.T) {
	key, _, err := store.NewSecret(store.APIKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := store.NewSecret(store.TokenPrefix)
	if !store.IsSecret(store.APIKeyPrefix, key) || store.IsSecret(store.TokenPrefix, key) || store.IsSecret(store.APIKeyPrefix, tok) {
		t.Fatalf("API key %q and SCIM token %q are not told apart", key, tok)
	}
}
