package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

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
	before, err := s.LastEventSeq(ctx)
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

// TestEventsWritten: the wake-up comes after a write that recorded events (on PostgreSQL once the
// sequencer has numbered them), and not after one that recorded none; Close stops the sequencer.
func TestEventsWritten(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		open func(t *testing.T) *Store
	}{
		{"sqlite", openTest},
		{"postgres", func(t *testing.T) *Store {
			s, err := OpenPostgres(ctx, PostgresOptions{URL: pgtest.URL(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t)
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
			if p, ok := s.db.(*postgres); ok {
				s.Close()
				select {
				case <-p.seq.done:
				default:
					t.Fatal("the sequencer still runs after Close")
				}
			}
		})
	}
}
