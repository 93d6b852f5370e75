package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "secret-token-never-printed"

// fakeSCIM is a minimal in-memory SCIM Users endpoint under /scim/v2/acme
// that fails the test when a request differs from what scimload documents.
type fakeSCIM struct {
	t *testing.T
	// rejectEmailPatch answers Entra's email PATCH with a 400, to test
	// failure reporting.
	rejectEmailPatch bool

	mu     sync.Mutex
	byID   map[string]map[string]any
	byName map[string]string // userName -> id
	byExt  map[string]string // externalId -> id
	counts map[string]int    // request shape -> count
	nextID int
}

func newFake(t *testing.T) (*fakeSCIM, string) {
	f := &fakeSCIM{
		t:      t,
		byID:   map[string]map[string]any{},
		byName: map[string]string{},
		byExt:  map[string]string{},
		counts: map[string]int{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/scim/v2/acme"
}

func (f *fakeSCIM) count(shape string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[shape]
}

var filterRE = regexp.MustCompile(`^(userName|externalId) eq "([^"]+)"$`)

func (f *fakeSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		w.Header().Set("WWW-Authenticate", "Bearer")
		scimError(w, http.StatusUnauthorized, "", "bad token")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/scim/v2/acme/Users")
	if !ok {
		f.t.Errorf("%s %s: unexpected path", r.Method, r.URL.Path)
		scimError(w, http.StatusNotFound, "", "no route")
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
			f.t.Errorf("%s %s: Content-Type %q, want application/scim+json", r.Method, r.URL.Path, ct)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && rest == "":
		f.list(w, r)
	case r.Method == http.MethodPost && rest == "":
		f.create(w, r)
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "/"):
		f.patch(w, r, rest[1:])
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		scimError(w, http.StatusMethodNotAllowed, "", "no")
	}
}

func (f *fakeSCIM) list(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.RawQuery
	if raw == "startIndex=1&count=2" {
		f.counts["preflight"]++
		listResponse(w, nil)
		return
	}
	// Okta encodes spaces as %20 and quotes as %22, never '+'.
	if strings.Contains(raw, "+") || !strings.Contains(raw, "%20eq%20%22") {
		f.t.Errorf("GET /Users?%s: filter not encoded as Okta does", raw)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		f.t.Errorf("GET /Users?%s: %v", raw, err)
	}
	m := filterRE.FindStringSubmatch(q.Get("filter"))
	if m == nil {
		f.t.Errorf("GET /Users?%s: unexpected filter %q", raw, q.Get("filter"))
		scimError(w, http.StatusBadRequest, "invalidFilter", "bad filter")
		return
	}
	shape := m[1]
	if strings.HasSuffix(raw, "&startIndex=1&count=100") {
		shape = "exists"
	} else if q.Has("startIndex") || q.Has("count") {
		f.t.Errorf("GET /Users?%s: unexpected paging", raw)
	}
	f.counts[shape]++
	index := f.byName
	if m[1] == "externalId" {
		index = f.byExt
	}
	var found []any
	if id, ok := index[m[2]]; ok {
		found = append(found, f.byID[id])
	}
	listResponse(w, found)
}

func (f *fakeSCIM) create(w http.ResponseWriter, r *http.Request) {
	var u struct {
		Schemas  []string `json:"schemas"`
		UserName string   `json:"userName"`
		Name     struct {
			GivenName, FamilyName string
		} `json:"name"`
		Emails []struct {
			Primary     bool
			Value, Type string
		} `json:"emails"`
		DisplayName string                           `json:"displayName"`
		Locale      string                           `json:"locale"`
		ExternalID  string                           `json:"externalId"`
		Groups      []any                            `json:"groups"`
		Password    string                           `json:"password"`
		Active      *bool                            `json:"active"`
		Addresses   []struct{ Type, Country string } `json:"addresses"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &u); err != nil {
		f.t.Errorf("POST /Users: %v: %s", err, body)
		scimError(w, http.StatusBadRequest, "invalidSyntax", "bad json")
		return
	}
	var problems []string
	check := func(ok bool, what string) {
		if !ok {
			problems = append(problems, what)
		}
	}
	check(len(u.Schemas) == 1 && u.Schemas[0] == "urn:ietf:params:scim:schemas:core:2.0:User", "schemas")
	check(strings.HasSuffix(u.UserName, "@example.com"), "userName")
	check(u.Name.GivenName != "" && u.Name.FamilyName != "", "name")
	check(len(u.Emails) == 1 && u.Emails[0].Primary && u.Emails[0].Type == "work" && u.Emails[0].Value == u.UserName, "emails")
	check(u.DisplayName != "" && u.Locale == "en-US", "displayName/locale")
	check(strings.HasPrefix(u.ExternalID, "00u"), "externalId")
	check(u.Groups != nil && len(u.Groups) == 0, "groups")
	check(u.Password == "1mz050nq", "password")
	check(u.Active != nil && *u.Active, "active")
	check(len(u.Addresses) == 1 && u.Addresses[0].Type == "work" && u.Addresses[0].Country == "US", "addresses")
	if problems != nil {
		f.t.Errorf("POST /Users: wrong %v in %s", problems, body)
		scimError(w, http.StatusBadRequest, "invalidValue", "bad user")
		return
	}
	f.counts["post"]++
	if _, dup := f.byName[u.UserName]; dup {
		scimError(w, http.StatusConflict, "uniqueness", "userName taken")
		return
	}
	f.nextID++
	id := fmt.Sprintf("id-%d", f.nextID)
	user := map[string]any{"id": id, "userName": u.UserName, "externalId": u.ExternalID, "active": true}
	f.byID[id], f.byName[u.UserName], f.byExt[u.ExternalID] = user, id, id
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(user)
}

func (f *fakeSCIM) patch(w http.ResponseWriter, r *http.Request, id string) {
	user, ok := f.byID[id]
	if !ok {
		f.t.Errorf("PATCH /Users/%s: unknown id", id)
		scimError(w, http.StatusNotFound, "", "no user")
		return
	}
	var p struct {
		Schemas    []string
		Operations []struct {
			Op, Path string
			Value    any
		}
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &p); err != nil || len(p.Schemas) != 1 || p.Schemas[0] != patchSchema || len(p.Operations) != 1 {
		f.t.Errorf("PATCH: unexpected body %s", body)
		scimError(w, http.StatusBadRequest, "invalidSyntax", "bad patch")
		return
	}
	o := p.Operations[0]
	value, isMap := o.Value.(map[string]any)
	email, isString := o.Value.(string)
	switch {
	case o.Op == "replace" && o.Path == "" && isMap && len(value) == 1 && value["active"] == false:
		f.counts["okta patch"]++
		user["active"] = false
		w.WriteHeader(http.StatusNoContent)
	case o.Op == "Replace" && o.Path == `emails[type eq "work"].value` && isString && strings.HasSuffix(email, "@example.com"):
		f.counts["entra patch"]++
		if f.rejectEmailPatch {
			scimError(w, http.StatusBadRequest, "mutability", "emails is read-only here")
			return
		}
		user["emails"] = []any{map[string]any{"type": "work", "value": email}}
		w.Header().Set("Content-Type", "application/scim+json")
		json.NewEncoder(w).Encode(user)
	default:
		f.t.Errorf("PATCH: unexpected operation %s", body)
		scimError(w, http.StatusBadRequest, "invalidValue", "bad op")
	}
}

func listResponse(w http.ResponseWriter, found []any) {
	w.Header().Set("Content-Type", "application/scim+json")
	json.NewEncoder(w).Encode(map[string]any{
		"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": len(found),
		"startIndex":   1,
		"itemsPerPage": len(found),
		"Resources":    append([]any{}, found...),
	})
}

func scimError(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":   fmt.Sprint(status),
		"scimType": scimType,
		"detail":   detail,
	})
}

// mustParse parses a command line that must be valid.
func mustParse(t *testing.T, args ...string) config {
	t.Helper()
	var stderr bytes.Buffer
	cfg, err := parseFlags(args, func(string) string { return "" }, &stderr)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v\n%s", args, err, stderr.String())
	}
	return cfg
}

func TestRunSendsOktaRequests(t *testing.T) {
	fake, base := newFake(t)
	cfg := mustParse(t, "-base", base, "-token", testToken, "-c", "4", "-n", "40", "-k", "30", "-m", "20",
		"-prefix", "t1", "-pid", fmt.Sprint(os.Getpid()))
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	for shape, want := range map[string]int{
		"preflight": 1, "exists": 40, "post": 40, "userName": 15, "externalId": 15,
		"okta patch": 10, "entra patch": 10,
	} {
		if got := fake.count(shape); got != want {
			t.Errorf("%s requests: got %d, want %d", shape, got, want)
		}
	}
	if _, ok := fake.byName["t1-39@example.com"]; !ok {
		t.Errorf("user t1-39@example.com was not created: %v", fake.byName)
	}
	if fake.byExt["00ut17"] == "" {
		t.Errorf("externalId 00ut17 was not created")
	}
	text := out.String()
	if strings.Contains(text, testToken) {
		t.Error("the output shows the token")
	}
	for _, want := range []string{
		"prefix=t1", "cpu_ms/op", "server rss ",
		"\nexists        40       40       0 ", "\ncreate        40       40       0 ",
		"\nfilter        30       30       0 ", "\npatch         20       20       0 ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestRunJSONSeedOnlyThenEarlierUsers(t *testing.T) {
	fake, base := newFake(t)
	var out bytes.Buffer
	seed := mustParse(t, "-base", base, "-token", testToken, "-n", "25", "-prefix", "s1", "-seed-only", "-json")
	if err := run(context.Background(), seed, &out); err != nil {
		t.Fatalf("seed run: %v\n%s", err, out.String())
	}
	if got := fake.count("exists"); got != 0 {
		t.Errorf("-seed-only sent %d existence checks", got)
	}
	// A second run measures filter and patch on the first run's users.
	later := mustParse(t, "-base", base, "-token", testToken, "-n", "25", "-prefix", "s1", "-k", "10", "-m", "6",
		"-phases", "filter,patch", "-json")
	if err := run(context.Background(), later, &out); err != nil {
		t.Fatalf("later run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	var phases []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var line struct {
			Kind, Phase string
			NotOK       int `json:"not_ok"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		if line.Kind == "phase" {
			phases = append(phases, line.Phase)
			if line.NotOK != 0 {
				t.Errorf("%s: not_ok %d", line.Phase, line.NotOK)
			}
		}
	}
	if got, want := strings.Join(phases, ","), "create,filter,patch"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	if got := fake.count("post"); got != 25 {
		t.Errorf("posts: got %d, want 25", got)
	}
	// 5 userName lookups in filter, plus the untimed id lookups before patch.
	if got := fake.count("userName"); got <= 5 || got > 5+6 {
		t.Errorf("userName filters: got %d, want 6..11", got)
	}
	if got := fake.count("okta patch") + fake.count("entra patch"); got != 6 {
		t.Errorf("patches: got %d, want 6", got)
	}
}

func TestRunReportsFailures(t *testing.T) {
	fake, base := newFake(t)
	fake.rejectEmailPatch = true
	cfg := mustParse(t, "-base", base, "-token", testToken, "-c", "2", "-n", "10", "-k", "4", "-m", "8", "-prefix", "f1")
	var out bytes.Buffer
	err := run(context.Background(), cfg, &out)
	var failed *errFailed
	if !errors.As(err, &failed) || failed.notOK != 4 {
		t.Fatalf("run: %v, want 4 requests not ok\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	if !strings.Contains(out.String(), `  not ok 400: want 200 or 204: {"detail":"emails is read-only here"`) {
		t.Errorf("output lacks the failure sample")
	}
}

func TestRunExitStatus(t *testing.T) {
	_, base := newFake(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want int
		msg  string
	}{
		{"ok", []string{"-base", base, "-n", "3", "-k", "3", "-m", "3"}, testToken, 0, ""},
		{"unreachable", []string{"-base", closed.URL + "/scim/v2/acme"}, testToken, 1, "server unreachable"},
		{"token refused", []string{"-base", base, "-token", "wrong"}, "", 1, "401"},
		{"no base", nil, testToken, 2, "-base is required"},
		{"no token", []string{"-base", base}, "", 2, "no token"},
		{"bad phase", []string{"-base", base, "-phases", "create,delete"}, testToken, 2, "unknown phase"},
		{"earlier users need a prefix", []string{"-base", base, "-phases", "filter"}, testToken, 2, "-prefix"},
		{"bad flag", []string{"-base", base, "-x"}, testToken, 2, "not defined"},
		{"https receiver without a receiver", []string{"-base", base, "-webhook-tls", "c.pem,k.pem"}, testToken, 2, "-webhook-tls"},
		{"help", []string{"-h"}, "", 0, "-seed-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string {
				if k == "SCIMLOAD_TOKEN" {
					return tc.env
				}
				return ""
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := realMain(ctx, tc.args, getenv, &stdout, &stderr)
			if got != tc.want || !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", got, stderr.String(), tc.want, tc.msg)
			}
			if strings.Contains(stdout.String()+stderr.String(), testToken) {
				t.Error("the token was printed")
			}
		})
	}
}

