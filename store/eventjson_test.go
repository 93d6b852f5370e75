package store

import (
	"encoding/json"
	"testing"
	"time"
)

// marshalEvent is EventJSON by json.Marshal alone, what its hand-written path must equal.
func marshalEvent(e Event) ([]byte, error) {
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return json.Marshal(eventJSON{ID: e.ID, Seq: e.Seq, Type: e.Type, Tenant: e.Tenant, OccurredAt: e.OccurredAt.UTC(), Data: data})
}

// FuzzEventJSON: EventJSON gives the bytes json.Marshal gives (or fails where it fails), whatever the
// event's strings and data.
func FuzzEventJSON(f *testing.F) {
	for _, s := range []struct{ id, typ, tenant, data string }{
		{"3f1c2a4e-0000-4000-8000-000000000001", "user.created", "acme", `{"id":"u1","userName":"ada@acme.com","active":true,"emails":["ada@acme.com"]}`},
		{"ev1", "user.updated", "acme", `{"id":"u1", "active": false}`},
		{"ev1", "user.updated", "acme", ``},
		{"ev1", "user.updated", "a<b", `{"name":"Zoë"}`},
		{"ev1", "user.updated", "acme", `{"x":"<script>\u2028"}`},
		{"ev1", "user.updated", "acme", `{"x":"a\"b\\"}`},
		{"ev1", "user.updated", "acme", "[1,2,\n3]"},
		{"ev1", "user.updated", "acme", `{"id":`},
		{"ev1", "user.updated", "acme", `"s"`},
		{"e\"v", "t\\", "\x01", `{}`},
	} {
		f.Add(s.id, s.typ, s.tenant, []byte(s.data), int64(42), int64(1_795_000_000_123_456_000))
	}
	f.Fuzz(func(t *testing.T, id, typ, tenant string, data []byte, seq, nanos int64) {
		e := Event{ID: id, Seq: seq, Type: typ, Tenant: tenant, OccurredAt: time.Unix(0, nanos), Data: data}
		want, werr := marshalEvent(e)
		got, err := EventJSON(e)
		if (err != nil) != (werr != nil) || string(got) != string(want) {
			t.Fatalf("EventJSON = %s, %v\njson.Marshal: %s, %v", got, err, want, werr)
		}
	})
}

var benchEvent = Event{ID: "3f1c2a4e-9b1d-4c55-8e0a-2f6a9d1b7c31", Seq: 123456, Type: EventUserCreated, Tenant: "acme",
	OccurredAt: time.Date(2026, 12, 3, 17, 0, 0, 123456000, time.UTC),
	Data:       []byte(`{"id":"0b9f1d5e-6a0c-4c1e-9d57-3b8f0e2a4c61","tenant":"acme","userName":"ada.lovelace@example.com","externalId":"00u1a2b3c4d5e6f7g8h9","active":true,"name":{"givenName":"Ada","familyName":"Lovelace","formatted":"Ada Lovelace"},"displayName":"Ada Lovelace","emails":[{"value":"ada.lovelace@example.com","primary":true}],"groups":[],"source":"scim","createdAt":"2026-12-03T17:00:00.123456Z","updatedAt":"2026-12-03T17:00:00.123456Z"}`)}

// BenchmarkEventJSON: a user's event, as every delivery and events API page makes it, against
// json.Marshal (the way before).
func BenchmarkEventJSON(b *testing.B) {
	b.Run("EventJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := EventJSON(benchEvent); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := marshalEvent(benchEvent); err != nil {
				b.Fatal(err)
			}
		}
	})
}
