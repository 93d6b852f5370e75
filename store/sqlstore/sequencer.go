package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// PostgreSQL's event numbering. A sequence number taken at insert does not give readers what seq
// promises: two transactions insert events 5 and 6, 6 commits first, a reader lists it and moves its
// cursor past 6, and 5 appears after, behind the cursor, skipped for ever. Serialising the writers'
// last insert and commit under one lock would fix it at the cost of one commit (fsync) at a time for
// the whole cluster. Instead an event is inserted pending, its seq the negative of an insert number
// (events_pending, taken at insert, so insert order within a transaction and between transactions
// that wait for each other's row locks), which no cursor (>= 0) reaches. A sequencer then numbers the
// committed pending rows from events_seq, in insert order, in one statement, holding an advisory lock
// that makes it the only one numbering, on any replica; its numbers become visible at its commit, all
// at once, and every later run numbers above them. So a reader never sees a number appear below one
// it has seen. Writers never wait for each other or for the sequencer.
//
// Each Store on PostgreSQL runs a sequencer goroutine: woken after a local commit that wrote events
// (at once when it has not run for sequenceEvery, else at its next round), and every sequenceEvery,
// which also numbers what other replicas' writers committed (a replica may crash between its commit
// and waking its own). Readers (ListEvents, LastEventSeq) number what is committed and pending before
// they read, so a client reads its own writes. Numbering costs a second write of each row (the
// UPDATE) and a commit per run, off the request path: at most one run per sequenceEvery per replica
// under load, however many writes.

// sequencerLock is the advisory lock key held while numbering ("scimssoe"): a single key, beside the
// migration lock's.
const sequencerLock = migrationLock<<8 | 'e'

// sequenceEvery is how often the sequencer looks for pending events no local commit woke it for, and
// for events another replica numbered (to wake EventsWritten's reader).
const sequenceEvery = 20 * time.Millisecond

// sequenceBatch bounds the rows one numbering transaction updates.
const sequenceBatch = 10000

// sequencer numbers PostgreSQL's pending events.
type sequencer struct {
	db      *sql.DB
	written wakeup // EventsWritten's
	kick    wakeup // a local commit wrote events
	stop    context.CancelFunc
	done    chan struct{}
}

// start runs the sequencer's goroutine until stopAndWait.
func (q *sequencer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	q.stop, q.done = cancel, make(chan struct{})
	go q.run(ctx)
}

// stopAndWait stops the goroutine, if it runs, and waits for it to end.
func (q *sequencer) stopAndWait() {
	if q.stop != nil {
		q.stop()
		<-q.done
		q.stop = nil
	}
}

func (q *sequencer) run(ctx context.Context) {
	defer close(q.done)
	t := time.NewTicker(sequenceEvery)
	defer t.Stop()
	var seen int64
	var lastRun time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
			// Numbering commits, and a commit waits for the disk: under load, one run per tick numbers
			// what every commit of the tick wrote, rather than one run after each of them.
			if time.Since(lastRun) < sequenceEvery {
				continue
			}
		case <-t.C:
		}
		lastRun = time.Now()
		// Errors (the database away) are left to the next round: readers meet them in their own
		// queries, and nothing here is lost, only later.
		lo, hi, err := q.bounds(ctx)
		if err != nil {
			continue
		}
		if lo < 0 {
			last, err := q.number(ctx)
			if err != nil {
				continue
			}
			hi = max(hi, last)
		}
		if hi > seen {
			seen = hi
			q.written.notify()
		}
	}
}

// bounds returns the smallest and greatest seq (0 without events): a pending event makes lo negative,
// a newly numbered one raises hi. Both are one step into the primary key's index.
func (q *sequencer) bounds(ctx context.Context) (lo, hi int64, err error) {
	err = q.db.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events`).Scan(&lo, &hi)
	return lo, hi, mapErr(err)
}

// settle numbers the committed pending events, if there are any, before a read.
func (q *sequencer) settle(ctx context.Context) error {
	lo, _, err := q.bounds(ctx)
	if err != nil || lo >= 0 {
		return err
	}
	_, err = q.number(ctx)
	return err
}

// number numbers every committed pending event, a batch per transaction, and returns the last seq
// given (0 when none was).
func (q *sequencer) number(ctx context.Context) (int64, error) {
	var last int64
	for {
		n, l, err := q.numberBatch(ctx)
		if err != nil {
			return last, mapErr(err)
		}
		if n > 0 {
			last = l
		}
		if n < sequenceBatch {
			return last, nil
		}
	}
}

// numberBatch numbers up to sequenceBatch committed pending events in insert order, in one transaction
// under the sequencer lock: n numbered, the last being seq last. Each statement after the lock sees
// what committed before it (READ COMMITTED), so no row another sequencer numbered is numbered again.
// Numbers taken from events_seq by a run that then fails are never given: seq has gaps, never repeats.
func (q *sequencer) numberBatch(ctx context.Context) (n, last int64, err error) {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(sequencerLock)); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events WHERE seq < 0 LIMIT $1) p`, sequenceBatch).Scan(&n); err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, tx.Commit()
	}
	// n numbers at once: only the sequencer, under its lock, takes from events_seq.
	if err := tx.QueryRowContext(ctx, `SELECT setval('events_seq', nextval('events_seq') + $1 - 1)`, n).Scan(&last); err != nil {
		return 0, 0, err
	}
	// The first n pending rows in insert order (the least negative first) get last-n+1 … last. More may
	// have committed since the count; the LIMIT takes n of them, still in insert order.
	if _, err := tx.ExecContext(ctx, `UPDATE events SET seq = $1 + p.r FROM (
			SELECT seq AS pending, row_number() OVER (ORDER BY seq DESC) AS r FROM events WHERE seq < 0 ORDER BY seq DESC LIMIT $2
		) p WHERE events.seq = p.pending`, last-n, n); err != nil {
		return 0, 0, err
	}
	return n, last, tx.Commit()
}
