package people_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/store"
)

// Forward authentication, asked as a proxy asks it: GET /auth/verify with the browser's cookies and the
// proxy's X-Forwarded-* or X-Original-URL headers. The harness's BASE is https://127.0.0.1:PORT, and
// 127.0.0.1 is the forward-auth host, so an application at http://127.0.0.1:8081 (another port of
// BASE's host name, loopback so http is allowed) gets the session cookie.

const app = "http://127.0.0.1:8081"

func newForwardAuth(t testing.TB, configure func(*store.SSOSettings)) *harness {
	t.Helper()
	h := newHarness(t, configure)
	h.WebConfig = func(c *people.Config) { c.ForwardAuthHosts = []string{"127.0.0.1"} }
	h.Restart()
	return h
}

// verify asks /auth/verify (query added to the path) in b with the proxy's headers.
func verify(h *harness, b *http.Client, query string, hdr map[string]string) *http.Response {
	h.T.Helper()
	res, _ := h.Send(b, http.MethodGet, "/auth/verify"+query, nil, hdr)
	return res
}

// signInFor walks the sign-in that a 401 from /auth/verify names, as a browser: the email-first page,
// the IdP, the ACS. It returns where the ACS sends the browser.
func signInFor(t *testing.T, h *harness, b *http.Client, loc string, attrs map[string]string) string {
	t.Helper()
	if !strings.HasPrefix(loc, h.Srv.URL+"/login?") {
		t.Fatalf("sign-in at %q", loc)
	}
	f := h.Form(b, strings.TrimPrefix(loc, h.Srv.URL), "/login")
	f.Values.Set("email", attrs[claimEmail])
	res, body := h.Submit(b, f, nil)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("POST /login: %d\n%s", res.StatusCode, body)
	}
	id, _ := h.IdpRequest(res)
	res = h.Post(b, "acme", h.Response("acme", id, attrs, nil), f.Values.Get("return_to"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ACS: %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

// TestForwardAuthVerify: the answer for each kind of session, and the identity headers.
func TestForwardAuthVerify(t *testing.T) {
	h := newForwardAuth(t, func(s *store.SSOSettings) { s.SoftTimeout, s.HardTimeout = time.Hour, 3*time.Hour })
	want := "/app/x?a=1&b=%C3%A9"
	proxied := map[string]string{"X-Original-URL": app + want}
	signin := h.Srv.URL + "/login?return_to=" + url.QueryEscape("/auth/continue?to="+url.QueryEscape(app+want))

	// Without a session: 401, with the sign-in URL in Location for nginx, or a 302 there.
	b := h.Browser()
	res := verify(h, b, "", proxied)
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != signin || res.Header.Get(people.HeaderEmail) != "" {
		t.Fatalf("no session: %d, Location %q, want 401 to %q", res.StatusCode, res.Header.Get("Location"), signin)
	}
	if res = verify(h, b, "?redirect=1", proxied); res.StatusCode != http.StatusFound || res.Header.Get("Location") != signin {
		t.Fatalf("no session, ?redirect=1: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}

	// The sign-in ends at /auth/continue, which sends the browser back to the application.
	alice := person("alice@acme.com", "Zoë", "Ñúñez O'Brien")
	to := signInFor(t, h, b, signin, alice)
	if to != "/auth/continue?to="+url.QueryEscape(app+want) {
		t.Fatalf("the sign-in lands on %q", to)
	}
	res, _ = h.Send(b, http.MethodGet, to, nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != app+want {
		t.Fatalf("/auth/continue: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Signed in: 204 and who it is.
	u := h.User("alice@acme.com")
	for _, q := range []string{"", "?redirect=1"} {
		res = verify(h, b, q, proxied)
		got := map[string]string{}
		for _, k := range []string{people.HeaderUserID, people.HeaderEmail, people.HeaderTenant, people.HeaderName} {
			got[k] = res.Header.Get(k)
		}
		wantHdr := map[string]string{people.HeaderUserID: u.ID, people.HeaderEmail: "alice@acme.com", people.HeaderTenant: "acme",
			people.HeaderName: "Zo%C3%AB%20%C3%91%C3%BA%C3%B1ez%20O%27Brien"}
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Location") != "" || !equalMaps(got, wantHdr) {
			t.Fatalf("signed in%s: %d %v, want 204 %v", q, res.StatusCode, got, wantHdr)
		}
		if name, _ := url.PathUnescape(got[people.HeaderName]); name != "Zoë Ñúñez O'Brien" {
			t.Fatalf("the name decodes to %q", name)
		}
	}

	// Each answer counts as use: asked every 50 minutes, the one-hour soft timeout never passes.
	h.Skew.Store(int64(50 * time.Minute))
	if res = verify(h, b, "", proxied); res.StatusCode != http.StatusNoContent {
		t.Fatalf("after 50 minutes: %d", res.StatusCode)
	}
	h.Skew.Store(int64(100 * time.Minute))
	if res = verify(h, b, "", proxied); res.StatusCode != http.StatusNoContent {
		t.Fatalf("50 minutes after the last use: %d", res.StatusCode)
	}

	// Idle past the soft timeout: 401, to the silent re-authentication at the IdP, back to the URL.
	h.Skew.Store(int64(161 * time.Minute))
	reauth := h.Srv.URL + "/saml/acme/login?reauth=1&return_to=" + url.QueryEscape("/auth/continue?to="+url.QueryEscape(app+want))
	if res = verify(h, b, "", proxied); res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != reauth {
		t.Fatalf("past the soft timeout: %d to %q, want 401 to %q", res.StatusCode, res.Header.Get("Location"), reauth)
	}
	if res = verify(h, b, "?redirect=1", proxied); res.StatusCode != http.StatusFound || res.Header.Get("Location") != reauth {
		t.Fatalf("past the soft timeout, ?redirect=1: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Past the hard timeout, or deactivated: no session.
	h.Skew.Store(int64(5 * time.Hour))
	if res = verify(h, b, "", proxied); res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != signin {
		t.Fatalf("past the hard timeout: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	h.Skew.Store(0)
	b2 := h.Browser()
	signInFor(t, h, b2, signin, alice)
	if res = verify(h, b2, "", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("signed in again: %d", res.StatusCode)
	}
	if _, err := h.St.UpdateUser(ctx, h.Tenant.ID, u.ID, 0, store.Audit{Operation: "deactivate"}, func(u *store.User) error {
		u.Active = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if res = verify(h, b2, "", nil); res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != "" {
		t.Fatalf("deactivated: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	// First sign-in pending (no country): 403, to /welcome and back.
	b3 := h.Browser()
	if to := signInFor(t, h, b3, signin, with(person("bea@acme.com", "Bea", "B"), claimCtry, "")); !strings.HasPrefix(to, "/welcome?") {
		t.Fatalf("a first sign-in without a country lands on %q", to)
	}
	welcome := h.Srv.URL + "/welcome?return_to=" + url.QueryEscape("/auth/continue?to="+url.QueryEscape(app+want))
	if res = verify(h, b3, "", proxied); res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != welcome || res.Header.Get(people.HeaderEmail) != "" {
		t.Fatalf("pending: %d to %q, want 403 to %q", res.StatusCode, res.Header.Get("Location"), welcome)
	}
	if res = verify(h, b3, "", nil); res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
		t.Fatalf("pending, no URL: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestForwardAuthReturn: where a person without a session is sent, for each URL a proxy may report.
// Only an allowed host gets a Location; anything else is a plain 401, never an open redirect.
func TestForwardAuthReturn(t *testing.T) {
	h := newForwardAuth(t, nil)
	base := h.Srv.URL
	login := func(returnTo string) string { return base + "/login?return_to=" + url.QueryEscape(returnTo) }
	cont := func(u string) string { return login("/auth/continue?to=" + url.QueryEscape(u)) }
	cases := []struct {
		name string
		hdr  map[string]string
		want string // Location; "" for none
	}{
		{"nginx X-Original-URL", map[string]string{"X-Original-URL": app + "/p?q=1"}, cont(app + "/p?q=1")},
		{"Traefik X-Forwarded-*", map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1:8081", "X-Forwarded-Uri": "/p?q=1"}, cont(app + "/p?q=1")},
		{"X-Forwarded-* win over X-Original-URL", map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1:8081", "X-Forwarded-Uri": "/a",
			"X-Original-URL": "http://127.0.0.1:9/b"}, cont(app + "/a")},
		{"no proto: https", map[string]string{"X-Forwarded-Host": "127.0.0.1:8443", "X-Forwarded-Uri": "/a"}, cont("https://127.0.0.1:8443/a")},
		{"no URI: the front page", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "127.0.0.1"}, cont("https://127.0.0.1/")},
		{"host in upper case", map[string]string{"X-Original-URL": "http://127.0.0.1:8081/A"}, cont(app + "/A")},
		{"fragment dropped", map[string]string{"X-Original-URL": app + "/a#frag"}, cont(app + "/a")},
		{"BASE's own origin: a local path", map[string]string{"X-Original-URL": base + "/app/x?y=2"}, login("/app/x?y=2")},
		{"BASE's own origin, /me: the default", map[string]string{"X-Original-URL": base + "/me"}, base + "/login"},
		{"too long for a return path: the query goes", map[string]string{"X-Original-URL": app + "/p?q=" + strings.Repeat("x", 600)}, cont(app + "/p")},
		{"too long even without the query: the front page", map[string]string{"X-Original-URL": app + "/" + strings.Repeat("x", 600)}, cont(app + "/")},

		{"no URL", nil, ""},
		{"another host", map[string]string{"X-Original-URL": "https://evil.example/x"}, ""},
		{"another host via X-Forwarded-Host", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-Uri": "/x"}, ""},
		{"a host that ends like the allowed one", map[string]string{"X-Original-URL": "https://1127.0.0.1/x"}, ""},
		{"user info", map[string]string{"X-Original-URL": "http://127.0.0.1@evil.example/x"}, ""},
		{"user info naming the host", map[string]string{"X-Original-URL": "http://evil.example@127.0.0.1/x"}, ""},
		{"backslash", map[string]string{"X-Original-URL": `http://127.0.0.1:8081\@evil.example/`}, ""},
		{"relative", map[string]string{"X-Original-URL": "/x"}, ""},
		{"scheme-relative", map[string]string{"X-Original-URL": "//evil.example/x"}, ""},
		{"javascript:", map[string]string{"X-Original-URL": "javascript:alert(1)"}, ""},
		{"ftp", map[string]string{"X-Original-URL": "ftp://127.0.0.1/x"}, ""},
		{"URI not a path", map[string]string{"X-Forwarded-Host": "127.0.0.1", "X-Forwarded-Uri": "@evil.example/"}, ""},
		{"two hosts", map[string]string{"X-Forwarded-Host": "127.0.0.1,evil.example", "X-Forwarded-Uri": "/"}, ""},
		{"tab", map[string]string{"X-Original-URL": app + "/a\tb"}, ""},
		{"over 4 KiB", map[string]string{"X-Original-URL": app + "/" + strings.Repeat("x", 4100)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := verify(h, h.Browser(), "", tc.hdr)
			if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != tc.want {
				t.Fatalf("401 to %q (status %d), want to %q", res.Header.Get("Location"), res.StatusCode, tc.want)
			}
			res = verify(h, h.Browser(), "?redirect=1", tc.hdr)
			if tc.want == "" && (res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != "") {
				t.Fatalf("?redirect=1: %d to %q, want a plain 401", res.StatusCode, res.Header.Get("Location"))
			}
			if tc.want != "" && (res.StatusCode != http.StatusFound || res.Header.Get("Location") != tc.want) {
				t.Fatalf("?redirect=1: %d to %q, want 302", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}

	// A return path that names a URL elsewhere is refused by /auth/continue with a page.
	for _, to := range []string{"https://evil.example/", "//evil.example/", "http://127.0.0.1@evil.example/", "", "/local"} {
		res, body := h.Send(h.Browser(), http.MethodGet, "/auth/continue?to="+url.QueryEscape(to), nil, nil)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "does not lead to an application") {
			t.Fatalf("/auth/continue?to=%s: %d to %q", to, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

// TestForwardAuthHTTPS: an application's URL must be https unless its host is loopback; without any
// forward-auth host nothing is ever a redirect.
func TestForwardAuthHTTPS(t *testing.T) {
	h := newHarness(t, nil)
	serve := func(base string, hosts ...string) http.Handler {
		sessions, err := people.NewSessions(people.SessionsConfig{Store: h.St, BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		web, err := people.New(people.Config{Store: h.St, Logger: zap.NewNop(), BaseURL: base, Sessions: sessions, SSO: noSSO{}, ForwardAuthHosts: hosts})
		if err != nil {
			t.Fatal(err)
		}
		r := mux.NewRouter()
		web.Routes(r)
		return r
	}
	location := func(hd http.Handler, u string) string {
		req := httptest.NewRequest(http.MethodGet, "/auth/verify", nil)
		req.Header.Set("X-Original-URL", u)
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: %d", u, rec.Code)
		}
		return rec.Header().Get("Location")
	}
	sso := serve("https://sso.example.com", "sso.example.com")
	port := serve("https://sso.example.com", "sso.example.com:8443")
	local := serve("http://localhost:8080", "localhost")
	none := serve("https://sso.example.com")
	cases := []struct {
		h    http.Handler
		url  string
		want bool
	}{
		{sso, "https://sso.example.com:8443/app", true},
		{sso, "https://SSO.example.com/app", true},
		{sso, "http://sso.example.com/app", false},
		{sso, "https://app.example.com/app", false},
		{sso, "https://example.com/app", false},
		{port, "https://sso.example.com:8443/app", true},
		{port, "https://sso.example.com/app", false},
		{port, "https://sso.example.com:443/app", false},
		{local, "http://localhost:3000/app", true},
		{local, "http://localhost/app", true},
		{none, "https://sso.example.com/app", false},
	}
	for _, tc := range cases {
		if got := location(tc.h, tc.url); (got != "") != tc.want {
			t.Errorf("%s: Location %q, want one: %v", tc.url, got, tc.want)
		}
	}
}

type noSSO struct{}

func (noSSO) StartSignIn(w http.ResponseWriter, _ *http.Request, _, _ string, _ store.Purpose) {
	http.Error(w, "no SSO", http.StatusForbidden)
}
func (noSSO) ReauthURL(slug, returnTo string) string { return "/saml/" + slug + "/login?reauth=1" }

func TestParseForwardAuthHosts(t *testing.T) {
	const base = "https://sso.example.com"
	cases := []struct {
		list string
		want []string // nil: an error
	}{
		{"", []string{}},
		{" sso.example.com ", []string{"sso.example.com"}},
		{"sso.example.com,SSO.example.com:8443", []string{"sso.example.com", "SSO.example.com:8443"}},
		{"sso.example.com,,", []string{"sso.example.com"}},
		{"app.example.com", nil},
		{"example.com", nil},
		{"https://sso.example.com", nil},
		{"sso.example.com/app", nil},
		{"*.example.com", nil},
		{"sso.example.com:0", nil},
		{"sso.example.com:65536", nil},
		{"sso.example.com:x", nil},
		{"sso.example.com:", nil},
		{"sso_example.com", nil},
		{"user@sso.example.com", nil},
	}
	for _, tc := range cases {
		got, err := people.ParseForwardAuthHosts(tc.list, base)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q: accepted as %v", tc.list, got)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: %v, %v; want %v", tc.list, got, err, tc.want)
		}
	}
	if _, err := people.ParseForwardAuthHosts("app.example.com", base); err == nil || !strings.Contains(err.Error(), "host-only") {
		t.Errorf("another host name: %v, want the reason", err)
	}
	if got, err := people.ParseForwardAuthHosts("[::1]:8080,::1", "http://[::1]:9000"); err != nil || len(got) != 2 {
		t.Errorf("IPv6: %v %v", got, err)
	}
}

// FuzzForwardAuthReturn: whatever URL headers a request sends, /auth/verify either names no Location,
// or a sign-in on BASE whose return path is local and, through /auth/continue, leads only to an
// allowed origin of BASE's host name.
func FuzzForwardAuthReturn(f *testing.F) {
	for _, s := range []string{app + "/x", "https://127.0.0.1/", "http://127.0.0.1@evil/", "//evil/", `http://127.0.0.1\@evil/`, "http://127.0.0.1:8081/%2F%2Fevil"} {
		f.Add(s, "", "", "")
	}
	f.Add("", "http", "127.0.0.1:1", "/a?b=c")
	h := newHarness(f, nil)
	h.WebConfig = func(c *people.Config) { c.ForwardAuthHosts = []string{"127.0.0.1"} }
	h.Restart()
	prefix := h.Srv.URL + "/login?return_to="
	f.Fuzz(func(t *testing.T, original, proto, host, uri string) {
		req := httptest.NewRequest(http.MethodGet, "/auth/verify?redirect=1", nil)
		for k, v := range map[string]string{"X-Original-URL": original, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		rec := httptest.NewRecorder()
		h.Handler.ServeHTTP(rec, req)
		loc := rec.Header().Get("Location")
		if rec.Code == http.StatusUnauthorized && loc == "" || rec.Code == http.StatusFound && loc == h.Srv.URL+"/login" {
			return
		}
		if rec.Code != http.StatusFound || !strings.HasPrefix(loc, prefix) {
			t.Fatalf("%d to %q", rec.Code, loc)
		}
		back, err := url.QueryUnescape(strings.TrimPrefix(loc, prefix))
		if err != nil || !page.SafeReturnTo(back) {
			t.Fatalf("return path %q: %v", back, err)
		}
		if !strings.HasPrefix(back, "/auth/continue?") {
			return
		}
		next := httptest.NewRecorder()
		h.Handler.ServeHTTP(next, httptest.NewRequest(http.MethodGet, back, nil))
		to, err := url.Parse(next.Header().Get("Location"))
		if next.Code != http.StatusSeeOther || err != nil || to.Hostname() != "127.0.0.1" || to.User != nil ||
			(to.Scheme != "https" && to.Scheme != "http") {
			t.Fatalf("/auth/continue from %q: %d to %q", back, next.Code, next.Header().Get("Location"))
		}
	})
}

// BenchmarkVerify is /auth/verify for a signed-in browser, the proxy's per-request hot path, on the
// handler (no network), from parallel goroutines.
func BenchmarkVerify(b *testing.B) {
	h := newForwardAuth(b, nil)
	br := h.Browser()
	h.Post(br, "acme", h.Response("acme", h.Login(br, "acme", "/"), person("alice@acme.com", "Alice", "A"), nil), "")
	cookie := &http.Cookie{Name: sessionCookie, Value: h.JarCookie(br, sessionCookie)}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/auth/verify", nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			h.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatalf("%d", rec.Code)
			}
		}
	})
}
