package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

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

// TestRunningWritersShareACommit: writers that are running when the connection is taken commit in the
// holder's batch, not one commit each. On one P they run only when the holder yields, so the holder
// must let them queue before it takes the queue.
func TestRunningWritersShareACommit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx := context.Background()
	var commits atomic.Int64
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "x.db"), onConnect: func(c *sqlite3.SQLiteConn) error {
		c.RegisterCommitHook(func() int { commits.Add(1); return 0 })
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers = 8
	start := make(chan struct{})
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			<-start
			errs <- s.RecordAudit(ctx, store.Audit{TenantID: "t", Operation: strconv.Itoa(i)})
		}()
	}
	before := commits.Load()
	close(start)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := commits.Load() - before; n != 1 {
		t.Errorf("%d writers that ran together took %d commits, want 1", writers, n)
	}
	var n int
	if err := s.lite().r.QueryRow(`SELECT count(*) FROM audit_log WHERE tenant_id = 't'`).Scan(&n); err != nil || n != writers {
		t.Fatalf("audit rows %d (%v), want %d", n, err, writers)
	}
}

// holdWriteLock opens a store on a new file and, on a connection of its own to that file (as another
// process has: the CLI, a second serve), takes SQLite's write lock; the caller ends it with end
// ("COMMIT" or "ROLLBACK").
func holdWriteLock(t *testing.T) (s *Store, end func(stmt string)) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	other, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return s, func(stmt string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
}

// acme is a new tenant acme to create.
func acme() *store.Tenant {
	return &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
}

// TestWriteWaitsForAnotherProcessLock: while another process holds SQLite's write lock, the store's
// writes wait for it rather than fail with "database is locked", and commit once it is let go. The
// write connection has busy_timeout 0 (begin waits in steps of its own): without begin's loop the
// write fails at once.
func TestWriteWaitsForAnotherProcessLock(t *testing.T) {
	ctx := context.Background()
	s, end := holdWriteLock(t)
	done := make(chan error, 1)
	go func() { done <- s.CreateTenant(ctx, acme()) }()
	select {
	case err := <-done:
		t.Fatalf("the write ended while another connection held the write lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	end("COMMIT")
	if err := <-done; err != nil {
		t.Fatalf("the write, once the lock was let go: %v", err)
	}
	if _, err := s.TenantBySlug(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
}

// TestWriteLockHeldTooLong: a write that waited its whole lockWait for another process's write lock
// fails with store.ErrUnavailable (a 503 with Retry-After to the client), and applies nothing.
func TestWriteLockHeldTooLong(t *testing.T) {
	ctx := context.Background()
	s, end := holdWriteLock(t)
	s.lite().lockWait = 200 * time.Millisecond
	if err := s.CreateTenant(ctx, acme()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a write behind a lock held past lockWait: %v, want store.ErrUnavailable", err)
	}
	end("ROLLBACK")
	if _, err := s.TenantBySlug(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the refused write: %v, want ErrNotFound", err)
	}
}
