package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/scimsso/scimsso/internal/metrics"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestSetupLinkNeverLogged: opening a setup link, using it, and asking for it with a wrong method or
// a longer path leave no trace of its secret in the server's log. The access log names the route
// (/setup/{token}), not the path.
func TestSetupLinkNeverLogged(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	out, _ := mustRun(t, db, "setup-link", "--tenant", "acme", "--base-url", "https://sso.example.com")
	secret := strings.TrimSpace(out[strings.LastIndex(out, "/")+1:])
	if secret == "" {
		t.Fatalf("no secret in %q", out)
	}
	s := startServer(t, db)

	resp, body := send(t, mustRequest(t, http.MethodGet, s.url+"/setup/"+secret, ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the link: %d\n%s", resp.StatusCode, body)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "csrf") {
			cookie = c.Name + "=" + c.Value
		}
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	if cookie == "" || m == nil {
		t.Fatalf("no CSRF cookie or field on the setup page:\n%s", body)
	}
	r := mustRequest(t, http.MethodPost, s.url+"/setup/"+secret, url.Values{"csrf": {m[1]}}.Encode())
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Cookie", cookie)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/acme/") {
		t.Fatalf("POST the link: %d to %q, want 303 to the console", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodPut, "/setup/" + secret},
		{http.MethodGet, "/setup/" + secret + "/more"},
		{http.MethodGet, "/x/setup/" + secret},
	} {
		send(t, mustRequest(t, c.method, s.url+c.path, ""))
	}

	// The access line is written when the handler returns; wait for the last request's.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(s.logs(t), `"logger":"access"`) < 5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 5 access lines:\n%s", s.logs(t))
		}
	}
	logs := s.logs(t)
	for _, f := range secretForms(secret) {
		if strings.Contains(logs, f) {
			t.Errorf("the server log holds the setup link's secret (%q):\n%s", f, logs)
		}
	}
	if !strings.Contains(logs, `"path":"/setup/{token}"`) {
		t.Errorf("no access line names the route /setup/{token}:\n%s", logs)
	}
}

func mustRequest(t *testing.T, method, u, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPanicLineNamesRoute: a panic in a handler under a route with a secret variable logs the route,
// and an unmatched path is logged cut short with all after /setup (any case) redacted.
func TestPanicLineNamesRoute(t *testing.T) {
	cases := []struct{ route, path, want string }{
		{"/setup/{token}", "/setup/scimsso_setup_SECRET", "/setup/{token}"},
		{"", "/setup/scimsso_setup_SECRET", "/setup/{redacted}"},
		{"", "/a/setup/scimsso_setup_SECRET/b", "/a/setup/{redacted}"},
		{"", "/setup//scimsso_setup_SECRET", "/setup/{redacted}"},
		{"", "/setup/x/../scimsso_setup_SECRET", "/setup/{redacted}"},
		{"", "/SETUP/scimsso_setup_SECRET", "/setup/{redacted}"},
		{"", "/setupscimsso_setup_SECRET", "/setup/{redacted}"},
		{"", "/" + strings.Repeat("x", 200), "/" + strings.Repeat("x", maxLoggedPath-1) + "…"},
		{"/scim/v2/{tenant}", "/scim/v2/acme/Users/123", "/scim/v2/{tenant}/Users/123"},
		{"/scim/v2/{tenant}", "/scim/v2/acme", "/scim/v2/{tenant}"},
		{"/admin/{tenant}/", "/admin/acme/", "/admin/{tenant}/"},
		{"/", "/", "/"},
	}
	for _, c := range cases {
		if got := loggedPath(&matched{route: c.route, tail: tailBeyond(c.route, c.path)}, c.path); got != c.want {
			t.Errorf("loggedPath(%q, %q) = %q, want %q", c.route, c.path, got, c.want)
		}
	}
	core, logs := observer.New(zap.DebugLevel)
	r := mux.NewRouter()
	r.Use(nameRoute)
	r.HandleFunc("/setup/{token}", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := accessLog(zap.New(core), metrics.New(), recoverPanics(zap.New(core), r))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/setup/scimsso_setup_SECRET", nil))
	if logs.Len() != 2 {
		t.Fatalf("%d log lines, want the panic and the access line", logs.Len())
	}
	for _, e := range logs.All() {
		if p := e.ContextMap()["path"]; p != "/setup/{token}" {
			t.Errorf("%q line has path %v, want the route /setup/{token}", e.Message, p)
		}
	}
}
