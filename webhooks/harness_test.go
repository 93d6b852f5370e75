package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

var ctx = context.Background()

// backends runs fn on SQLite and on PostgreSQL (when SCIMSSO_TEST_POSTGRES names a server).
func backends(t *testing.T, fn func(t *testing.T, open func(t testing.TB) *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scimsso.db")
		fn(t, func(t testing.TB) *sqlstore.Store {
			s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		fn(t, func(t testing.TB) *sqlstore.Store {
			s, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresOptions{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// eventLog stands in for the store's event log until branch events lands: events appended in seq
// order, visible at once, with a wake-up per append like sqlstore's EventsWritten.
// TODO(merge): write real events through the store.
type eventLog struct {
	*sqlstore.Store
	mu     sync.Mutex
	events []store.Event
	wake   chan struct{}
}

func newEventLog(s *sqlstore.Store) *eventLog {
	return &eventLog{Store: s, wake: make(chan struct{}, 1)}
}

func (l *eventLog) ListEvents(_ context.Context, q store.EventQuery) ([]store.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.Event
	for _, e := range l.events {
		if e.Seq > q.After && (len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) && len(out) < q.Limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *eventLog) LastEventSeq(context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.events)), nil
}

// emit appends an event of typ about user subject, occurred at at (now when zero).
func (l *eventLog) emit(typ, subject string, at time.Time) store.Event {
	if at.IsZero() {
		at = time.Now()
	}
	l.mu.Lock()
	seq := int64(len(l.events) + 1)
	data, _ := json.Marshal(map[string]any{"id": subject, "n": seq})
	e := store.Event{ID: fmt.Sprintf("evt_%d_%s", seq, subject), Seq: seq, Type: typ, TenantID: "t1", Tenant: "acme", Subject: subject,
		OccurredAt: at.UTC().Truncate(time.Microsecond), Data: data}
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return e
}

// receiver is a webhook receiver on 127.0.0.1 that verifies each request's signature and records it.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	// answer decides the status of the nth request (from 1); nil: 204.
	answer func(n int, r *http.Request) int

	mu   sync.Mutex
	got  []received
	seen chan struct{}
}

type received struct {
	id, ts string
	body   []byte
	status int
	at     time.Time
}

func newReceiver(t testing.TB, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{t: t, answer: answer, seen: make(chan struct{}, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	secret := rc.secret
	n := len(rc.got) + 1
	rc.mu.Unlock()
	if err := Verify(secret, r.Header, body, time.Now()); err != nil {
		rc.t.Errorf("request %d: %v (headers %v)", n, err, r.Header)
	}
	if ua := r.Header.Get("User-Agent"); ua != UserAgent {
		rc.t.Errorf("User-Agent %q", ua)
	}
	status := http.StatusNoContent
	if rc.answer != nil {
		status = rc.answer(n, r)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, received{id: r.Header.Get(HeaderID), ts: r.Header.Get(HeaderTimestamp), body: body, status: status, at: time.Now()})
	rc.mu.Unlock()
	w.WriteHeader(status)
	select {
	case rc.seen <- struct{}{}:
	default:
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// delivered returns the event ids answered 2xx, in the order they came, with repeats.
func (rc *receiver) delivered() []string {
	var ids []string
	for _, r := range rc.requests() {
		if r.status/100 == 2 {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// waitFor waits until cond holds, checking after every request and every 100 ms; it fails the test
// after a minute.
func waitFor(t *testing.T, rc *receiver, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		var seen chan struct{}
		if rc != nil {
			seen = rc.seen
		}
		select {
		case <-seen:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startService starts a delivery service on s's events, stopped when the test ends.
func startService(t testing.TB, l *eventLog, mod func(*Config)) *Service {
	t.Helper()
	db, dialect := l.JobsDB()
	cfg := Config{Store: l, DB: db, Dialect: dialect, Logger: zaptest.NewLogger(t), Metrics: metrics.New(), AllowHTTPLoopback: true,
		Wake: l.wake, testOnly: true}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Stop(sctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// addWebhook adds a webhook for rc and gives rc its secret.
func addWebhook(t *testing.T, l *eventLog, rc *receiver, types ...string) *store.Webhook {
	t.Helper()
	w, err := Add(ctx, l, rc.srv.URL+"/hook", types, true)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	return w
}

// backendsB is backends for benchmarks.
func backendsB(b *testing.B, fn func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(b.TempDir(), "scimsso.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresOptions{URL: pgtest.URL(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		fn(b, s)
	})
}

// newReceiverFunc is a receiver on 127.0.0.1 that calls fn with each request and answers 204; it
// returns its URL.
func newReceiverFunc(t testing.TB, fn func(*http.Request)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
