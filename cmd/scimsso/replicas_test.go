package main

// Several replicas on one PostgreSQL, and what must survive faults: two `scimsso serve` processes on
// loopback share sign-ins, replays, sessions and settings through the store; a kill -9 mid load or a
// database restart loses nothing acknowledged. Without a PostgreSQL the PostgreSQL cases are skipped
// (internal/pgtest), except in CI, where they must run.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/samlsp/samltest"
)

// spBase is every replica's --base-url: behind a load balancer they are one service.
const spBase = "http://127.0.0.1"

// ssoTenant creates tenant acme (domain acme.com) on db with SSO active for a test IdP, and a SCIM token.
func ssoTenant(t *testing.T, db string) (idp *samltest.IdP, token string) {
	t.Helper()
	createTenant(t, db, "acme", "acme.com")
	token, _ = issueToken(t, db, "acme")
	idp, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(meta, idp.Metadata(), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "active")
	return idp, token
}

// samlResponse is the IdP's signed answer for email, to request id (IdP-initiated when "").
func samlResponse(t testing.TB, idp *samltest.IdP, inResponseTo, email string) string {
	t.Helper()
	resp, err := signedResponse(idp, inResponseTo, email)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// signedResponse is samlResponse for goroutines, which must not end the test themselves.
func signedResponse(idp *samltest.IdP, inResponseTo, email string) (string, error) {
	doc, err := idp.Make(samltest.Response{ACS: spBase + "/saml/acme/acs", Audience: spBase + "/saml/acme/metadata",
		InResponseTo: inResponseTo, NameID: email,
		Attrs: []samltest.Attr{{Name: samltest.ClaimEmail, Values: []string{email}}, {Name: samltest.ClaimCountry, Values: []string{"DE"}}}})
	return samltest.Encode(doc), err
}

var noRedirects = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request without following redirects, with the cookies given, and returns the response
// with its body read.
func do(t testing.TB, method, u string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	res, err := noRedirects.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func cookieOf(t testing.TB, res *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no %s cookie in the response (status %d)", name, res.StatusCode)
	return nil
}

// startSignIn starts an SP-initiated sign-in on base and returns the request id and the binding cookie.
func startSignIn(t *testing.T, base string) (id string, binding *http.Cookie) {
	t.Helper()
	res, body := do(t, http.MethodGet, base+"/saml/acme/login", nil)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("GET %s/saml/acme/login: %d, want 302\n%s", base, res.StatusCode, body)
	}
	id, _, err := samltest.RequestOf(res.Header.Get("Location"))
	if err != nil || id == "" {
		t.Fatalf("no AuthnRequest in %s: %v", res.Header.Get("Location"), err)
	}
	return id, cookieOf(t, res, "__Host-scimsso_binding")
}

// postResponse posts a SAMLResponse to base's ACS; a sign-in that succeeds returns the session cookie.
func postResponse(t *testing.T, base, samlResp string, cookies ...*http.Cookie) (*http.Response, *http.Cookie) {
	t.Helper()
	res, _ := do(t, http.MethodPost, base+"/saml/acme/acs", url.Values{"SAMLResponse": {samlResp}}, cookies...)
	if res.StatusCode != http.StatusSeeOther {
		return res, nil
	}
	return res, cookieOf(t, res, "scimsso_session")
}

// meStatus is the status of GET /me on base with the session cookie.
func meStatus(t *testing.T, base string, session *http.Cookie) int {
	t.Helper()
	res, _ := do(t, http.MethodGet, base+"/me", nil, session)
	return res.StatusCode
}

// csrfPair is a CSRF cookie and the same value for the form field: a browser gets both from a page.
func csrfPair() (*http.Cookie, string) {
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	return &http.Cookie{Name: "__Host-scimsso_csrf", Value: v}, v
}

func refusalCodes(t *testing.T, s *server) []string {
	var codes []string
	for _, l := range s.logLines(t) {
		if l["msg"] == "sign-in refused" {
			if c, ok := l["code"].(string); ok {
				codes = append(codes, c)
			}
		}
	}
	return codes
}

func TestReplicasShareEverything(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	idp, tok := ssoTenant(t, db)
	a, b := startServer(t, db), startServer(t, db)
	aliceID := createUser(t, a.url, "acme", tok, "alice@acme.com")

	t.Run("sign-in started on A completes on B", func(t *testing.T) {
		id, binding := startSignIn(t, a.url)
		res, session := postResponse(t, b.url, samlResponse(t, idp, id, "alice@acme.com"), binding)
		if session == nil {
			t.Fatalf("ACS on B: %d, want 303 with a session\n%s", res.StatusCode, b.logs(t))
		}
		for name, s := range map[string]*server{"A": a, "B": b} {
			if got := meStatus(t, s.url, session); got != http.StatusOK {
				t.Errorf("/me on %s with B's session: %d, want 200", name, got)
			}
		}
		// The request is consumed on B: answering it again on A is refused.
		if res, _ := postResponse(t, a.url, samlResponse(t, idp, id, "alice@acme.com"), binding); res.StatusCode != http.StatusForbidden {
			t.Errorf("second answer to one request on A: %d, want 403", res.StatusCode)
		}
		if codes := refusalCodes(t, a); len(codes) == 0 || codes[len(codes)-1] != "in-response-to" {
			t.Errorf("A's refusal codes %v, want the last to be in-response-to", codes)
		}

		// Logout on B ends the session on A.
		csrf, field := csrfPair()
		if res, body := do(t, http.MethodPost, b.url+"/logout", url.Values{"csrf": {field}}, session, csrf); res.StatusCode >= 400 {
			t.Fatalf("logout on B: %d\n%s", res.StatusCode, body)
		}
		if got := meStatus(t, a.url, session); got != http.StatusUnauthorized {
			t.Errorf("/me on A after logout on B: %d, want 401", got)
		}
	})

	t.Run("an assertion used on A is a replay on B", func(t *testing.T) {
		resp := samlResponse(t, idp, "", "alice@acme.com") // IdP-initiated: only the replay cache stops a second use
		if _, session := postResponse(t, a.url, resp); session == nil {
			t.Fatal("IdP-initiated sign-in on A refused")
		}
		res, session := postResponse(t, b.url, resp)
		if session != nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("the same assertion on B: %d, want 403 and no session", res.StatusCode)
		}
		if codes := refusalCodes(t, b); len(codes) == 0 || codes[len(codes)-1] != "replay" {
			t.Errorf("B's refusal codes %v, want the last to be replay", codes)
		}
	})

	t.Run("deactivation through B ends a session made on A", func(t *testing.T) {
		_, session := postResponse(t, a.url, samlResponse(t, idp, "", "alice@acme.com"))
		if session == nil || meStatus(t, b.url, session) != http.StatusOK {
			t.Fatal("a session made on A does not work on B")
		}
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
		if res, body := send(t, scimRequest(t, http.MethodPatch, b.url+"/scim/v2/acme/Users/"+aliceID, tok, patch)); res.StatusCode != http.StatusOK {
			t.Fatalf("PATCH active=false on B: %d\n%s", res.StatusCode, body)
		}
		for name, s := range map[string]*server{"A": a, "B": b} {
			if got := meStatus(t, s.url, session); got != http.StatusUnauthorized {
				t.Errorf("/me on %s after deactivation: %d, want 401", name, got)
			}
		}
		if res, _ := postResponse(t, a.url, samlResponse(t, idp, "", "alice@acme.com")); res.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in of the deactivated user on A: %d, want 403", res.StatusCode)
		}
		if codes := refusalCodes(t, a); len(codes) == 0 || codes[len(codes)-1] != "inactive" {
			t.Errorf("A's refusal codes %v, want the last to be inactive", codes)
		}
	})

	t.Run("settings changed apply on both at the next request", func(t *testing.T) {
		for _, s := range []*server{a, b} { // both have the active settings cached
			if res, _ := do(t, http.MethodGet, s.url+"/saml/acme/login", nil); res.StatusCode != http.StatusFound {
				t.Fatalf("login before the change: %d", res.StatusCode)
			}
		}
		mustRun(t, db, "sso", "set", "--tenant", "acme", "--state", "off")
		for name, s := range map[string]*server{"A": a, "B": b} {
			if res, body := do(t, http.MethodGet, s.url+"/saml/acme/login", nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Single sign-on is off") {
				t.Errorf("%s after SSO was turned off: %d, want 403 \"Single sign-on is off\"", name, res.StatusCode)
			}
		}
	})
}

