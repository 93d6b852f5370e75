package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// lite is the SQLite dialect of a store Open made, for the tests of its internals.
func (s *Store) lite() *sqlite { return s.db.(*sqlite) }

func waitQueue(s *Store, n int) {
	for {
		s.lite().qmu.Lock()
		l := len(s.lite().queue)
		s.lite().qmu.Unlock()
		if l >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteBehindAFullBatchIsNotStranded forces the interleaving found in review: a full batch of
// writers queued ahead of W, which takes the connection, commits their batch (not its own), and must
// then commit its own rather than wait for another writer to come along.
func TestWriteBehindAFullBatchIsNotStranded(t *testing.T) {
	s := openTest(t)
	var early []*pendingWrite
	for range maxBatch {
		early = append(early, &pendingWrite{ctx: context.Background(), done: make(chan struct{}),
			fn: func(tx *wtx, now time.Time) error {
				return s.insertAudit(context.Background(), tx, now, store.Audit{TenantID: "t"})
			}})
	}
	l := s.lite()
	l.qmu.Lock()
	l.queue = append(l.queue, early...)
	l.qmu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.RecordAudit(context.Background(), store.Audit{TenantID: "t", Operation: "W"}) }()
	for _, p := range early {
		<-p.done
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write queued behind a full batch is still waiting with the connection free")
	}
}

// TestCancelledRequestDoesNotFailItsBatch: a client that goes away while its statements run inside a
// shared transaction must not roll back the other requests of the batch.
func TestCancelledRequestDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	s.lite().lockW()
	aErr := make(chan error, 1)
	go func() { aErr <- s.RecordAudit(ctx, store.Audit{TenantID: "A", Operation: "A"}) }()
	waitQueue(s, 1)
	bctx, cancel := context.WithCancel(ctx)
	bErr := make(chan error, 1)
	go func() {
		bErr <- s.write(bctx, func(tx *wtx, now time.Time) error {
			time.AfterFunc(10*time.Millisecond, cancel)
			_, err := tx.exec(bctx, `INSERT INTO audit_log (time, tenant_id, token_id, operation, user_id, outcome, detail)
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000) SELECT x, 'B', '', '', '', '', '' FROM c`)
			return err
		})
	}()
	waitQueue(s, 2)
	s.lite().unlockW()
	if err := <-aErr; err != nil {
		t.Fatalf("A failed because B's client went away: %v", err)
	}
	<-bErr
	var n int
	s.lite().r.QueryRow(`SELECT count(*) FROM audit_log WHERE tenant_id = 'A'`).Scan(&n)
	if n != 1 {
		t.Fatalf("A's row count %d, want 1", n)
	}
}

// TestBatchSubJournalInMemory: a batch's savepoints keep the pages they change in SQLite's sub-journal;
// on disk it is a temporary file opened and dropped again per batch once it passes 64 KB, which under
// SCIM load was one create in seven. The write connection keeps it in memory.
func TestBatchSubJournalInMemory(t *testing.T) {
	s := openTest(t)
	l := s.lite()
	l.lockW()
	defer l.unlockW()
	var mode int
	if err := l.wconn.QueryRowContext(context.Background(), "PRAGMA temp_store").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 {
		t.Fatalf("temp_store of the write connection is %d, want 2 (MEMORY)", mode)
	}
}
