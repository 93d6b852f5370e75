package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps SQLite's prepared statements by their SQL: SQLite's prepare costs as much as running
// a simple statement, and every hot query has a fixed text. The cache is bounded because filter
// queries are built from client input. (PostgreSQL needs none: pgx caches statements per connection.)
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxCachedStmts = 256

// get returns the statement for q, preparing it with prepare on a miss; cached is false when the cache
// is full and the caller must close the statement.
func (c *stmtCache) get(ctx context.Context, prepare func(context.Context, string) (*sql.Stmt, error), q string) (st *sql.Stmt, cached bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, true, nil
	}
	st, err = prepare(ctx, q)
	if err != nil {
		return nil, false, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	if len(c.m) >= maxCachedStmts {
		return st, false, nil
	}
	c.m[q] = st
	return st, true, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}
