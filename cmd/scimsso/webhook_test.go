package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/webhooks"
)

// hookReceiver is a webhook receiver on 127.0.0.1 that verifies every signature and records what it
// got; hold, while set, keeps each request waiting until it is cleared (or the client gives up).
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secret   string
	status   int
	hold     chan struct{} // non-nil: requests wait for it to close
	started  int
	first    time.Time // when the first request arrived
	got      []hookRequest
	bySource map[string]int
}

type hookRequest struct {
	id     string
	typ    string
	body   []byte
	status int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, status: http.StatusNoContent}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		h.release()
		h.srv.Close()
	})
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	if h.started++; h.started == 1 {
		h.first = time.Now()
	}
	hold, secret := h.hold, h.secret
	h.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if err := webhooks.Verify(secret, r.Header, body, time.Now()); err != nil {
		h.t.Errorf("webhook request: %v", err)
	}
	var ev struct{ Type string }
	json.Unmarshal(body, &ev)
	h.mu.Lock()
	status := h.status
	h.got = append(h.got, hookRequest{id: r.Header.Get(webhooks.HeaderID), typ: ev.Type, body: body, status: status})
	h.mu.Unlock()
	w.WriteHeader(status)
}

func (h *hookReceiver) holdRequests() {
	h.mu.Lock()
	h.hold = make(chan struct{})
	h.mu.Unlock()
}

func (h *hookReceiver) release() {
	h.mu.Lock()
	if h.hold != nil {
		close(h.hold)
		h.hold = nil
	}
	h.mu.Unlock()
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func (h *hookReceiver) startedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

// firstStarted is when the first request arrived (zero before).
func (h *hookReceiver) firstStarted() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first
}

// deliveredTypes are the types answered 2xx, in the order they came, repeats collapsed by event id.
func (h *hookReceiver) delivered() (ids, types []string) {
	for _, r := range h.requests() {
		if r.status/100 == 2 && (len(ids) == 0 || ids[len(ids)-1] != r.id) {
			ids, types = append(ids, r.id), append(types, r.typ)
		}
	}
	return ids, types
}

// addHook runs `webhook add` for h on db (with the loopback flag) and gives h the secret.
func addHook(t *testing.T, db string, h *hookReceiver, extra ...string) string {
	t.Helper()
	stdout, stderr := mustRun(t, db, append([]string{"webhook", "add", "--url", h.srv.URL + "/hooks", "--allow-http-loopback-webhooks"}, extra...)...)
	h.mu.Lock()
	h.secret = strings.TrimSpace(stdout)
	h.mu.Unlock()
	m := regexp.MustCompile(`added webhook (\S+) `).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("webhook add: stderr %q names no id", stderr)
	}
	return m[1]
}