func TestParseFlagsSeedOnly(t *testing.T) {
	cfg := mustParse(t, "-base", "http://h/scim/v2/acme/", "-token", "x", "-seed-only")
	if cfg.phases != (phaseSet{create: true}) {
		t.Errorf("-seed-only phases %+v, want create only", cfg.phases)
	}
	if cfg.base != "http://h/scim/v2/acme" {
		t.Errorf("base %q kept its trailing slash", cfg.base)
	}
	if len(cfg.prefix) != 6 || !validPrefix(cfg.prefix) {
		t.Errorf("random prefix %q", cfg.prefix)
	}
	cfg = mustParse(t, "-base", "http://h/scim/v2/acme", "-token", "x", "-seed-only", "-phases", "create,filter")
	if cfg.phases != (phaseSet{create: true, filter: true}) {
		t.Errorf("-seed-only -phases create,filter: %+v", cfg.phases)
	}
}

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i + 1)
		}
		return s
	}
	for _, tc := range []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{0, 50, 0},
		{1, 50, 1},
		{1, 99, 1},
		{2, 50, 1},
		{2, 51, 2},
		{10, 50, 5},
		{10, 90, 9},
		{10, 99, 10},
		{10, 100, 10},
		{100, 99, 99},
		{100, 90, 90},
		{1000, 99, 990},
		{1000, 99.9, 999},
		{5000, 50, 2500},
		{3, 0, 1},
	} {
		if got := percentile(seq(tc.n), tc.p); got != tc.want {
			t.Errorf("percentile(1..%d, %v) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestParseProc(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := "4242 (scim sso) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 1000000 5000 rest"
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 3.25s", cpu, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("parseStatCPU of a short line: no error")
	}
	status := "Name:\tscimsso\nVmHWM:\t   61440 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n"
	if kb, err := statusKB(status, "VmRSS"); err != nil || kb != 40960 {
		t.Errorf("statusKB(VmRSS) = %d, %v", kb, err)
	}
	if kb, err := statusKB(status, "VmHWM"); err != nil || kb != 61440 {
		t.Errorf("statusKB(VmHWM) = %d, %v", kb, err)
	}
	if _, err := statusKB(status, "VmSwap"); err == nil {
		t.Error("statusKB of a missing key: no error")
	}
	if s, err := readProc(os.Getpid()); err != nil || s.rssKB == 0 || s.peakKB < s.rssKB {
		t.Errorf("readProc(self) = %+v, %v", s, err)
	}
}

// TestConnections drives the workers' own HTTP/1.1 connections against a server that answers some
// requests with "Connection: close" and streams others (chunked): every request is answered, each
// worker keeps its connection otherwise, and a closed one is dialled again, not a failure.
func TestConnections(t *testing.T) {
	fake, _ := newFake(t)
	var mu sync.Mutex
	dials, served := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		n := served
		mu.Unlock()
		switch n % 7 {
		case 3:
			w.Header().Set("Connection", "close")
		case 5:
			w = chunked{w} // no Content-Length: the body arrives in chunks
		}
		fake.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			dials++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := mustParse(t, "-base", srv.URL+"/scim/v2/acme", "-token", testToken, "-c", "2", "-n", "35", "-k", "35", "-m", "35", "-prefix", "k1")
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	closes := served / 7
	// preflight, then 2 workers in each of create, filter, patch (whose untimed lookups are a phase
	// of their own), plus one dial after every "Connection: close".
	t.Logf("%d connections, %d requests", dials, served)
	if max := 1 + 2*4 + closes; dials > max || dials < 1+closes {
		t.Errorf("%d connections for %d requests (%d closed by the server): want %d to %d", dials, served, closes, 1+closes, max)
	}
}

// chunked hides the ResponseWriter's other interfaces and flushes the headers before the body, so
// net/http streams the body in chunks.
type chunked struct{ http.ResponseWriter }

func (c chunked) Write(b []byte) (int, error) {
	c.ResponseWriter.(http.Flusher).Flush()
	return c.ResponseWriter.Write(b)
}

// TestStuckServer: a request the server never answers ends at -timeout as a failure, and an
// interrupted run returns promptly.
func TestStuckServer(t *testing.T) {
	fake, _ := newFake(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			<-release
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	base := srv.URL + "/scim/v2/acme"

	cfg := mustParse(t, "-base", base, "-token", testToken, "-c", "1", "-n", "1", "-seed-only", "-timeout", "200ms", "-prefix", "s1")
	var out bytes.Buffer
	err := run(context.Background(), cfg, &out)
	if err == nil || !strings.Contains(out.String(), "not ok no response: ") || !strings.Contains(out.String(), "timeout") {
		t.Fatalf("run with a stuck POST: %v, want the request not ok for a timeout\n%s", err, out.String())
	}

	cfg = mustParse(t, "-base", base, "-token", testToken, "-c", "1", "-n", "1", "-seed-only", "-prefix", "s2")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, io.Discard) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an interrupted run reported success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an interrupted run did not return")
	}
}
