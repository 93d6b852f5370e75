package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"
)

// dialect is what differs between SQLite and PostgreSQL. The SQL is written once, in SQLite's spelling
// with ? placeholders; a dialect runs it: SQLite through prepared statements on one write connection
// with group commit and a read pool, PostgreSQL with $n placeholders on a connection pool, with row
// locks for read-modify-write transactions and advisory locks for counted limits. A Store holds one,
// chosen when it is opened; nothing else asks which it is.
type dialect interface {
	// name is the dialect's migrations directory: "sqlite" or "postgres".
	name() string
	// queryRow runs a one-row query on the read pool.
	queryRow(ctx context.Context, q string, args []any) *sql.Row
	// query runs q on the read pool; the caller closes the rows.
	query(ctx context.Context, q string, args []any) (*sql.Rows, error)
	// write runs fn as one transaction that applies whole or not at all, and returns once it is
	// committed, with fn's or the commit's error mapped. fn's statements run on tx.
	write(ctx context.Context, fn func(tx *wtx, now time.Time) error) error
	// forUpdate is the clause that locks the rows a write transaction reads before it changes them:
	// " FOR UPDATE" on PostgreSQL; nothing on SQLite, whose one writer runs transactions one at a time.
	forUpdate() string
	// lockKeys takes, until tx ends, a lock per key of the class, so transactions that count rows under
	// the same keys (limits) run one after the other; SQLite's one writer needs none.
	lockKeys(ctx context.Context, tx *wtx, class int32, keys []string) error
	// migrationConn returns the connection migrations run on, held so that no other migrating
	// process (replica) applies one at the same time, and the function that lets it go.
	migrationConn(ctx context.Context) (*sql.Conn, func(), error)
	// eventsCommitted is told after a write that recorded events has committed: SQLite's are visible
	// (numbered in commit order), so it wakes EventsWritten's readers; PostgreSQL's are numbered once
	// committed, so it wakes its sequencer, which wakes them after.
	eventsCommitted()
	// eventInsert is the statement that records an event (events.go): insertEvent on SQLite, which
	// numbers it at insert; insertPendingEvent on PostgreSQL, whose sequencer numbers it once
	// committed.
	eventInsert() string
	// settleEvents makes every event committed before the call visible to ListEvents: nothing to do on
	// SQLite; on PostgreSQL the committed events pending at the call are numbered, so a reader sees
	// its own writes, within readerWait (then the read goes on without them, and no error).
	settleEvents(ctx context.Context) error
	// followEvents makes EventsWritten notice events other processes commit too: on SQLite it starts
	// eventwatch.go's look; PostgreSQL's sequencer does that already.
	followEvents()
	// bind turns a query's ? placeholders into the dialect's.
	bind(q string) string
	// pool is the read pool, for Ping.
	pool() *sql.DB
	// close closes every connection; writes after it fail.
	close() error
}

// txConn runs the statements of a write transaction for wtx, in the dialect's way.
type txConn interface {
	exec(ctx context.Context, q string, args []any) (sql.Result, error)
	queryRow(ctx context.Context, q string, args []any) *sql.Row
	query(ctx context.Context, q string, args []any) (*sql.Rows, error)
}

// wtx is a write transaction, handed to the functions write runs. events counts the events recorded
// on it (SQLite's batch shares one wtx: Store.write compares the count before and after its fn).
type wtx struct {
	c      txConn
	events int
}

// exec and row run statements of a transaction that others may share (group commit on SQLite): a
// cancelled request must not interrupt them, as SQLite would then roll back the whole batch, so the
// request's context is only checked before its transaction starts.
// Like Store.row, they call the known dialects by their type, so args stays on the caller's stack.
func (t *wtx) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	ctx = context.WithoutCancel(ctx)
	switch c := t.c.(type) {
	case liteTx:
		res, err = c.exec(ctx, q, args)
	case *pgTx:
		res, err = c.exec(ctx, q, args)
	default:
		res, err = t.c.exec(ctx, q, slices.Clone(args)) // a dialect without a case above
	}
	return res, mapErr(err)
}

func (t *wtx) row(ctx context.Context, q string, args ...any) row {
	ctx = context.WithoutCancel(ctx)
	switch c := t.c.(type) {
	case liteTx:
		return row{c.queryRow(ctx, q, args)}
	case *pgTx:
		return row{c.queryRow(ctx, q, args)}
	}
	return row{t.c.queryRow(ctx, q, slices.Clone(args))}
}

// each runs q in the transaction and calls scan with every row until scan fails, like Store.each. The
// rows are read to the end before it returns: a transaction runs one statement at a time, so the
// statements that act on what q returned come after.
func (t *wtx) each(ctx context.Context, q string, args []any, scan func(scanner) error) error {
	rows, err := t.c.query(context.WithoutCancel(ctx), q, args)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(rows.Err())
}

// Every read and write of the store goes through row, each and wtx.exec, which hand back driver errors
// mapped by mapErr: so a connection lost during a list, found only when its rows are read
// (rows.Err), is store.ErrUnavailable like any other, and no method can forget to map it.

// scanner is a row to read: a row, or the current row of each.
type scanner interface{ Scan(dest ...any) error }

// row is the result of a one-row query.
type row struct{ r *sql.Row }

// Scan copies the row's columns into dest: store.ErrNotFound when there is no row, other errors mapped.
func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

// each runs q on the read pool and calls scan with every row until scan fails. The errors of the
// query, of scan and of the iteration come back mapped.
func (s *Store) each(ctx context.Context, q string, args []any, scan func(scanner) error) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(rows.Err())
}
