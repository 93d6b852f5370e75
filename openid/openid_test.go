package openid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

const testBase = "https://sso.example.test"

// testServer is the provider on a real SQLite store with one confidential client (redirect URI
// https://app.test/cb) and nobody signed in.
func testServer(t testing.TB) (http.Handler, *store.OIDCClient, string) {
	t.Helper()
	return testServerWith(t, nil)
}

// testServerWith is testServer with cfg changed by set (nil: as it is).
func testServerWith(t testing.TB, set func(*Config)) (http.Handler, *store.OIDCClient, string) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret, hash, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := &store.OIDCClient{Name: "app", RedirectURIs: []string{"https://app.test/cb"}, SecretHash: hash}
	if err := st.CreateOIDCClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Logger: zap.NewNop(), BaseURL: testBase,
		Session: func(*http.Request) (*store.Session, *store.User, bool, error) { return nil, nil, false, nil }}
	if set != nil {
		set(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	s.Routes(r)
	return r, c, secret
}

// TestNewRefusesMissingConfig: New names what is missing or wrong.
func TestNewRefusesMissingConfig(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess := func(*http.Request) (*store.Session, *store.User, bool, error) { return nil, nil, false, nil }
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{Logger: zap.NewNop(), BaseURL: testBase, Session: sess}, "Store"},
		{"no logger", Config{Store: st, BaseURL: testBase, Session: sess}, "Logger"},
		{"no session", Config{Store: st, Logger: zap.NewNop(), BaseURL: testBase}, "Session"},
		{"relative base", Config{Store: st, Logger: zap.NewNop(), BaseURL: "/x", Session: sess}, "BaseURL"},
		{"base with a query", Config{Store: st, Logger: zap.NewNop(), BaseURL: testBase + "?a=b", Session: sess}, "BaseURL"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

// TestCheckRedirectURI: https anywhere, http only on loopback; no fragments, user information, custom
// schemes or relative URIs.
func TestCheckRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.acme.com/cb", true},
		{"https://app.acme.com:8443/cb?x=1", true},
		{"http://localhost:3000/cb", true},
		{"http://127.0.0.1:8080/cb", true},
		{"http://[::1]/cb", true},
		{"http://app.acme.com/cb", false},
		{"https://app.acme.com/cb#frag", false},
		{"https://user:pw@app.acme.com/cb", false},
		{"com.acme.app:/cb", false},
		{"/cb", false},
		{"javascript:alert(1)", false},
		{"https://" + strings.Repeat("a", 2100) + ".com/", false},
	} {
		if err := CheckRedirectURI(tc.uri); (err == nil) != tc.ok {
			t.Errorf("CheckRedirectURI(%.40q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
	}
}

// TestOpaque: codes and access tokens are fresh random secrets, never an encryption of what the op
// package asks for; an access token is its token id alone (the subject stays out).
func TestOpaque(t *testing.T) {
	id, _, _ := newSecret()
	a, err := opaque{}.Encrypt(id + ":user-1")
	if err != nil || a != id {
		t.Errorf("access token = %q, %v; want the token id %q", a, err, id)
	}
	c1, _ := opaque{}.Encrypt(id)
	c2, _ := opaque{}.Encrypt(id)
	if !isSecret(c1) || c1 == c2 || c1 == id || strings.Contains(c1, "user") {
		t.Errorf("codes %q, %q for request %q: want fresh secrets", c1, c2, id)
	}
	if _, err := (opaque{}).Decrypt(a); err == nil {
		t.Error("Decrypt succeeded")
	}
}

// authorizeOutcome checks one answer of the authorize endpoint: never a server error, and a redirect
// only to the registered redirect URI or to the provider's own sign-in steps.
func authorizeOutcome(t testing.TB, query string, res *httptest.ResponseRecorder) {
	if res.Code >= 500 {
		t.Fatalf("authorize ?%q: %d\n%s", query, res.Code, res.Body)
	}
	loc := res.Header().Get("Location")
	if res.Code >= 300 && res.Code < 400 {
		if !strings.HasPrefix(loc, "https://app.test/cb?") && !strings.HasPrefix(loc, "https://app.test/cb#") && !strings.HasPrefix(loc, pathResume+"?") {
			t.Fatalf("authorize ?%q redirected to %q", query, loc)
		}
	} else if loc != "" {
		t.Fatalf("authorize ?%q: %d with Location %q", query, res.Code, loc)
	}
}

// FuzzAuthorize: whatever the query, the authorize endpoint answers without a server error and
// redirects nowhere but to the client's registered redirect URI (or to its own resume step).
func FuzzAuthorize(f *testing.F) {
	h, c, _ := testServer(f)
	base := url.Values{"client_id": {c.ID}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	f.Add(base.Encode())
	f.Add(base.Encode() + "&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256&prompt=none&max_age=0")
	f.Add(base.Encode() + "&redirect_uri=https://evil.test/")
	f.Add(base.Encode() + "&request_uri=x&organization=acme&login_hint=a%40b.c&response_mode=form_post")
	f.Add("client_id=" + c.ID + "&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=token%20id_token&scope=openid&max_age=99999999999")
	f.Add("%zz&client_id=;;")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, testBase+pathAuthorize, nil)
		req.URL.RawQuery = query
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		authorizeOutcome(t, query, res)
	})
}

