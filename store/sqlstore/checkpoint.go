package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/mattn/go-sqlite3"
)

// checkpointEvery is how often the WAL is copied back into the database file.
const checkpointEvery = 200 * time.Millisecond

// DefaultWALLimit is the WAL size past which a checkpoint truncates it. Past half of it (half a second
// of SCIM creates at full speed on two cores) a checkpoint restarts it at its beginning, so the limit
// is reached only when a reader holds on.
const DefaultWALLimit = 64 << 20

// Restarting and truncating checkpoints wait for readers at most truncateWait, holding new writers back
// meanwhile, and after one that could not finish the next is tried truncateBackoff later: a reader that
// holds on (a backup) delays writes by at most a tenth of the time, and the WAL grows meanwhile as it
// must.
const (
	truncateWait    = 200 * time.Millisecond
	truncateBackoff = 2 * time.Second
	checkpointRetry = 50 * time.Microsecond
)

// startCheckpoints opens the connection checkpoints run on and starts them until stopCheckpoints.
func (l *sqlite) startCheckpoints(dsn string) {
	// Checkpoints run no query: their connection needs neither the planner setting nor a test's hook.
	cp := sql.OpenDB(connector{&sqlite3.SQLiteDriver{}, dsn})
	cp.SetMaxOpenConns(1)
	l.cp = cp
	ctx, stop := context.WithCancel(context.Background())
	l.stopCP = stop
	l.cpDone = make(chan struct{})
	go l.checkpoints(ctx)
}

// stopCheckpoints stops the checkpoints and waits for the one running, if they were started.
func (l *sqlite) stopCheckpoints() {
	if l.stopCP == nil {
		return
	}
	l.stopCP()
	<-l.cpDone
	l.stopCP = nil
	l.cp.Close()
}

// checkpoints runs PASSIVE checkpoints until ctx ends: they never block the writer or readers. But
// while writes keep coming, a PASSIVE checkpoint never catches up with the last of them, and the WAL can
// only start again at its beginning once one has: it grows with every write (a flood of sign-in starts
// grew it to 923 MB). Past l.walLimit/2 a RESTART checkpoint holds the writers back, waits for the
// readers of older snapshots, copies what the PASSIVE ones left, and the next write starts the WAL again
// at its beginning, over pages the kernel already holds. Past l.walLimit (readers kept it from
// restarting) a TRUNCATE checkpoint does the same and empties the file.
func (l *sqlite) checkpoints(ctx context.Context) {
	defer close(l.cpDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var pageSize int64
	var notBefore time.Time
	var restarted int64 // the WAL's frames when a RESTART last finished: no write since if still so
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if pageSize == 0 {
				if err := l.cp.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
					continue
				}
			}
			var busy, frames, done int64
			if err := l.cp.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
				continue
			}
			// Each frame is a page and a 24-byte header; frames counts those written since the WAL last
			// started again at its beginning.
			size := frames * (pageSize + 24)
			if !time.Now().After(notBefore) {
				continue
			}
			switch {
			case size > l.walLimit:
				if !l.checkpointAll(ctx, "TRUNCATE") {
					notBefore = time.Now().Add(truncateBackoff)
				}
			case size > l.walLimit/2 && frames != restarted:
				if l.checkpointAll(ctx, "RESTART") {
					restarted = frames
				} else {
					notBefore = time.Now().Add(truncateBackoff)
				}
			}
		}
	}
}

// checkpointAll runs a RESTART or TRUNCATE checkpoint, waiting for readers at most truncateWait; false
// if it could not finish. It holds the write connection meanwhile, so writers queue in Go and go on
// in one batch the moment it is done. It waits for readers itself, from checkpointRetry up: SQLite's
// busy handler sleeps a millisecond at least, twenty times a reader's query, every writer held back.
func (l *sqlite) checkpointAll(ctx context.Context, mode string) bool {
	conn, err := l.cp.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case l.wtok <- struct{}{}:
	}
	defer l.unlockW()
	finished := false
	waitInSteps(truncateWait, truncateWait/20, func() bool {
		var busy, frames, done int64
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
			return false
		}
		finished = busy == 0
		return !finished
	})
	return finished
}

// waitInSteps calls try until it returns false (done, or failed for good) or within for has passed,
// sleeping between calls from checkpointRetry, doubling, up to maxStep: the waits for another
// connection's lock that SQLite's busy handler would make in steps of 1 ms and more.
func waitInSteps(within, maxStep time.Duration, try func() (again bool)) {
	deadline := time.Now().Add(within)
	for wait := checkpointRetry; try(); wait = min(2*wait, maxStep) {
		if time.Now().Add(wait).After(deadline) {
			return
		}
		time.Sleep(wait)
	}
}
