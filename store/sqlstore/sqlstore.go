// Package sqlstore implements store.Store on database/sql: SQLite (mattn/go-sqlite3) is the embedded
// default, PostgreSQL (jackc/pgx/v5) serves several replicas. Both run the same SQL, written once in
// SQLite's spelling, and the same transactions; a dialect value holds what differs.
//
// The files, by concern:
//
//	sqlstore.go    the Store, its helpers shared by every method, Ping and Close
//	dialect.go     the dialect interface, write transactions (wtx) and the read helpers (row, each)
//	sqlite.go      opening SQLite: pools, pragmas, the SQLite dialect
//	stmtcache.go   SQLite's prepared statement cache
//	groupcommit.go SQLite's one write connection and group commit
//	checkpoint.go  SQLite's background WAL checkpoints
//	qpsg.go        SQLite's query planner stability guarantee (cgo)
//	files.go       the SQLite file's permissions
//	postgres.go    opening PostgreSQL: the pool, placeholders, row and advisory locks
//	migrate.go     the embedded migrations and the one runner for both dialects
//	errors.go      driver errors to store sentinels, for both drivers
//	events.go      the event log: recording events in their change's transaction, listing, retention
//	sequencer.go   PostgreSQL's numbering of committed events
//
// and one file per group of store.Store methods (tenants.go, users.go, sessions.go, sso.go…).
//
// Events are written by the store methods that make the changes, inside the same write transaction.
// Their seq promises a reader following by cursor that no event appears behind it. SQLite's one
// writer numbers rows in commit order at insert. PostgreSQL's writers commit in another order than
// they insert, so events go to a queue and a sequencer moves them into the log, numbered, once
// committed, one sequencer at a time across replicas (an advisory lock), without making writers wait
// for each other: the other way, a lock held from the last event insert through the commit, would put
// every event-writing commit of the cluster, fsync included, in one line.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scimsso/scimsso/internal/sealing"
	"github.com/scimsso/scimsso/store"
)

// Store is a store.Store on SQLite (Open) or PostgreSQL (OpenPostgres). It is safe for concurrent use.
type Store struct {
	db   dialect
	now  func() time.Time
	keys *sealing.Keyring
	// slugs caches tenant id → slug for the events, which name tenants by slug: a slug never changes
	// and a tenant is never deleted, so an entry never goes stale.
	slugs sync.Map
	// written is EventsWritten's channel; the dialect sends on it.
	written wakeup
}

var _ store.Store = (*Store)(nil)

// write runs fn as one transaction: it applies whole or not at all, and write returns only after it is
// committed, with fn's error or the commit's mapped by mapErr. now is the transaction's time. A
// transaction that recorded events tells the dialect once it is committed.
func (s *Store) write(ctx context.Context, fn func(tx *wtx, now time.Time) error) error {
	recorded := false
	err := s.db.write(ctx, func(tx *wtx, now time.Time) error {
		n := tx.events
		err := fn(tx, now)
		recorded = tx.events > n
		return err
	})
	if err == nil && recorded {
		s.db.eventsCommitted()
	}
	return err
}

// row runs a one-row query on the read pool. Point reads are not cancellable: the driver starts a
// goroutine per query to watch a cancellable context, which cost more than the indexed lookup itself.
func (s *Store) row(ctx context.Context, q string, args ...any) row {
	ctx = context.WithoutCancel(ctx)
	// row, query and wtx's exec and row call the known dialects by their type, not through the
	// interface: the compiler then sees that args does not escape and keeps it on the caller's stack,
	// where a call through the interface cost an allocation per statement.
	switch d := s.db.(type) {
	case *sqlite:
		return row{d.queryRow(ctx, q, args)}
	case *postgres:
		return row{d.queryRow(ctx, q, args)}
	}
	return row{s.db.queryRow(ctx, q, slices.Clone(args))} // a dialect without a case above
}

// query runs q on the read pool; the caller closes the rows and maps the errors.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	switch d := s.db.(type) {
	case *sqlite:
		return d.query(ctx, q, args)
	case *postgres:
		return d.query(ctx, q, args)
	}
	return s.db.query(ctx, q, slices.Clone(args))
}

// forUpdate is the clause that locks the rows a write transaction reads before it changes them.
func (s *Store) forUpdate() string { return s.db.forUpdate() }

// forNoKeyUpdate locks a row against other writers of it, but not against inserts that reference it
// (which take FOR KEY SHARE): a parent row locked with FOR UPDATE would make every insert of a child
// row wait, and two transactions each holding a row the other's insert references would deadlock.
func (s *Store) forNoKeyUpdate() string {
	if s.db.forUpdate() == "" {
		return ""
	}
	return " FOR NO KEY UPDATE"
}

// forShare locks the rows a write transaction reads against their deletion or change until it ends,
// while others may read and share-lock them too (PostgreSQL; "" on SQLite, whose one writer already
// keeps them as read).
func (s *Store) forShare() string {
	if s.db.forUpdate() == "" {
		return ""
	}
	return " FOR SHARE"
}

// Ping reports whether the store reaches its database and the schema is there.
func (s *Store) Ping(ctx context.Context) error {
	r := s.db.pool()
	if err := r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", mapErr(err))
	}
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", mapErr(err))
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() error { return s.db.close() }

// txNow in the arguments of writeOne stands for the transaction's time, in Unix microseconds.
type txNow struct{}

// Whether writeOne's statement must touch a row.
const (
	anyRows = false
	oneRow  = true // no row touched: ErrNotFound
)

// writeOne runs one statement as its own transaction, the shape of most single-row writes. what names
// the operation in the error.
func (s *Store) writeOne(ctx context.Context, what string, must bool, q string, args ...any) error {
	err := s.write(ctx, func(tx *wtx, now time.Time) error {
		a := append([]any(nil), args...)
		for i := range a {
			if _, ok := a[i].(txNow); ok {
				a[i] = micros(now)
			}
		}
		res, err := tx.exec(ctx, q, a...)
		if must {
			return affected(res, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return nil
}

// affected turns an UPDATE or DELETE that touched no row into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// errClosed is the error of a write to a closed store.
var errClosed = errors.New("sqlstore: store is closed")

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// storable reports whether s can be a stored text value: PostgreSQL refuses invalid UTF-8 and NUL
// bytes with an error, where SQLite finds no row. A key taken from a URL (a user id) that is not
// storable names nothing, on both.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }
