package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
)

// TestEventsOfAFailedBatchWrite: on SQLite the writes queued together commit in one transaction, each
// in its savepoint. A write that fails in the middle of the batch takes its events with it; the
// others keep theirs.
func TestEventsOfAFailedBatchWrite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	user := func(name string) *store.User {
		return &store.User{UserName: name, Emails: []store.Email{{Value: name, Primary: true}}, Active: true, Source: store.SourceSCIM}
	}
	taken := user("taken@acme.com")
	if err := s.CreateUser(ctx, tn.ID, taken, store.Audit{}); err != nil {
		t.Fatal(err)
	}
	before, err := s.LastEventSeq(ctx, false)
	if err != nil {
		t.Fatal(err)
	}

	s.lite().lockW() // the writes below queue up behind this
	names := []string{"a@acme.com", "TAKEN@acme.com", "b@acme.com", "deactivate-then-fail", "c@acme.com"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if name == "deactivate-then-fail" {
				_, errs[i] = s.UpdateUser(ctx, tn.ID, taken.ID, 0, store.Audit{}, func(u *store.User) error {
					u.Active = false
					return errors.New("refused after the change")
				})
				return
			}
			errs[i] = s.CreateUser(ctx, tn.ID, user(name), store.Audit{})
		}()
	}
	waitQueue(s, len(names))
	s.lite().unlockW()
	wg.Wait()
	for i, name := range names {
		wantFail := name == "TAKEN@acme.com" || name == "deactivate-then-fail"
		if (errs[i] != nil) != wantFail {
			t.Fatalf("%s: %v", name, errs[i])
		}
	}
	es, err := s.ListEvents(ctx, store.EventQuery{After: before, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		u, err := s.UserByID(ctx, tn.ID, e.Subject)
		if err != nil || e.Type != store.EventUserCreated {
			t.Fatalf("event %s about %s (%v)", e.Type, e.Subject, err)
		}
		got = append(got, u.UserName)
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[a@acme.com b@acme.com c@acme.com]" {
		t.Fatalf("events of the batch are about %v, want the three users created", got)
	}
}

// TestEventsFollowedByCursor is the contract of seq under concurrent writers: a reader that follows the
// log by its cursor sees every event exactly once, in increasing seq. On PostgreSQL the writers are
// two replicas' stores, and each transaction sleeps a random while between inserting its event and
// committing, so they commit in another order than they insert: a seq taken at insert would let the
// reader move past an event that commits later, and miss it.
func TestEventsFollowedByCursor(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := openTest(t)
		followByCursor(t, []*Store{s}, 0)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		var replicas []*Store
		for range 2 {
			s, err := OpenPostgres(context.Background(), PostgresOptions{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			replicas = append(replicas, s)
		}
		followByCursor(t, replicas, 15*time.Millisecond)
	})
}

func followByCursor(t *testing.T, replicas []*Store, stagger time.Duration) {
	ctx := context.Background()
	const writers, perWriter = 12, 40
	reader := replicas[0]
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := reader.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	werrs := make(chan error, writers)
	for w := range writers {
		s := replicas[w%len(replicas)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter {
				err := s.write(ctx, func(tx *wtx, now time.Time) error {
					if err := s.record(ctx, tx, now, store.EventUserUpdated, tn.ID, fmt.Sprintf("w%d-%d", w, i), []byte(`{}`)); err != nil {
						return err
					}
					if stagger > 0 {
						time.Sleep(time.Duration(rng.Int64N(int64(stagger)))) // commit a random while after the insert
					}
					return nil
				})
				if err != nil {
					werrs <- err
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	var cursor int64
	read := func() int {
		t.Helper()
		page, err := reader.ListEvents(ctx, store.EventQuery{After: cursor, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Seq <= cursor {
				t.Fatalf("seq %d after the cursor %d", e.Seq, cursor)
			}
			cursor = e.Seq
			seen[e.Subject]++
		}
		return len(page)
	}
	// Follow while the writers write: read when woken, and read on while pages come back full.
	for following := true; following; {
		select {
		case <-done:
			following = false
		case <-reader.EventsWritten():
		}
		for read() > 0 {
		}
	}
	close(werrs)
	for err := range werrs {
		t.Fatal(err)
	}
	for read() > 0 {
	}
	for w := range writers {
		for i := range perWriter {
			if n := seen[fmt.Sprintf("w%d-%d", w, i)]; n != 1 {
				t.Fatalf("event w%d-%d seen %d times by the cursor", w, i, n)
			}
		}
	}
	if len(seen) != writers*perWriter {
		t.Fatalf("%d events seen, want %d", len(seen), writers*perWriter)
	}
}

// onBothBackends runs test on a fresh SQLite store and a fresh PostgreSQL one, with the clock now
// (nil: the real one).
func onBothBackends(t *testing.T, now func() time.Time, test func(t *testing.T, s *Store)) {
	ctx := context.Background()
	open := map[string]func(t *testing.T) (*Store, error){
		"sqlite": func(t *testing.T) (*Store, error) {
			return Open(ctx, Options{Path: filepath.Join(t.TempDir(), "x.db"), Now: now})
		},
		"postgres": func(t *testing.T) (*Store, error) {
			return OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t), Now: now})
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			s, err := open[name](t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			test(t, s)
		})
	}
}

// TestEventsWritten: the wake-up comes after a write that recorded events (on PostgreSQL once the
// sequencer has numbered them), and not after one that recorded none.
func TestEventsWritten(t *testing.T) {
	ctx := context.Background()
	onBothBackends(t, nil, func(t *testing.T, s *Store) {
		tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.EventsWritten():
			t.Fatal("woken by a write that recorded no event")
		default:
		}
		if err := s.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: "okta", Hash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
		<-s.EventsWritten() // the test's deadline is the failure if it never comes
		es, err := s.ListEvents(ctx, store.EventQuery{Limit: 10})
		if err != nil || len(es) != 1 || es[0].Type != store.EventSCIMTokenIssued {
			t.Fatalf("after the wake-up: %+v, %v", es, err)
		}
	})
}

// TestSweepInBatches: Sweep ends many expired sessions, every one with its session.ended event naming
// the clients that held its tokens, in transactions of sweepBatch sessions, not in one that holds the
// writer for all of them. On SQLite, whose one writer commits in seq order, a write queued behind
// Sweep's first transaction commits before Sweep's last: its event lies among the session.ended ones.
func TestSweepInBatches(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	onBothBackends(t, now, func(t *testing.T, s *Store) {
		tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		u := &store.User{UserName: "a@acme.com", Emails: []store.Email{{Value: "a@acme.com", Primary: true}}, Active: true, Source: store.SourceSCIM}
		if err := s.CreateUser(ctx, tn.ID, u, store.Audit{}); err != nil {
			t.Fatal(err)
		}
		cl := &store.OIDCClient{Name: "wiki", RedirectURIs: []string{"https://wiki.test/cb"}, Public: true}
		if err := s.CreateOIDCClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
		const n = 2*sweepBatch + 500
		withTokens := map[string]bool{} // session ids, every 97th
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			for i := range n {
				ss := &store.Session{IDHash: fmt.Appendf(nil, "session %d", i), TenantID: tn.ID, UserID: u.ID, ExpiresAt: now.Add(time.Minute)}
				if err := s.insertSession(ctx, tx, now, ss); err != nil {
					return err
				}
				if i%97 == 0 {
					withTokens[store.SessionID(ss.IDHash)] = true
					in := store.OIDCSignIn{TenantID: tn.ID, UserID: u.ID, SessionHash: ss.IDHash, AuthTime: now, AMR: "saml"}
					toks := []store.OIDCToken{{Hash: fmt.Appendf(nil, "at %d", i), ClientID: cl.ID, OIDCSignIn: in, Family: fmt.Sprint(i),
						Scopes: []string{"openid"}, ExpiresAt: now.Add(time.Hour)}}
					if err := insertOIDCTokens(ctx, tx, now, toks); err != nil {
						return err
					}
					if err := rememberSignIns(ctx, tx, toks); err != nil { // as RedeemOIDCCode does
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(int64(2 * time.Minute))
		before, err := s.LastEventSeq(ctx, false)
		if err != nil {
			t.Fatal(err)
		}

		var swept int64
		var sweepErr, tokenErr error
		if l, ok := s.db.(*sqlite); ok {
			// Sweep's first transaction and then a token's creation queue behind the writer held here.
			l.lockW()
			var wg sync.WaitGroup
			wg.Go(func() { swept, sweepErr = s.Sweep(ctx) })
			waitQueue(s, 1)
			wg.Go(func() { tokenErr = s.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: "okta", Hash: []byte("h")}) })
			waitQueue(s, 2)
			l.unlockW()
			wg.Wait()
		} else {
			swept, sweepErr = s.Sweep(ctx)
		}
		if sweepErr != nil || tokenErr != nil || swept < n {
			t.Fatalf("Sweep = %d, %v (token: %v); want the %d sessions", swept, sweepErr, tokenErr, n)
		}

		var es []store.Event
		for after := before; ; {
			page, err := s.ListEvents(ctx, store.EventQuery{After: after, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			es, after = append(es, page...), page[len(page)-1].Seq
		}
		ended, first, last, token := map[string]bool{}, -1, -1, -1
		for i, e := range es {
			switch e.Type {
			case store.EventSessionEnded:
				var o store.SessionObject
				if err := json.Unmarshal(e.Data, &o); err != nil {
					t.Fatal(err)
				}
				wantClients := "[]"
				if withTokens[o.ID] {
					wantClients = fmt.Sprint([]string{cl.ID})
				}
				if ended[o.ID] || o.Reason != store.EndTimeout || fmt.Sprint(o.Clients) != wantClients {
					t.Fatalf("session.ended %s (seen before: %v), want reason timeout and clients %s", e.Data, ended[o.ID], wantClients)
				}
				ended[o.ID] = true
				if first < 0 {
					first = i
				}
				last = i
			case store.EventSCIMTokenIssued:
				token = i
			case store.EventSessionStarted:
				// The setup's own: on PostgreSQL a reader numbers what is pending only within
				// readerWait, so some may come after before.
			default:
				t.Fatalf("unexpected %s", e.Type)
			}
		}
		if len(ended) != n {
			t.Fatalf("%d sessions ended with an event, want %d", len(ended), n)
		}
		if _, ok := s.db.(*sqlite); ok && !(first < token && token < last) {
			t.Fatalf("the token created during Sweep is event %d, session.ended are %d to %d: Sweep held the writer throughout", token, first, last)
		}
	})
}

// TestSequencerVacuumsItsQueue: on PostgreSQL events wait in a queue until the sequencer moves them
// into the log. Every move leaves dead entries in the queue's index, which each look for work walks
// until a vacuum, and autovacuum comes once a minute: after a burst is numbered, the sequencer
// vacuums the queue itself, and its look is again a few pages, however many events went through.
func TestSequencerVacuumsItsQueue(t *testing.T) {
	ctx := context.Background()
	s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	const burst = 20000
	err = s.write(ctx, func(tx *wtx, now time.Time) error {
		for range burst {
			if err := s.record(ctx, tx, now, store.EventUserUpdated, tn.ID, "u", []byte(`{}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db := s.db.pool()
	lookPages := func() int {
		t.Helper()
		rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) "+lookSQL)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		pages := 0
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			// The top node's line counts its children's buffers too.
			if _, hits, ok := strings.Cut(line, "Buffers: shared hit="); ok && pages == 0 {
				n, _ := strconv.Atoi(strings.Fields(hits)[0])
				pages = n
			}
		}
		return pages
	}
	if seq, err := s.LastEventSeq(ctx, false); err != nil || seq != burst {
		t.Fatalf("LastEventSeq = %d, %v; want %d", seq, err, burst)
	}
	before := lookPages()
	// Wait for the sequencer's vacuum (a VACUUM command, not autovacuum's). On a loaded machine the
	// first may run while the last of the burst is still being moved, leaving their dead entries to
	// the next one, which follows within vacuumEvery: so look again after each vacuum, for a minute.
	vacuums := func() int64 {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'events_pending'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	var seen int64
	after := before
	for after > 10 && time.Now().Before(deadline) {
		for n := vacuums(); n <= seen && time.Now().Before(deadline); n = vacuums() {
			time.Sleep(10 * time.Millisecond)
		}
		seen = vacuums()
		// pg_stat counters are flushed by the vacuuming backend when its transaction ends; a read may
		// see the count before the effect, and the loop then looks again at the next vacuum.
		after = lookPages()
	}
	t.Logf("the look for work: %d pages after the burst was numbered, %d after the vacuum", before, after)
	if after > 10 {
		t.Fatalf("the look for work reads %d pages after the queue was vacuumed, want a few", after)
	}
	var events, pending int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_pending)`).Scan(&events, &pending); err != nil {
		t.Fatal(err)
	}
	if events != burst || pending != 0 {
		t.Fatalf("%d events in the log, %d in the queue; want %d and 0", events, pending, burst)
	}
}

// TestReaderNumbering: on PostgreSQL a reader numbers the events pending when it starts, so a client
// reads its own writes, but no more: not the writes that commit while it numbers (it would go on while
// they come), and not for longer than readerWait: with the sequencer lock held elsewhere it reads what
// is numbered, without an error.
func TestReaderNumbering(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T) (*Store, *store.Tenant) {
		s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t), noSequencer: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		return s, tn
	}
	write := func(t *testing.T, s *Store, tn *store.Tenant, subjects ...string) {
		t.Helper()
		err := s.write(ctx, func(tx *wtx, now time.Time) error {
			for _, sub := range subjects {
				if err := s.record(ctx, tx, now, store.EventUserUpdated, tn.ID, sub, []byte(`{}`)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	subjects := func(t *testing.T, s *Store) string {
		t.Helper()
		es, err := s.ListEvents(ctx, store.EventQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Subject)
		}
		return strings.Join(out, " ")
	}

	t.Run("what was pending at its start", func(t *testing.T) {
		s, tn := open(t)
		q := &s.db.(*postgres).seq
		q.batch = 2 // the reader's first batch is full: it goes on
		write(t, s, tn, "a", "b", "c")
		q.afterBatch = func() {
			q.afterBatch = nil
			write(t, s, tn, "d", "e") // commits while the reader numbers
		}
		if got := subjects(t, s); got != "a b c" {
			t.Fatalf("the reader listed %q, want the events pending at its start, a b c", got)
		}
		var pending int
		if err := s.db.pool().QueryRowContext(ctx, `SELECT count(*) FROM events_pending`).Scan(&pending); err != nil || pending != 2 {
			t.Fatalf("%d events left in the queue (%v), want d and e", pending, err)
		}
		if got := subjects(t, s); got != "a b c d e" {
			t.Fatalf("the next reader listed %q, want a b c d e", got)
		}
	})

	t.Run("the sequencer lock held elsewhere", func(t *testing.T) {
		s, tn := open(t)
		s.db.(*postgres).seq.wait = 200 * time.Millisecond // not readerWait's 10 s, twice
		write(t, s, tn, "a")
		if got := subjects(t, s); got != "a" {
			t.Fatalf("listed %q, want a", got)
		}
		write(t, s, tn, "b")
		conn, err := s.db.pool().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(sequencerLock)); err != nil {
			t.Fatal(err)
		}
		// The test's deadline is the failure if the reader waits for the lock beyond its wait.
		if got := subjects(t, s); got != "a" {
			t.Fatalf("with the lock held elsewhere the reader listed %q, want what was numbered, a", got)
		}
		if _, err := s.LastEventSeq(ctx, false); err != nil {
			t.Fatalf("LastEventSeq with the lock held elsewhere: %v", err)
		}
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(sequencerLock)); err != nil {
			t.Fatal(err)
		}
		if got := subjects(t, s); got != "a b" {
			t.Fatalf("once the lock is free the reader listed %q, want a b", got)
		}
	})
}

// TestSequencerBacksOff: with the database away, the sequencer's rounds fail; it retries less and less
// often (not 50 times a second), says so once, and once more when it numbers again.
func TestSequencerBacksOff(t *testing.T) {
	ctx := context.Background()
	d := &switchDialer{}
	core, logged := observer.New(zap.InfoLevel)
	entries := make(chan zapcore.Entry, 16)
	log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error { entries <- e; return nil }))
	s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t), dial: d.dial, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}

	d.set(true)
	const window = 2 * time.Second // without a backoff: 100 rounds
	time.Sleep(window)
	if n := d.count(); n < 1 || n > 15 {
		t.Errorf("%d connection attempts in %v with the database away; want a few, fewer and fewer", n, window)
	}
	if _, err := s.ListEvents(ctx, store.EventQuery{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ListEvents with the database away: %v, want store.ErrUnavailable", err)
	}
	if got := logged.FilterLevelExact(zap.WarnLevel).Len(); got != 1 {
		t.Errorf("%d warnings while the database was away, want 1: %v", got, logged.All())
	}

	d.set(false)
	for e := range entries {
		if e.Level == zap.InfoLevel {
			break // numbering again: the test's deadline is the failure if it never says so
		}
	}
	if got := logged.Len(); got != 2 {
		t.Errorf("%d log entries, want a warning and the recovery: %v", got, logged.All())
	}
	if err := s.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: "okta", Hash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	<-s.EventsWritten() // numbered by the sequencer again
}

// switchDialer connects a store to PostgreSQL until set away: then it closes the connections it made
// and refuses new ones, as when the server is gone, until set back. It counts the attempts while away.
type switchDialer struct {
	mu       sync.Mutex
	away     bool
	attempts int
	conns    []net.Conn
}

func (d *switchDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.away {
		d.attempts++
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

// set sends the database away (closing every connection) or brings it back; the count starts again.
func (d *switchDialer) set(away bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.away, d.attempts = away, 0
	if away {
		for _, c := range d.conns {
			c.Close()
		}
		d.conns = nil
	}
}

func (d *switchDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}

// TestCloseStopsTheSequencer: Close returns while the sequencer numbers, waiting for a lock held
// elsewhere, and while it backs off from a database that is away; either way no goroutine of the store
// is left behind.
func TestCloseStopsTheSequencer(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// busy makes the sequencer busy; what it returns runs after Close, before the count.
		busy func(t *testing.T, s *Store, url string, d *switchDialer, warned <-chan struct{}) (after func())
	}{
		{"numbering", func(t *testing.T, s *Store, url string, _ *switchDialer, _ <-chan struct{}) func() {
			other, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := other.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done := func() { conn.Close(); other.Close() }
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(sequencerLock)); err != nil {
				t.Fatal(err)
			}
			tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
			if err := s.CreateTenant(ctx, tn); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: "okta", Hash: []byte("h")}); err != nil {
				t.Fatal(err)
			}
			// Wait until the sequencer waits for the lock: it is in a numbering transaction.
			for {
				var waiting int
				err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting > 0 {
					return done
				}
				time.Sleep(5 * time.Millisecond)
			}
		}},
		{"the database away", func(t *testing.T, _ *Store, _ string, d *switchDialer, warned <-chan struct{}) func() {
			d.set(true)
			<-warned // the sequencer failed a round and backs off
			return func() {}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := pgtest.URL(t)
			d := &switchDialer{}
			warned := make(chan struct{}, 1)
			core, _ := observer.New(zap.InfoLevel)
			log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
				if e.Level == zap.WarnLevel {
					select {
					case warned <- struct{}{}:
					default:
					}
				}
				return nil
			}))
			s, err := OpenPostgres(ctx, PostgresOptions{URL: url, dial: d.dial, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			after := c.busy(t, s, url, d, warned)
			if err := s.Close(); err != nil { // the test's deadline is the failure if it never returns
				t.Fatal(err)
			}
			after()
			// The store's goroutines end with Close, some (the driver's) a moment after it returns; the
			// test's deadline is the failure if one is left, and its dump shows which.
			for storeGoroutines() != "" {
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// storeGoroutines returns the stacks of the goroutines running the store's code (its sequencer) or
// its driver's (pgx, database/sql), other than the caller's; "" when there is none.
func storeGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n")[1:] { // the first is the caller's
		if strings.Contains(g, "sqlstore.(*sequencer)") || strings.Contains(g, "jackc/pgx") || strings.Contains(g, "database/sql.") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

// TestEventsWrittenOtherProcess: on SQLite, events another process commits to the same file (here a
// second Store on it: its own connections, as the CLI or a serve --deliver=false has) wake a Store
// whose EventsWritten is followed. Without the watch only the writer's own Store would be woken.
func TestEventsWrittenOtherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	reader, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	writer, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	tn := &store.Tenant{Slug: "acme", Name: "Acme", SPKeyPEM: []byte("k"), SPCertPEM: []byte("c")}
	if err := writer.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	woken := reader.EventsWritten()
	for i := range 25 {
		if err := writer.CreateToken(ctx, &store.Token{TenantID: tn.ID, Name: fmt.Sprint("t", i), Hash: []byte(fmt.Sprint("h", i))}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-woken:
			es, err := reader.ListEvents(ctx, store.EventQuery{Limit: 50})
			if err != nil || len(es) == 0 || es[0].Type != store.EventSCIMTokenIssued {
				t.Fatalf("after the wake-up: %+v, %v", es, err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatal("25 events committed by another Store on the file woke no reader")
}
