package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// PostgreSQL's event numbering. A sequence number taken at insert does not give readers what seq
// promises: two transactions insert events 5 and 6, 6 commits first, a reader lists it and moves its
// cursor past 6, and 5 appears after, behind the cursor, skipped for ever. Serialising the writers'
// last insert and commit under one lock would fix it at the cost of one commit (fsync) at a time for
// the whole cluster. Instead an event is written to a queue, events_pending, where n is its insert
// number (insert order within a transaction and between transactions that wait for each other's row
// locks), and no reader looks. A sequencer moves the committed ones into events, in insert order, in
// one statement (DELETE … RETURNING into INSERT), numbering them on from the greatest seq there,
// holding an advisory lock that makes it the only one numbering, on any replica; its numbers become
// visible at its commit, all at once, and every later run numbers above them. So a reader never sees
// a number appear below one it has seen. Writers never wait for each other or for the sequencer.
//
// events only grows at its right edge and no row of it is updated: its index keeps no dead entries
// where readers and the sequencer look (numbering in place, from a negative seq to a positive one,
// left one per event for the sequencer's every look to walk until vacuum: 6M of them took 40 ms a
// look, two looks' time). The queue's dead entries are those of the last moves: the sequencer
// vacuums it within vacuumEvery after it numbered, autovacuum behind it (its settings in 0008).
//
// Each Store on PostgreSQL runs a sequencer goroutine: woken after a local commit that wrote events
// (at once when it has not run for sequenceEvery, else at its next round), and every sequenceEvery,
// which also numbers what other replicas' writers committed (a replica may crash between its commit
// and waking its own). Readers (ListEvents, LastEventSeq) number what was committed and pending when
// they started before they read, so a client reads its own writes, within readerWait. Numbering
// costs a second write of each row and a commit per run, off the request path: at most one run per
// sequenceEvery per replica under load, however many writes.

// sequencerLock is the advisory lock key held while numbering ("scimssoe"): a single key, beside the
// migration lock's.
const sequencerLock = migrationLock<<8 | 'e'

// sequenceEvery is how often the sequencer looks for pending events no local commit woke it for, and
// for events another replica numbered (to wake EventsWritten's reader).
const sequenceEvery = 20 * time.Millisecond

// sequenceBatch bounds the rows one numbering transaction moves.
const sequenceBatch = 10000

// vacuumEvery is how often at most the sequencer vacuums the queue after events were numbered. Until
// a vacuum, every look for work walks the dead index entries of the rows moved since the last one
// (200,000 of them: 1,000 buffers and 1 ms a look, 4 ms when the planner went through the heap), and
// autovacuum comes only once a minute (autovacuum_naptime). Vacuuming a second's moves costs about
// what moving them did; idle, nothing is vacuumed.
const vacuumEvery = time.Second

// sequencer numbers PostgreSQL's pending events.
type sequencer struct {
	db      *sql.DB
	written wakeup // EventsWritten's
	kick    wakeup // a local commit wrote events
	stop    context.CancelFunc
	done    chan struct{}
	batch   int64 // the rows one numbering transaction moves at most: sequenceBatch; tests make it small
	// wait is how long a reader numbers before it reads: readerWait; tests make it short.
	wait time.Duration
	log  *zap.Logger

	// afterBatch, for tests, runs in each numbering transaction after its move, before its commit.
	afterBatch func()
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

// run numbers events until ctx ends: a round every sequenceEvery, or at a local commit's kick when
// the last round is that old. A round that fails (the database away) is retried after a delay that
// doubles up to retryMax, and kicks wait for it: nothing is lost, only later, and readers meet the
// error in their own queries. The first failure is logged, and the first round that works after.
func (q *sequencer) run(ctx context.Context) {
	defer close(q.done)
	t := time.NewTimer(sequenceEvery)
	defer t.Stop()
	var seen, vacuumed int64 // the greatest seq seen, and the one when the queue was last vacuumed
	var lastRun, lastVacuum, failingSince time.Time
	var failures int
	var retry time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
			// Numbering commits, and a commit waits for the disk: under load, one run per tick numbers
			// what every commit of the tick wrote, rather than one run after each of them.
			if failures > 0 || time.Since(lastRun) < sequenceEvery {
				continue
			}
		case <-t.C:
		}
		lastRun = time.Now()
		hi, err := q.round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if failures == 0 {
				failingSince, retry = lastRun, sequenceEvery
				q.log.Warn("cannot number events; retrying less and less often", zap.Error(err), zap.Duration("retry_max", retryMax))
			}
			failures++
			retry = min(2*retry, retryMax)
			t.Reset(retry)
			continue
		case failures > 0:
			q.log.Info("numbering events again", zap.Int("failed_rounds", failures), zap.Duration("after", time.Since(failingSince)))
			failures = 0
		}
		t.Reset(sequenceEvery)
		if hi > seen {
			seen = hi
			q.written.notify()
		}
		// Rows were moved (here, by a reader or by another replica) since the last vacuum. Another
		// replica's vacuum at the same time is skipped, not waited for; a failure is left to the next
		// round, and to autovacuum.
		if seen > vacuumed && time.Since(lastVacuum) >= vacuumEvery {
			lastVacuum = time.Now()
			if _, err := q.db.ExecContext(ctx, `VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) events_pending`); err == nil {
				vacuumed = seen
			}
		}
	}
}

