package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// TestWALStaysBounded: while a reader holds an old snapshot (as overlapping readers do under a flood)
// the WAL cannot start again at its beginning and grows with every write; once the reader lets go, it
// must come back under the limit on its own, not keep the size of its busiest moment.
func TestWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	const limit = 256 << 10
	s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path, WALLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	db, err := sql.Open("sqlite3", "file:"+path+"?_query_only=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reader, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM tenants").Scan(&n); err != nil { // takes its snapshot
		t.Fatal(err)
	}
	bind := sha256.Sum256([]byte("b"))
	i := 0
	write := func() {
		t.Helper()
		i++
		err := s.CreateAuthnRequest(ctx, &store.AuthnRequest{ID: fmt.Sprintf("id-%d", i), TenantID: tn.ID, BindingHash: bind[:],
			ReturnTo: "/" + strings.Repeat("a", 500), ClientKey: "198.51.100.1", ExpiresAt: time.Now().Add(time.Hour)}, store.RequestLimits{})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Writes for a second, so that checkpoints run (and fail to truncate) while the reader holds on.
	// (The WAL grows by about a page per write; 30 s bound a WAL that stops growing, which fails below.)
	for start := time.Now(); time.Since(start) < 30*time.Second && (time.Since(start) < time.Second || walSize() < 4*limit); {
		write()
		time.Sleep(2 * time.Millisecond)
	}
	grown := walSize()
	if grown < 4*limit {
		t.Fatalf("the WAL grew to %d bytes only while a reader held on; the test needs it well past the limit (%d)", grown, limit)
	}
	reader.Rollback()

	deadline := time.Now().Add(5 * time.Second)
	for walSize() > limit && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := walSize(); got > limit {
		t.Fatalf("the WAL grew to %d bytes and stays at %d after the reader let go; limit %d", grown, got, limit)
	}
	// Steady writes with no reader holding on: the WAL starts again after each checkpoint and is cut
	// back when it does.
	for start := time.Now(); time.Since(start) < time.Second; {
		write()
		time.Sleep(time.Millisecond)
	}
	write()
	deadline = time.Now().Add(5 * time.Second)
	for walSize() > limit && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := walSize(); got > limit {
		t.Fatalf("after steady writes the WAL stays at %d bytes; limit %d", got, limit)
	}
}

// TestWALRestartsUnderSteadyWrites: under steady writes a PASSIVE checkpoint never catches up with the
// last of them, so the WAL cannot start again at its beginning on its own. It must be restarted well
// before the limit, over the pages it already has, rather than grow to the limit and be emptied and
// grown again (the kernel allocating and freeing its pages each time).
func TestWALRestartsUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	const limit = 8 << 20
	s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path, WALLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var largest int64
	// Each audit entry adds two or three 4 KB frames (the table, its index, now and then page 1): 3,000
	// of them write the limit's worth several times over.
	for i := range 3000 {
		if err := s.RecordAudit(ctx, store.Audit{TenantID: "t", Operation: "op", Detail: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if fi, err := os.Stat(path + "-wal"); err == nil {
				largest = max(largest, fi.Size())
			}
		}
		time.Sleep(time.Millisecond)
	}
	if largest >= limit {
		t.Fatalf("under steady writes the WAL grew to %d bytes, past the limit (%d); it should restart at half of it", largest, limit)
	}
}
