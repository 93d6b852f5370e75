package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// eventJSON is the one JSON form of an event: the events API lists it, and a webhook's body is it.
type eventJSON struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	Tenant     string          `json:"tenant"` // the slug
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// EventJSON is e as the platform sees it, the same bytes in the events API (GET /api/v1/events lists
// them in its data array) and in a webhook delivery (the signed body):
//
//	{"id":"…","seq":42,"type":"user.updated","tenant":"acme","occurred_at":"2026-11-23T09:00:00.123456Z","data":{…}}
//
// occurred_at is RFC 3339 in UTC; data is e.Data, compacted. It fails only when e.Data is not one
// JSON value, which the store never writes.
func EventJSON(e Event) ([]byte, error) {
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, err := json.Marshal(eventJSON{ID: e.ID, Seq: e.Seq, Type: e.Type, Tenant: e.Tenant, OccurredAt: e.OccurredAt.UTC(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("store: event %s (seq %d) as JSON: %w", e.ID, e.Seq, err)
	}
	return b, nil
}