// TestWebhookCLI: add refuses bad URLs and types with one line and stores nothing; prints the secret
// alone on stdout and the id on stderr; list shows no secret; deliveries and remove know the id; the
// secret is sealed at rest with --secret-key-file.
func TestWebhookCLI(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://hooks.example.com/x"}, "not https"},
		{[]string{"--url", "https://10.1.2.3/x"}, "private address"},
		{[]string{"--url", "https://169.254.169.254/x"}, "link-local"},
		{[]string{"--url", "https://[::1]/x"}, "loopback"},
		{[]string{"--url", "http://127.0.0.1:9/x"}, "loopback"},
		{[]string{"--url", "https://user:secret@hooks.example.com/x"}, "user or password"},
		{[]string{"--url", "hooks.example.com"}, "not an absolute URL"},
		{[]string{"--url", "https://hooks.example.com/x", "--types", "user.created,user.nope"}, `unknown event type "user.nope"`},
		{[]string{"--url", "http://10.1.2.3/x", "--allow-http-loopback-webhooks"}, "private address"},
		{nil, "--url is required"},
	} {
		line := mustFail(t, db, append([]string{"webhook", "add"}, tc.args...)...)
		if !strings.Contains(line, tc.want) || strings.Contains(line, "secret@") {
			t.Errorf("webhook add %v: %q, want it to say %q", tc.args, line, tc.want)
		}
	}
	if out, _ := mustRun(t, db, "webhook", "list"); strings.Count(out, "\n") != 1 {
		t.Errorf("refused adds stored something:\n%s", out)
	}

	stdout, stderr := mustRun(t, db, "webhook", "add", "--url", "https://hooks.example.com/scimsso", "--types", "user.created, user.deactivated", "--types", "user.created")
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=\n$`).MatchString(stdout) {
		t.Errorf("webhook add: stdout %q, want the secret alone", stdout)
	}
	id := regexp.MustCompile(`added webhook (\S+) for user.created,user.deactivated`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("webhook add: stderr %q", stderr)
	}
	out, _ := mustRun(t, db, "webhook", "list")
	if !strings.Contains(out, id[1]) || !strings.Contains(out, "https://hooks.example.com/scimsso") || strings.Contains(out, "whsec_") {
		t.Errorf("webhook list:\n%s", out)
	}
	if out, _ := mustRun(t, db, "webhook", "deliveries", id[1]); !strings.HasPrefix(out, "AT") || strings.Count(out, "\n") != 1 {
		t.Errorf("deliveries of a new webhook:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deliveries", "nope"}, `unknown webhook "nope"`},
		{[]string{"deliveries", id[1], "--limit", "0"}, "--limit"},
		{[]string{"deliveries", id[1], "--resend", "evt_nope"}, "never sent"},
		{[]string{"deliveries", id[1], "--outcome", "lost"}, "--outcome must be delivered, failed or gave_up"},
		{[]string{"remove", "nope"}, `unknown webhook "nope"`},
	} {
		if line := mustFail(t, db, append([]string{"webhook"}, tc.args...)...); !strings.Contains(line, tc.want) {
			t.Errorf("webhook %v: %q, want it to say %q", tc.args, line, tc.want)
		}
	}
	webhookGaveUpBehind(t, db, id[1])
	if out, _ := mustRun(t, db, "webhook", "remove", id[1]); !strings.Contains(out, "removed webhook "+id[1]) {
		t.Errorf("webhook remove: %q", out)
	}
	if out, _ := mustRun(t, db, "webhook", "list"); strings.Contains(out, id[1]) {
		t.Errorf("removed webhook still listed:\n%s", out)
	}

	// With a key file the secret is sealed in the database.
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte("k1:"+strings.Repeat("A", 43)+"=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, db, "webhook", "add", "--url", "https://hooks.example.com/sealed", "--secret-key-file", keyFile)
	sdb, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var secret string
	if err := sdb.QueryRow(`SELECT secret FROM webhooks WHERE url = ?`, "https://hooks.example.com/sealed").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "enc:v1:k1:") {
		t.Errorf("stored secret %q, want it sealed", secret)
	}
}

// scimChanges makes one user go through created, updated, email_changed, deactivated and reactivated.
func scimChanges(t *testing.T, base, tok, email string) {
	t.Helper()
	id := createUser(t, base, "acme", tok, email)
	for _, op := range []string{
		`{"op":"add","path":"emails","value":[{"value":"home-` + email + `","type":"home"}]}`,
		`{"op":"replace","path":"userName","value":"new-` + email + `"}`,
		`{"op":"replace","path":"active","value":false}`,
		`{"op":"replace","path":"active","value":true}`,
	} {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
		if res, b := send(t, scimRequest(t, http.MethodPatch, base+"/scim/v2/acme/Users/"+id, tok, body)); res.StatusCode != http.StatusOK {
			t.Fatalf("PATCH %s: %d\n%s", op, res.StatusCode, b)
		}
	}
}

// TestWebhookDelivery: SCIM changes reach a receiver through a real server, signed, in order; the
// webhook's deliveries list them; a receiver that redirects gets nothing followed (its target nothing).
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, db string) {
		createTenant(t, db, "acme", "acme.com")
		tok, _ := issueToken(t, db, "acme")
		h := newHookReceiver(t)
		id := addHook(t, db, h)
		target := newHookReceiver(t)
		redirect := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusTemporaryRedirect))
		defer redirect.Close()
		mustRun(t, db, "webhook", "add", "--url", redirect.URL, "--allow-http-loopback-webhooks", "--types", "user.created")
		s := startServer(t, db, "--allow-http-loopback-webhooks")
		scimChanges(t, s.url, tok, "ada@acme.com")
		want := []string{store.EventUserCreated, store.EventUserUpdated, store.EventUserEmailChanged, store.EventUserDeactivated, store.EventUserReactivated}
		waitFor(t, "the five events", 30*time.Second, func() bool { _, types := h.delivered(); return len(types) >= 5 })
		if _, types := h.delivered(); !slices.Equal(types, want) {
			t.Errorf("delivered %v, want %v", types, want)
		}
		// The deliveries the cursor passed are not recorded one by one: the newest of each pass is, the
		// last delivered, so the list ends with user.reactivated, delivered, and holds no failure.
		var out string
		waitFor(t, "the last delivery's record", 30*time.Second, func() bool {
			out, _ = mustRun(t, db, "webhook", "deliveries", id)
			return strings.Contains(out, "user.reactivated")
		})
		if n := strings.Count(out, "delivered"); n < 1 || n > 5 || !strings.Contains(out, "204") || strings.Contains(out, "failed") {
			t.Errorf("deliveries:\n%s", out)
		}
		// Each body is the event as GET /api/v1/events lists it, byte for byte.
		key, _ := mustRun(t, db, "apikey", "create", "--name", "sync", "--scope", "events:read")
		r, err := http.NewRequest(http.MethodGet, s.url+"/api/v1/events?after=0", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
		res, body := send(t, r)
		var page struct{ Data []json.RawMessage }
		if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/events: %d %s", res.StatusCode, body)
		}
		listed := map[string]string{}
		for _, raw := range page.Data {
			var ev struct{ ID string }
			json.Unmarshal(raw, &ev)
			listed[ev.ID] = string(raw)
		}
		for _, r := range h.requests() {
			if listed[r.id] != string(r.body) {
				t.Errorf("webhook body %s\nevents API    %s", r.body, listed[r.id])
			}
		}
		if n := target.startedCount(); n != 0 {
			t.Errorf("the redirect's target got %d requests", n)
		}
		if !strings.Contains(s.logs(t), "loopback") {
			t.Error("serve does not log that loopback webhooks are allowed")
		}
	})
}

// TestWebhookDeliveredByAnotherProcess: a serve started with --deliver=false writes events and
// delivers none, and says so in its log; a second serve on the same store (SQLite file or PostgreSQL
// database) delivers them, and then what the first writes while both run, each event once: delivery
// taken off the process that serves SCIM.
func TestWebhookDeliveredByAnotherProcess(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, db string) {
		createTenant(t, db, "acme", "acme.com")
		tok, _ := issueToken(t, db, "acme")
		h := newHookReceiver(t)
		addHook(t, db, h, "--types", "user.created")
		scim := startServer(t, db, "--allow-http-loopback-webhooks", "--deliver=false")
		for i := range 3 {
			createUser(t, scim.url, "acme", tok, fmt.Sprintf("a%d@acme.com", i))
		}
		// More than the catch-up's second and a drain's start: a delivering process would have sent
		// by now.
		time.Sleep(3 * time.Second)
		if n := h.startedCount(); n != 0 {
			t.Fatalf("serve --deliver=false sent %d webhook requests", n)
		}
		if !strings.Contains(scim.logs(t), "delivers no events") {
			t.Errorf("serve --deliver=false does not say it delivers nothing:\n%s", scim.logs(t))
		}
		startServer(t, db, "--allow-http-loopback-webhooks")
		waitFor(t, "the first three events, from the delivering process", 30*time.Second, func() bool { ids, _ := h.delivered(); return len(ids) >= 3 })
		for i := range 3 {
			createUser(t, scim.url, "acme", tok, fmt.Sprintf("b%d@acme.com", i))
		}
		waitFor(t, "the three written while both run", 30*time.Second, func() bool { ids, _ := h.delivered(); return len(ids) >= 6 })
		var users []string
		for _, r := range h.requests() {
			var ev struct {
				Data struct {
					UserName string `json:"user_name"`
				}
			}
			if err := json.Unmarshal(r.body, &ev); err != nil {
				t.Fatal(err)
			}
			users = append(users, ev.Data.UserName)
		}
		slices.Sort(users) // different users' events go side by side (lanes)
		if want := []string{"a0@acme.com", "a1@acme.com", "a2@acme.com", "b0@acme.com", "b1@acme.com", "b2@acme.com"}; !slices.Equal(users, want) {
			t.Errorf("delivered %v, want %v", users, want)
		}
	})
}

// TestWebhookHangingReceiverDoesNotSlowSCIM: while the receiver holds every request (until the test
// releases it: no attempt, retries included, can complete), SCIM creates go on: all of them are
// acknowledged while no delivery has completed. When they finish within AttemptTimeout of the
// drain's first request, no attempt can have timed out yet, so the drain must still be waiting on
// that one request; later (a loaded machine), a retry may have sent more, each held too.
func TestWebhookHangingReceiverDoesNotSlowSCIM(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")
	h := newHookReceiver(t)
	h.holdRequests()
	addHook(t, db, h)
	s := startServer(t, db, "--allow-http-loopback-webhooks")
	createUser(t, s.url, "acme", tok, "first@acme.com")
	waitFor(t, "the drain's first request", 30*time.Second, func() bool { return h.startedCount() >= 1 })
	const n = 100
	for i := range n {
		createUser(t, s.url, "acme", tok, fmt.Sprintf("u%d@acme.com", i)) // fails the test unless 201
	}
	started, got := h.startedCount(), len(h.requests())
	if got != 0 {
		t.Fatalf("%d deliveries completed while the receiver held every request", got)
	}
	if took := time.Since(h.firstStarted()); took < webhooks.AttemptTimeout && started > 2 {
		t.Errorf("%v after the drain's first request, within AttemptTimeout, the receiver saw %d requests start; want the drain still held on its first", took, started)
	}
	h.release()
	waitFor(t, "every event once the receiver answers", time.Minute, func() bool { ids, _ := h.delivered(); return len(ids) >= n+1 })
}

// TestWebhookKillReplicaMidDelivery: replica A is killed (SIGKILL) while its drain waits for the
// receiver; replica B takes the drain over and every event arrives, each user's in order.
func TestWebhookKillReplicaMidDelivery(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")
	h := newHookReceiver(t)
	h.holdRequests()
	addHook(t, db, h)
	a := startServer(t, db, "--allow-http-loopback-webhooks")
	var ids []string
	for i := range 5 {
		ids = append(ids, createUser(t, a.url, "acme", tok, fmt.Sprintf("a%d@acme.com", i)))
	}
	waitFor(t, "A's drain in flight", 30*time.Second, func() bool { return h.startedCount() >= 1 })
	b := startServer(t, db, "--allow-http-loopback-webhooks")
	a.signal(t, syscall.SIGKILL)
	a.wait(t, 5*time.Second)
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	for i, id := range ids {
		if res, body := send(t, scimRequest(t, http.MethodPatch, b.url+"/scim/v2/acme/Users/"+id, tok, deactivate)); res.StatusCode != http.StatusOK {
			t.Fatalf("PATCH: %d\n%s", res.StatusCode, body)
		}
		createUser(t, b.url, "acme", tok, fmt.Sprintf("b%d@acme.com", i))
	}
	h.release()
	waitFor(t, "every event through B", 3*time.Minute, func() bool { ids, _ := h.delivered(); return len(ids) >= 15 })
	// Each event at least once; each user's in seq order, and none after a later one of its user.
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, r := range h.requests() {
		if r.status/100 != 2 {
			continue
		}
		var ev struct {
			Seq  int64
			Data struct{ ID string }
		}
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		seen[r.id] = true
		if ev.Seq <= last[ev.Data.ID] {
			t.Errorf("user %s: event %d after its event %d", ev.Data.ID, ev.Seq, last[ev.Data.ID])
		}
		last[ev.Data.ID] = ev.Seq
	}
	if len(seen) != 15 {
		t.Errorf("%d events delivered, want 15", len(seen))
	}
}

// webhookGaveUpBehind: a give-up behind MaxDeliveries deliveries is not among the latest, but
// --outcome gave_up lists it (and only it); --outcome delivered lists only deliveries.
func webhookGaveUpBehind(t *testing.T, db, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	d := func(seq int64, outcome string) store.Delivery {
		return store.Delivery{WebhookID: id, EventID: fmt.Sprintf("evt_%d", seq), Seq: seq, EventType: store.EventUserCreated,
			At: time.Now(), Outcome: outcome}
	}
	ds := []store.Delivery{d(1, store.DeliveryGaveUp)}
	for i := range store.MaxDeliveries {
		ds = append(ds, d(int64(i+2), store.DeliveryDelivered))
	}
	if err := st.AdvanceWebhook(ctx, id, 0, int64(store.MaxDeliveries+1), ds); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if out, _ := mustRun(t, db, "webhook", "deliveries", id, "--limit", fmt.Sprint(store.MaxDeliveries)); strings.Contains(out, "gave_up") ||
		strings.Count(out, "\n") != store.MaxDeliveries+1 {
		t.Errorf("deliveries: %d lines, give-up shown: %v", strings.Count(out, "\n"), strings.Contains(out, "gave_up"))
	}
	out, _ := mustRun(t, db, "webhook", "deliveries", id, "--outcome", "gave_up")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "evt_1 ") || !strings.Contains(lines[1], "gave_up") {
		t.Errorf("deliveries --outcome gave_up:\n%s", out)
	}
	out, _ = mustRun(t, db, "webhook", "deliveries", id, "--outcome", "delivered", "--limit", "5")
	if strings.Count(out, "\n") != 6 || strings.Contains(out, "gave_up") {
		t.Errorf("deliveries --outcome delivered --limit 5:\n%s", out)
	}
}