func TestReplicasConcurrentCreatesOfOneUserName(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")
	replicas := []*server{startServer(t, db), startServer(t, db)}
	const n = 100
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, _ := http.NewRequest(http.MethodPost, replicas[i%2].url+"/scim/v2/acme/Users", strings.NewReader(userBody("same@acme.com", "Same")))
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", "application/scim+json")
			res, err := httpClient.Do(r)
			if err != nil {
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	if lr := listUsers(t, replicas[0].url, "acme", tok, ""); *lr.TotalResults != 1 {
		t.Errorf("%d users after the race, want 1", *lr.TotalResults)
	}
}

// provisioner creates users user<k>@acme.com through base from workers goroutines until stopped,
// and remembers every create that was acknowledged (201) and every status seen (0: no answer).
type provisioner struct {
	tok        string
	next       atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	acked      map[string]string // userName → id
	status     map[int]int
	no503Retry int // 503 answers without Retry-After
}

func provision(base, tok string, workers int) *provisioner {
	p := &provisioner{tok: tok, stop: make(chan struct{}), acked: map[string]string{}, status: map[int]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				name := fmt.Sprintf("user%d@acme.com", p.next.Add(1))
				r, _ := http.NewRequest(http.MethodPost, base+"/scim/v2/acme/Users", strings.NewReader(userBody(name, "Load")))
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/scim+json")
				res, err := client.Do(r)
				if err != nil { // no answer: nothing was acknowledged
					p.mu.Lock()
					p.status[0]++
					p.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					continue
				}
				var u struct{ ID string }
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				p.mu.Lock()
				p.status[res.StatusCode]++
				if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
					p.no503Retry++
				}
				if res.StatusCode == http.StatusCreated && json.Unmarshal(body, &u) == nil {
					p.acked[name] = u.ID
				}
				p.mu.Unlock()
				if res.StatusCode == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return p
}

func (p *provisioner) halt() {
	close(p.stop)
	p.wg.Wait()
}

func (p *provisioner) acknowledged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// verify checks that every acknowledged user is present once and whole: found by userName and by
// email (the index table written in the same transaction), with the attributes it was created with.
// At most the creates in flight when the fault hit may exist beyond the acknowledged ones.
func (p *provisioner) verify(t *testing.T, base string, inFlight int) {
	t.Helper()
	for name, id := range p.acked {
		for _, f := range []string{`userName eq "` + name + `"`, `emails.value eq "` + name + `"`} {
			lr := listUsers(t, base, "acme", p.tok, f)
			if *lr.TotalResults != 1 || lr.Resources[0].ID != id {
				t.Fatalf("%s: %d results, want exactly the acknowledged user %s", f, *lr.TotalResults, id)
			}
		}
		res, body := send(t, scimRequest(t, http.MethodGet, base+"/scim/v2/acme/Users/"+id, p.tok, ""))
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"givenName":"Load"`) || !strings.Contains(string(body), `"US"`) {
			t.Fatalf("user %s after the fault: %d %s", id, res.StatusCode, body)
		}
	}
	total := *listUsers(t, base, "acme", p.tok, "").TotalResults
	if total < len(p.acked) || total > len(p.acked)+inFlight {
		t.Fatalf("%d users stored, %d acknowledged: want between %d and %d", total, len(p.acked), len(p.acked), len(p.acked)+inFlight)
	}
	t.Logf("%d creates acknowledged, %d users stored, statuses %v", len(p.acked), total, p.status)
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onBothStores runs test in parallel on a fresh SQLite file and on a fresh PostgreSQL database, each
// named by the DSN it gets.
func onBothStores(t *testing.T, test func(t *testing.T, db string)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			if backend == "postgres" {
				db = pgtest.URL(t)
			}
			test(t, db)
		})
	}
}

// TestKillDuringProvisioning kills the server with SIGKILL while four clients create users, restarts
// it, and checks that what was acknowledged is all there, once and whole.
func TestKillDuringProvisioning(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, db string) {
		createTenant(t, db, "acme", "acme.com")
		tok, _ := issueToken(t, db, "acme")
		s := startServer(t, db)
		const workers = 4
		p := provision(s.url, tok, workers) // requests to the killed server go unanswered (status 0)
		waitFor(t, "50 acknowledged creates", 30*time.Second, func() bool { return p.acknowledged() >= 50 })
		s.signal(t, syscall.SIGKILL)
		s.wait(t, 5*time.Second)
		p.halt()
		s = startServer(t, db)
		p.verify(t, s.url, workers)
	})
}

// TestPostgresRestartUnderLoad stops PostgreSQL while clients create users: the server answers 503
// with Retry-After (never 500), recovers by itself when the database is back, and loses nothing it
// acknowledged.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	db := pg.URL()
	createTenant(t, db, "acme", "acme.com")
	tok, _ := issueToken(t, db, "acme")
	s := startServer(t, db)
	p := provision(s.url, tok, 4)
	waitFor(t, "creates before the restart", 30*time.Second, func() bool { return p.acknowledged() >= 30 })

	pg.Stop()
	waitFor(t, "503 while PostgreSQL is down", 20*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.status[http.StatusServiceUnavailable] >= 5
	})
	res, _ := do(t, http.MethodGet, s.url+"/readyz", nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz while PostgreSQL is down: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	down := p.acknowledged()
	pg.Restart()
	waitFor(t, "creates after the restart", 30*time.Second, func() bool { return p.acknowledged() >= down+30 })
	p.halt()

	if res, _ := do(t, http.MethodGet, s.url+"/readyz", nil); res.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the restart: %d, want 200", res.StatusCode)
	}
	for code, n := range p.status {
		if code != http.StatusCreated && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d (0: none); want only 201 and 503", n, code)
			for _, l := range s.logLines(t) {
				if l["level"] == "error" || l["status"] == float64(500) {
					t.Logf("server error: %v", l)
				}
			}
		}
	}
	if p.no503Retry > 0 {
		t.Errorf("%d 503 answers without Retry-After", p.no503Retry)
	}
	p.verify(t, s.url, 4)
}

// TestPostgresDownEveryRoute: with the database stopped, every route that needs it answers 503 with
// Retry-After (never a 500, a 401 or a 404 that would mislead a client), and all work again once the
// database is back.
func TestPostgresDownEveryRoute(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	db := pg.URL()
	idp, tok := ssoTenant(t, db)
	s := startServer(t, db)
	id := createUser(t, s.url, "acme", tok, "alice@acme.com")
	key, _ := mustRun(t, db, "apikey", "create", "--name", "sync", "--scope", "directory:read,events:read")
	key = strings.TrimSpace(key)
	_, session := postResponse(t, s.url, samlResponse(t, idp, "", "alice@acme.com"))
	if session == nil {
		t.Fatal("sign-in refused")
	}
	csrf, field := csrfPair()
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`
	routes := []struct {
		name string
		req  func() *http.Response
	}{
		{"SCIM list", func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodGet, s.url+"/scim/v2/acme/Users?filter="+url.QueryEscape(`userName eq "alice@acme.com"`), tok, ""))
			return res
		}},
		{"SCIM get", func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodGet, s.url+"/scim/v2/acme/Users/"+id, tok, ""))
			return res
		}},
		{"SCIM create", func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodPost, s.url+"/scim/v2/acme/Users", tok, userBody("bob@acme.com", "Bob")))
			return res
		}},
		{"SCIM patch", func() *http.Response {
			res, _ := send(t, scimRequest(t, http.MethodPatch, s.url+"/scim/v2/acme/Users/"+id, tok, patch))
			return res
		}},
		{"SP-initiated login", func() *http.Response { res, _ := do(t, http.MethodGet, s.url+"/saml/acme/login", nil); return res }},
		{"ACS", func() *http.Response {
			res, _ := postResponse(t, s.url, samlResponse(t, idp, "", "alice@acme.com"))
			return res
		}},
		{"email form", func() *http.Response {
			res, _ := do(t, http.MethodPost, s.url+"/login", url.Values{"csrf": {field}, "email": {"alice@acme.com"}}, csrf)
			return res
		}},
		{"/me", func() *http.Response { res, _ := do(t, http.MethodGet, s.url+"/me", nil, session); return res }},
		{"/readyz", func() *http.Response { res, _ := do(t, http.MethodGet, s.url+"/readyz", nil); return res }},
		{"platform API users", func() *http.Response {
			r, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/tenants/acme/users", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			res, _ := send(t, r)
			return res
		}},
		{"platform API events", func() *http.Response {
			r, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/events", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			res, _ := send(t, r)
			return res
		}},
	}
	pg.Stop()
	for _, rt := range routes {
		res := rt.req()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s with PostgreSQL down: %d, Retry-After %q; want 503 with Retry-After", rt.name, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	if got := metricValue(t, s.metricsURL, `scimsso_store_errors_total{kind="unavailable"}`); got < 1 {
		t.Errorf("store errors (unavailable) counted %v times, want at least 1", got)
	}
	pg.Restart()
	waitFor(t, "readiness after the restart", 30*time.Second, func() bool {
		res, _ := do(t, http.MethodGet, s.url+"/readyz", nil)
		return res.StatusCode == http.StatusOK
	})
	if got := meStatus(t, s.url, session); got != http.StatusOK {
		t.Errorf("/me after the restart: %d, want 200 (the session is in the database)", got)
	}
	createUser(t, s.url, "acme", tok, "carol@acme.com")
}