// FuzzToken: whatever the body and Authorization header, the token endpoint answers 400 or 401 with
// an OAuth error (nobody is signed in, so no code is ever valid), never a server error.
func FuzzToken(f *testing.F) {
	h, c, secret := testServer(f)
	f.Add("grant_type=authorization_code&code="+strings.Repeat("A", 43)+"&redirect_uri=https%3A%2F%2Fapp.test%2Fcb", c.ID, secret)
	f.Add("grant_type=refresh_token&refresh_token="+strings.Repeat("A", 43), c.ID, "x")
	f.Add("grant_type=authorization_code&code=eyJhbGciOiJub25lIn0.e30.&code_verifier=short", "", "")
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=eyJ.e30.x", c.ID, secret)
	f.Add("grant_type=client_credentials&client_id="+c.ID+"&client_secret="+secret, "", "")
	f.Add("grant_type=authorization_code&grant_type=refresh_token", "%zz", "%")
	f.Fuzz(func(t *testing.T, body, user, pass string) {
		req := httptest.NewRequest(http.MethodPost, testBase+pathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		if res.Code != http.StatusBadRequest && res.Code != http.StatusUnauthorized {
			t.Fatalf("token %q (%q:%q): %d\n%s", body, user, pass, res.Code, res.Body)
		}
		if !strings.Contains(res.Body.String(), `"error":"`) {
			t.Fatalf("token %q: no OAuth error in %s", body, res.Body)
		}
	})
}

// FuzzUserinfo: whatever the Authorization header, userinfo answers 400 or 401 with a Bearer
// challenge (nobody holds a token), never a server error.
func FuzzUserinfo(f *testing.F) {
	h, _, _ := testServer(f)
	for _, a := range []string{"", "Bearer " + strings.Repeat("A", 43), "Bearer eyJhbGciOiJub25lIn0.e30.", "Basic eDp5", "bearer", "Bearer  x y"} {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest(http.MethodGet, testBase+pathUserinfo, nil)
		req.Header.Set("Authorization", auth)
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		if (res.Code != http.StatusUnauthorized && res.Code != http.StatusBadRequest) || !strings.HasPrefix(res.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("userinfo with %q: %d %q", auth, res.Code, res.Header().Get("WWW-Authenticate"))
		}
	})
}

// TestKeysMadeOnce: the first signing keys are made by the first request that needs them and are the
// same for every replica; a rotation reaches a replica's cache after keyTTL.
func TestKeysMadeOnce(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: filepath.Join(t.TempDir(), "scimsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	a, b := &keyCache{st: st, now: clock}, &keyCache{st: st, now: clock}
	ka, err := a.signing(context.Background(), "RS256")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.signing(context.Background(), "RS256")
	if err != nil || kb.id != ka.id {
		t.Fatalf("replica b signs with %v (%v), replica a with %s", kb, err, ka.id)
	}
	if keys, _ := a.current(context.Background()); len(keys) != 2 {
		t.Errorf("%d keys, want an RS256 and an ES256 key", len(keys))
	}
	rotated, err := RotateKeys(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := a.signing(context.Background(), "RS256"); k.id != ka.id {
		t.Errorf("the cache changed key within keyTTL")
	}
	now = now.Add(keyTTL)
	k, _ := a.signing(context.Background(), "RS256")
	if k.id != rotated[0].ID {
		t.Errorf("after keyTTL the replica signs with %s, want the rotated key %s", k.id, rotated[0].ID)
	}
	if keys, _ := a.current(context.Background()); len(keys) != 4 {
		t.Errorf("%d published keys after a rotation, want 4 (the old pair stays)", len(keys))
	}
}

// TestAuthorizeCap: the requests of people not signed in are stored until someone signs in, so each
// client address may have only so many outstanding: beyond the cap the client gets
// temporarily_unavailable at its redirect URI and nothing is stored; another address is not affected.
func TestAuthorizeCap(t *testing.T) {
	h, c, _ := testServerWith(t, func(cfg *Config) { cfg.MaxPendingPerClient = 3 })
	authorize := func(addr, state string) *httptest.ResponseRecorder {
		q := url.Values{"client_id": {c.ID}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {state}}
		req := httptest.NewRequest(http.MethodGet, testBase+pathAuthorize+"?"+q.Encode(), nil)
		req.RemoteAddr = addr
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		return res
	}
	for i := range 3 {
		if res := authorize("198.51.100.7:1000", "s"); res.Code != http.StatusFound || !strings.HasPrefix(res.Header().Get("Location"), pathResume+"?id=") {
			t.Fatalf("request %d: %d %q, want the resume step", i+1, res.Code, res.Header().Get("Location"))
		}
	}
	res := authorize("198.51.100.7:1001", "s4")
	loc, _ := url.Parse(res.Header().Get("Location"))
	if res.Code != http.StatusFound || !strings.HasPrefix(loc.String(), "https://app.test/cb?") ||
		loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("state") != "s4" {
		t.Errorf("a fourth request from the address: %d %q, want temporarily_unavailable at the redirect URI", res.Code, loc)
	}
	if res := authorize("203.0.113.9:1000", "s"); res.Code != http.StatusFound || !strings.HasPrefix(res.Header().Get("Location"), pathResume+"?id=") {
		t.Errorf("another address: %d %q, want the resume step", res.Code, res.Header().Get("Location"))
	}
}
