package webhooks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/internal/metrics"
	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

var ctx = context.Background()

// backends runs fn on SQLite and on PostgreSQL (when SCIMSSO_TEST_POSTGRES names a server). open
// opens the test's store (again, for a restart) and returns an event log over it; every store a
// subtest opens shares the subtest's clock, which the log's events set.
func backends(t *testing.T, fn func(t *testing.T, open func(t testing.TB) *eventLog)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scimsso.db")
		c := &clock{}
		fn(t, func(t testing.TB) *eventLog {
			s, err := sqlstore.Open(ctx, sqlstore.Options{Path: path, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return newEventLog(t, s, c)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		c := &clock{}
		fn(t, func(t testing.TB) *eventLog {
			s, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresOptions{URL: url, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return newEventLog(t, s, c)
		})
	})
}

// clock is the stores' clock: the time now, unless an event is made in the past (eventLog.emit).
type clock struct{ back atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(-time.Duration(c.back.Load())) }

// eventLog makes real events through the store: in tenant acme, about users named by subject.
type eventLog struct {
	*sqlstore.Store
	t      testing.TB
	clock  *clock
	tenant *store.Tenant
	wake   <-chan struct{}

	mu       sync.Mutex
	users    map[string]*store.User
	sessions map[string][]byte // by subject, the session started last
	token    string
}

// newEventLog is an event log over s, whose clock c must be (for emit's events in the past).
func newEventLog(t testing.TB, s *sqlstore.Store, c *clock) *eventLog {
	l := &eventLog{Store: s, t: t, clock: c, wake: s.EventsWritten(), users: map[string]*store.User{}, sessions: map[string][]byte{}}
	tn, err := s.TenantBySlug(ctx, "acme")
	if errors.Is(err, store.ErrNotFound) {
		tn = &store.Tenant{Slug: "acme", Name: "Acme", Domains: []string{"acme.test"}, SPKeyPEM: []byte("key"), SPCertPEM: []byte("cert")}
		err = s.CreateTenant(ctx, tn)
	}
	if err != nil {
		t.Fatal(err)
	}
	l.tenant = tn
	return l
}

// user returns subject's user, created (with its user.created event) when there is none.
func (l *eventLog) user(subject string) *store.User {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.users[subject]; u != nil {
		return u
	}
	u := &store.User{UserName: subject + "@acme.test", Emails: []store.Email{{Value: subject + "@acme.test", Primary: true}},
		GivenName: "Given", FamilyName: subject, Country: "DE", Active: true, Source: store.SourceSCIM}
	if err := l.CreateUser(ctx, l.tenant.ID, u, store.Audit{Operation: "create", Outcome: "201"}); err != nil {
		l.t.Fatal(err)
	}
	l.users[subject] = u
	return u
}

// emit makes a change that records an event of typ about subject's user (created first when need
// be), at at (now when zero), and returns that event.
func (l *eventLog) emit(typ, subject string, at time.Time) store.Event {
	t := l.t
	t.Helper()
	if !at.IsZero() {
		l.clock.back.Store(int64(time.Since(at)))
		defer l.clock.back.Store(0)
	}
	before, err := l.LastEventSeq(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	update := func(fn func(*store.User)) {
		u := l.user(subject)
		before, _ = l.LastEventSeq(ctx, false)
		nu, err := l.UpdateUser(ctx, l.tenant.ID, u.ID, 0, store.Audit{Operation: "patch", Outcome: "200"}, func(u *store.User) error { fn(u); return nil })
		if err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		l.users[subject] = nu
		l.mu.Unlock()
	}
	switch typ {
	case store.EventUserCreated:
		l.user(subject)
	case store.EventUserUpdated:
		update(func(u *store.User) { u.Department = fmt.Sprintf("d%d", time.Now().UnixNano()) })
	case store.EventUserEmailChanged:
		update(func(u *store.User) {
			u.UserName = fmt.Sprintf("%s-%d@acme.test", subject, time.Now().UnixNano())
			u.Emails = []store.Email{{Value: u.UserName, Primary: true}}
		})
	case store.EventUserDeactivated:
		update(func(u *store.User) { u.Active = false })
	case store.EventUserReactivated:
		update(func(u *store.User) { u.Active = true })
	case store.EventSessionStarted:
		u := l.user(subject)
		h := sha256.Sum256([]byte(fmt.Sprintf("%s %d", subject, time.Now().UnixNano())))
		before, _ = l.LastEventSeq(ctx, false)
		if err := l.CreateSession(ctx, &store.Session{IDHash: h[:], TenantID: l.tenant.ID, UserID: u.ID, ExpiresAt: l.clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		l.sessions[subject] = h[:]
	case store.EventSessionEnded:
		if l.sessions[subject] == nil {
			l.emit(store.EventSessionStarted, subject, at)
		}
		before, _ = l.LastEventSeq(ctx, false)
		if err := l.DeleteSession(ctx, l.sessions[subject]); err != nil {
			t.Fatal(err)
		}
		delete(l.sessions, subject)
	case store.EventSSOSettingsChanged:
		set, err := l.SSOSettings(ctx, l.tenant.ID)
		if errors.Is(err, store.ErrNotFound) {
			set, err = store.DefaultSSOSettings(), nil
		}
		if err != nil {
			t.Fatal(err)
		}
		set.Exclude = []string{fmt.Sprintf("x%d@acme.test", time.Now().UnixNano())}
		if err := l.PutSSOSettings(ctx, l.tenant.ID, set); err != nil {
			t.Fatal(err)
		}
	case store.EventSSOCertificateExpiring:
		if _, err := l.AnnounceCertificateExpiring(ctx, l.tenant.ID, store.CertificateObject{
			Fingerprint: fmt.Sprint(time.Now().UnixNano()), Subject: "CN=idp", NotAfter: l.clock.Now().Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	case store.EventSCIMTokenIssued:
		h := sha256.Sum256([]byte(fmt.Sprint(time.Now().UnixNano())))
		tok := &store.Token{TenantID: l.tenant.ID, Name: "okta", Hash: h[:]}
		if err := l.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		l.token = tok.ID
	case store.EventSCIMTokenRevoked:
		if l.token == "" {
			l.emit(store.EventSCIMTokenIssued, subject, at)
		}
		before, _ = l.LastEventSeq(ctx, false)
		if err := l.RevokeToken(ctx, l.tenant.ID, l.token); err != nil {
			t.Fatal(err)
		}
		l.token = ""
	default:
		t.Fatalf("emit %s", typ)
	}
	// PostgreSQL numbers events just after their commit: wait for ours.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		evs, err := l.ListEvents(ctx, store.EventQuery{After: before, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Type == typ {
				return evs[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event after %d: %+v", typ, before, evs)
		}
	}
}

// receiver is a webhook receiver on 127.0.0.1 that verifies each request's signature and records it.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	// answer decides the status of the nth request (from 1) with body; nil: 204.
	answer func(n int, body []byte) int

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

func newReceiver(t testing.TB, answer func(n int, body []byte) int) *receiver {
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
		status = rc.answer(n, body)
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
func waitFor(t testing.TB, rc *receiver, what string, cond func() bool) {
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
	cfg := Config{Store: l.Store, DB: db, Dialect: dialect, Logger: zaptest.NewLogger(t), Metrics: metrics.New(), AllowHTTPLoopback: true,
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