// metricValue is the value of the series name{labels} (labels as Prometheus prints them, sorted), or -1,
// read from the metrics listener at base.
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	res, body := do(t, http.MethodGet, base+"/metrics", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	idp, tok := ssoTenant(t, db)
	s := startServer(t, db)
	createUser(t, s.url, "acme", tok, "alice@acme.com")
	send(t, scimRequest(t, http.MethodGet, s.url+"/scim/v2/acme/Users", "scimsso_wrong", ""))
	resp := samlResponse(t, idp, "", "alice@acme.com")
	postResponse(t, s.url, resp)
	postResponse(t, s.url, resp) // a replay

	for series, want := range map[string]float64{
		`scimsso_http_requests_total{method="POST",route="/scim/v2/{tenant}",status="201"}`:  1,
		`scimsso_http_requests_total{method="GET",route="/scim/v2/{tenant}",status="401"}`:   1,
		`scimsso_http_requests_total{method="POST",route="/saml/{tenant}/acs",status="303"}`: 1,
		`scimsso_http_requests_total{method="POST",route="/saml/{tenant}/acs",status="403"}`: 1,
		`scimsso_scim_operations_total{operation="create",status="201"}`:                     1,
		`scimsso_signins_total{outcome="ok"}`:                                                1,
		`scimsso_signins_total{outcome="replay"}`:                                            1,
		`scimsso_http_request_duration_seconds_count{route="/saml/{tenant}/acs"}`:            2,
	} {
		if got := metricValue(t, s.metricsURL, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	_, body := do(t, http.MethodGet, s.metricsURL+"/metrics", nil)
	for _, secret := range []string{"acme", "alice", tok} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics mentions %q: no tenant, user or token belongs there", secret)
		}
	}
	if !strings.Contains(body, "process_resident_memory_bytes") || !strings.Contains(body, "go_goroutines") {
		t.Error("/metrics lacks the process and Go runtime metrics")
	}
}