// retryMax bounds the delay between the sequencer's rounds while they fail: with the database away,
// each replica tries every 5 seconds, not 50 times a second.
const retryMax = 5 * time.Second

// round numbers the committed pending events, if any, and returns the greatest seq there is.
func (q *sequencer) round(ctx context.Context) (int64, error) {
	pending, hi, err := q.look(ctx)
	if err != nil || !pending {
		return hi, err
	}
	last, err := q.number(ctx)
	return max(hi, last), err
}

// lookSQL is whether events wait in the queue (committed or not: the move takes the committed ones)
// and the greatest seq given (0 without events): two steps into the ends of two indexes. Not EXISTS,
// whose plan may walk the queue's heap (the pages of a burst, until vacuumed): the first entry of its
// index.
const lookSQL = `SELECT (SELECT n FROM events_pending ORDER BY n LIMIT 1) IS NOT NULL, coalesce((SELECT max(seq) FROM events), 0)`

// look runs lookSQL.
func (q *sequencer) look(ctx context.Context) (pending bool, last int64, err error) {
	err = q.db.QueryRowContext(ctx, lookSQL).Scan(&pending, &last)
	return pending, last, mapErr(err)
}

// readerWait bounds the numbering a reader (ListEvents, LastEventSeq) does before it reads: it waits
// for the sequencer lock that long at most, and starts no batch after it. A reader that cannot number
// in time (the lock held up, a backlog left by a sequencer that was down) reads what is numbered; the
// sequencer numbers the rest. A batch once started is finished, not cancelled: its work is not lost,
// and it is bounded (sequenceBatch rows). It is long enough that only a sequencer that is stuck, not
// one numbering a burst on a loaded machine, makes a reader go without its own writes (2 s did, under
// the whole test suite's load).
const readerWait = 10 * time.Second

// settle numbers, before a read, the events committed and pending when it is called, so a client
// reads its own writes: those up to the queue's greatest n then, not those written after, or a
// reader could go on numbering other clients' writes for as long as they come. It gives up after
// readerWait, with no error: the read then sees what is numbered.
func (q *sequencer) settle(ctx context.Context) error {
	var upTo sql.NullInt64
	if err := q.db.QueryRowContext(ctx, `SELECT max(n) FROM events_pending`).Scan(&upTo); err != nil || !upTo.Valid {
		return mapErr(err)
	}
	deadline := time.Now().Add(q.wait)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil
		}
		n, _, err := q.numberBatch(ctx, upTo.Int64, wait)
		if isLockTimeout(err) {
			return nil
		}
		if err != nil || n < q.batch {
			return mapErr(err)
		}
	}
}

// number numbers every committed pending event, a batch per transaction, and returns the last seq
// given (0 when none was).
func (q *sequencer) number(ctx context.Context) (int64, error) {
	var last int64
	for {
		n, l, err := q.numberBatch(ctx, math.MaxInt64, 0)
		if err != nil {
			return last, mapErr(err)
		}
		if n > 0 {
			last = l
		}
		if n < q.batch {
			return last, nil
		}
	}
}

// moveEvents moves up to $1 committed pending events, of n up to $2, in insert order, into events,
// numbered on from the greatest seq there, and returns how many it moved and the last seq it gave. It
// runs under the sequencer lock, after taking it: its snapshot sees every run before it, and the
// greatest seq never goes (the sweep keeps the newest event), so no number is given twice.
const moveEvents = `WITH moved AS (
		DELETE FROM events_pending WHERE n IN (SELECT n FROM events_pending WHERE n <= $2 ORDER BY n LIMIT $1)
		RETURNING n, id, type, tenant_id, subject, occurred_at, data
	), numbered AS (
		INSERT INTO events (seq, id, type, tenant_id, subject, occurred_at, data)
		SELECT (SELECT coalesce(max(seq), 0) FROM events) + row_number() OVER (ORDER BY n), id, type, tenant_id, subject, occurred_at, data
		FROM moved
		RETURNING seq
	)
	SELECT count(*), coalesce(max(seq), 0) FROM numbered`

// numberBatch numbers up to q.batch committed pending events of n up to upTo in insert order, in one
// transaction under the sequencer lock: n numbered, the last being seq last. Each statement after the
// lock sees what committed before it (READ COMMITTED), so no row another sequencer moved is seen
// again. With wait > 0, waiting for the lock is bounded by it (lock_timeout, for this transaction
// only): the error then is one isLockTimeout reports.
func (q *sequencer) numberBatch(ctx context.Context, upTo int64, wait time.Duration) (n, last int64, err error) {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback() // after Commit, a no-op
	if wait > 0 {
		ms := strconv.FormatInt(max(wait.Milliseconds(), 1), 10) // 0 would be no limit
		if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, ms); err != nil {
			return 0, 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(sequencerLock)); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, moveEvents, q.batch, upTo).Scan(&n, &last); err != nil {
		return 0, 0, err
	}
	if q.afterBatch != nil {
		q.afterBatch()
	}
	return n, last, tx.Commit()
}
