package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/scimsso/scimsso/internal/ticker"
)

// otherWritersEvery is how often a SQLite Store whose EventsWritten is followed looks for events that
// other processes committed to the same file: a serving replica started with --deliver=false beside
// the one that delivers, or the CLI. PostgreSQL's sequencer does the same every sequenceEvery.
const otherWritersEvery = 20 * time.Millisecond

// eventWatch follows the newest event seq on SQLite, for events this process did not commit.
type eventWatch struct {
	once sync.Once
	stop context.CancelFunc
	done chan struct{}
}

// watchEvents starts, once, the look for other processes' events; close stops it. It starts with the
// first EventsWritten call rather than at Open: the CLI opens the store and never follows events. A
// Store closed first never starts it (stopWatch uses up the once).
func (l *sqlite) watchEvents() {
	l.watch.once.Do(func() {
		ctx, stop := context.WithCancel(context.Background())
		l.watch.stop, l.watch.done = stop, make(chan struct{})
		// The newest seq now, so that another process's event committed before the first look wakes
		// the reader too (-1 if it cannot be read: the first look only takes note).
		go l.followOthers(ctx, l.newestSeq(ctx))
	})
}

// followOthers wakes EventsWritten's reader when the newest event seq grew between two looks. It also
// wakes after this process's own commits, which woke the reader already: a reader woken twice reads
// once more and finds nothing new, which costs less than telling the two kinds of commit apart.
func (l *sqlite) followOthers(ctx context.Context, seen int64) {
	defer close(l.watch.done)
	ticker.Every(ctx, otherWritersEvery, func(ctx context.Context) {
		seq := l.newestSeq(ctx)
		if seq < 0 {
			return // closing, or a read that failed: the next look tries again
		}
		if seen >= 0 && seq > seen {
			l.written.notify()
		}
		seen = seq
	})
}

// newestSeq is the greatest event seq committed, 0 with none, -1 when it cannot be read.
func (l *sqlite) newestSeq(ctx context.Context) int64 {
	var seq int64
	if err := l.queryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`, nil).Scan(&seq); err != nil {
		return -1
	}
	return seq
}

// stopWatch stops followOthers, if it runs, and waits for it.
func (l *sqlite) stopWatch() {
	l.watch.once.Do(func() {}) // no start after this
	if l.watch.stop != nil {
		l.watch.stop()
		<-l.watch.done
	}
}