// rssKB is the resident set size of process pid, from /proc.
func rssKB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestSustainedMixedLoad runs SCIM writes (creates, PATCHes) and sign-ins against two replicas on one
// PostgreSQL for SCIMSSO_SOAK (default 30s; CI runs several minutes) and checks that neither server's
// memory grows: the largest RSS of the last quarter is within 25% (+16 MB) of the largest after the
// first quarter's warm-up.
func TestSustainedMixedLoad(t *testing.T) {
	t.Parallel()
	soak := 30 * time.Second
	if v := os.Getenv("SCIMSSO_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SCIMSSO_SOAK=%q: %v", v, err)
		}
		soak = d
	}
	db := pgtest.URL(t)
	idp, tok := ssoTenant(t, db)
	replicas := []*server{startServer(t, db), startServer(t, db)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops, bad atomic.Int64
	var next atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirects.CheckRedirect}
	post := func(r *http.Request) int {
		res, err := client.Do(r)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				base := replicas[(w+i)%2].url
				name := fmt.Sprintf("soak%d@acme.com", next.Add(1))
				r, _ := http.NewRequest(http.MethodPost, base+"/scim/v2/acme/Users", strings.NewReader(userBody(name, "Soak")))
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/scim+json")
				var u struct{ ID string }
				res, err := client.Do(r)
				if err != nil {
					bad.Add(1)
					continue
				}
				json.NewDecoder(res.Body).Decode(&u)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					bad.Add(1)
					continue
				}
				patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`
				r, _ = http.NewRequest(http.MethodPatch, replicas[(w+i+1)%2].url+"/scim/v2/acme/Users/"+u.ID, strings.NewReader(patch))
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/scim+json")
				if post(r) != http.StatusOK {
					bad.Add(1)
				}
				resp, err := signedResponse(idp, "", name)
				if err != nil {
					bad.Add(1)
					continue
				}
				form := url.Values{"SAMLResponse": {resp}}
				r, _ = http.NewRequest(http.MethodPost, base+"/saml/acme/acs", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if post(r) != http.StatusSeeOther {
					bad.Add(1)
				}
				ops.Add(3)
			}
		}()
	}
	var samples [2][]int64
	start := time.Now()
	for time.Since(start) < soak {
		time.Sleep(soak / 40)
		for x, s := range replicas {
			samples[x] = append(samples[x], rssKB(t, s.cmd.Process.Pid))
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d operations failed", bad.Load(), ops.Load())
	}
	peak := func(s []int64) int64 { return slices.Max(s) }
	for x, s := range samples {
		q := len(s) / 4
		warm, last := peak(s[q:len(s)-q]), peak(s[len(s)-q:])
		t.Logf("replica %d RSS (MB) every %v: %v", x, soak/40, mbs(s))
		if float64(last) > 1.25*float64(warm)+16*1024 {
			t.Errorf("replica %d: RSS grew from %d MB to %d MB under a steady load", x, warm/1024, last/1024)
		}
	}
	t.Logf("%d operations in %v (%.0f/s) over two replicas", ops.Load(), soak, float64(ops.Load())/soak.Seconds())
}

func mbs(kbs []int64) []int64 {
	out := make([]int64, len(kbs))
	for i, k := range kbs {
		out[i] = k / 1024
	}
	return out
}
