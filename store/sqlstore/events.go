package sqlstore

import (
	"context"
	"errors"

	"github.com/scimsso/scimsso/store"
)

// ListEvents implements store.EventStore.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	return nil, errors.New("sqlstore: events: not implemented yet")
}

// LastEventSeq implements store.EventStore.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	return 0, errors.New("sqlstore: events: not implemented yet")
}
