package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"time"

	"github.com/mattn/go-sqlite3"
)

// SQLite has one writer. Writes queue for the store's one write connection instead of SQLite's lock,
// so none fails with "database is locked", and whoever holds the connection commits everything queued
// behind it in one SQLite transaction, each in its own savepoint (group commit): under concurrent load
// that pays BEGIN/COMMIT and the WAL writes once per batch instead of once per request.

// pendingWrite is a transaction waiting for the write connection.
type pendingWrite struct {
	ctx  context.Context
	fn   func(tx *wtx, now time.Time) error
	err  error
	done chan struct{}
}

// maxBatch bounds how many queued transactions commit together.
const maxBatch = 64

// write runs fn as one transaction: it applies whole or not at all, and write returns only after it
// is committed, possibly in a batch with others.
func (l *sqlite) write(ctx context.Context, fn func(tx *wtx, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pendingWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	l.qmu.Lock()
	l.queue = append(l.queue, p)
	l.qmu.Unlock()
	l.gather()

	for {
		select {
		case <-p.done: // the holder committed it in its batch
			return p.err
		case l.wtok <- struct{}{}:
		}
		select {
		case <-p.done: // committed by the holder before
			l.unlockW()
			return p.err
		default:
		}
		// The batch is the oldest queued transactions; ours may be behind them, so go round again until
		// it is done rather than wait for another writer to come along.
		l.qmu.Lock()
		n := min(len(l.queue), maxBatch)
		batch := l.queue[:n:n]
		l.queue = append([]*pendingWrite(nil), l.queue[n:]...)
		l.qmu.Unlock()
		l.runBatch(batch)
		l.unlockW()
	}
}

// gather yields, after queueing a write and before taking the write connection, to the goroutines that
// can run, a few times at most while that brings more writes in: requests already running (reading,
// authenticating, decoding their bodies) queue their writes, and whoever takes the connection commits
// them in one batch rather than one by one. Under SCIM load batches grew from 1.3 writes to 4 and the
// WAL frames per create fell by a third. It never runs holding the connection: on a busy CPU each
// yield is a scheduling round, which only the yielding writer waits for (found in review: yielding
// while holding it stalled every writer behind a burst of password checks).
func (l *sqlite) gather() {
	n := -1
	for range gatherYields {
		runtime.Gosched()
		l.qmu.Lock()
		m := len(l.queue)
		l.qmu.Unlock()
		if m == n || m >= maxBatch {
			return
		}
		n = m
	}
}

// gatherYields bounds the yields of one write's gather.
const gatherYields = 4

// lockW takes the write connection; unlockW gives it back.
func (l *sqlite) lockW()   { l.wtok <- struct{}{} }
func (l *sqlite) unlockW() { <-l.wtok }

// runBatch commits the batch in one transaction; it is called holding the write connection (wtok).
func (l *sqlite) runBatch(batch []*pendingWrite) {
	finish := func(err error) {
		for _, p := range batch {
			if err != nil && p.err == nil {
				p.err = err
			}
			close(p.done)
		}
	}
	if l.wconn == nil {
		finish(errClosed)
		return
	}
	// Once begun, the transaction commits or rolls back as a whole: a request cancelled half-way
	// must not cut its statements off.
	bg := context.Background()
	tx := &wtx{c: liteTx{l}}
	exec := func(q string) error { _, err := tx.exec(bg, q); return err }
	if err := l.begin(exec); err != nil {
		finish(mapErr(err))
		return
	}
	now := l.now()
	ok := 0
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = err
			continue
		}
		single := len(batch) == 1
		if !single {
			if err := exec("SAVEPOINT w"); err != nil {
				p.err = mapErr(err)
				continue
			}
		}
		err := p.fn(tx, now)
		switch {
		case err != nil && single:
			p.err = mapErr(err)
		case err != nil:
			p.err = mapErr(err)
			if rerr := exec("ROLLBACK TO w"); rerr != nil {
				exec("ROLLBACK")
				finish(errors.Join(p.err, rerr))
				return
			}
			exec("RELEASE w")
		default:
			if !single {
				if err := exec("RELEASE w"); err != nil {
					exec("ROLLBACK")
					finish(mapErr(err))
					return
				}
			}
			ok++
		}
	}
	if ok == 0 {
		if err := exec("ROLLBACK"); err != nil {
			finish(mapErr(err))
			return
		}
		finish(nil)
		return
	}
	if err := exec("COMMIT"); err != nil {
		exec("ROLLBACK")
		finish(mapErr(err))
		return
	}
	finish(nil)
}

// liteTx runs a write transaction's statements on the write connection, where statements are prepared
// once and reused by every transaction after. Only the holder of the connection (wtok) uses it.
type liteTx struct{ l *sqlite }

func (t liteTx) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	st, cached, err := t.l.wStmts.get(ctx, t.l.wconn.PrepareContext, q)
	if err != nil {
		return nil, err
	}
	if !cached {
		defer st.Close()
	}
	return st.ExecContext(ctx, args...)
}

func (t liteTx) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	st, cached, err := t.l.wStmts.get(ctx, t.l.wconn.PrepareContext, q)
	if err != nil || !cached {
		// A statement prepared on the connection is finalized by Close at once, open rows or not: an
		// uncached one is left to database/sql, which closes it with its rows.
		if st != nil {
			st.Close()
		}
		return t.l.wconn.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (t liteTx) queryRow(ctx context.Context, q string, args []any) *sql.Row {
	st, cached, err := t.l.wStmts.get(ctx, t.l.wconn.PrepareContext, q)
	if err != nil {
		return t.l.wconn.QueryRowContext(ctx, q, args...)
	}
	if !cached {
		defer st.Close()
	}
	return st.QueryRowContext(ctx, args...)
}

// begin starts the batch's write transaction, waiting for the write lock another process holds (a
// second serve on the file, the CLI, their checkpoints) in steps of its own, 50 µs doubling to 1 ms.
// SQLite's busy handler sleeps 1, 2, 5, 10 ms and on between tries, so against a process whose
// writer is seldom idle a writer lost the lock again and again: a serve delivering beside one that
// served SCIM (serve --deliver=false) on the same file fell 1.0-1.75 s behind (webhook lag p99,
// `BASE=… PIN=1 SPLIT=1 cmd/scimload/webhooks.sh`), against 0.25-0.35 s with these steps. The write
// connection runs with busy_timeout 0 once migrated; every other connection keeps SQLite's handler.
func (l *sqlite) begin(exec func(string) error) error {
	var err error
	waitInSteps(l.lockWait, time.Millisecond, func() bool {
		err = exec("BEGIN IMMEDIATE")
		var se sqlite3.Error
		return err != nil && errors.As(err, &se) && se.Code == sqlite3.ErrBusy
	})
	return err
}

// writeLockWait is how long a batch waits for another process's write lock (sqlite.lockWait): the
// busy_timeout the other connections have. Past it the batch fails with store.ErrUnavailable.
const writeLockWait = 10 * time.Second
