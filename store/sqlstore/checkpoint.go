package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/mattn/go-sqlite3"
)

// checkpointEvery is how often the WAL is copied back into the database file.
const checkpointEvery = 200 * time.Millisecond

// DefaultWALLimit is the WAL size past which a checkpoint truncates it: a hundred times what a busy
// second of SCIM writes adds, so it is reached only under a flood or a reader that holds on.
const DefaultWALLimit = 64 << 20

// Truncating checkpoints wait for readers at most truncateWait, holding new writers back meanwhile, and
// after one that could not finish the next is tried truncateBackoff later: a reader that holds on (a
// backup) delays writes by at most a tenth of the time, and the WAL grows meanwhile as it must.
const (
	truncateWait    = 200 * time.Millisecond
	truncateBackoff = 2 * time.Second
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
// while readers keep overlapping, the WAL can never start again at its beginning and grows with every
// write (a flood of sign-in starts grew it to 923 MB). Past l.walLimit a TRUNCATE checkpoint waits for
// the readers of older snapshots to finish, copies the whole WAL and empties the file.
func (l *sqlite) checkpoints(ctx context.Context) {
	defer close(l.cpDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var pageSize int64
	var notBefore time.Time
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
			if frames*(pageSize+24) > l.walLimit && time.Now().After(notBefore) {
				if !l.truncateWAL(ctx) {
					notBefore = time.Now().Add(truncateBackoff)
				}
			}
		}
	}
}

// truncateWAL runs a TRUNCATE checkpoint, waiting at most truncateWait; false if it could not finish.
func (l *sqlite) truncateWAL(ctx context.Context) bool {
	conn, err := l.cp.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(int(truncateWait/time.Millisecond))); err != nil {
		return false
	}
	var busy, frames, done int64
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done)
	return err == nil && busy == 0
}
