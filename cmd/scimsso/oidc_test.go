package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap/zaptest"
	"golang.org/x/oauth2"

	"github.com/scimsso/scimsso/internal/pgtest"
	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
	"github.com/scimsso/scimsso/store/storetest"
)

// The OpenID provider driven as an application would: a relying party built on coreos/go-oidc and
// x/oauth2 against the real handler (cmd's buildHandler) on a TLS test server, with a real SAML
// sign-in at a test IdP in between.

const (
	appCallback = "https://app.test/cb"
	appBye      = "https://app.test/bye"
)

// oidcEnv is a running scimsso with tenant acme (acme.com), SSO active at a test IdP, and two
// registered clients: a confidential one and a public one.
type oidcEnv struct {
	t      testing.TB
	clock  *storetest.Clock
	db     string
	st     *sqlstore.Store
	srv    *httptest.Server
	base   string
	idp    *samltest.IdP
	scim   string // a SCIM token of acme
	ctx    context.Context
	op     *gooidc.Provider
	conf   oauth2.Config // the confidential client
	public oauth2.Config // the public client
	main   *Main         // the Main whose buildHandler serves srv
}

// cli runs a scimsso command in-process against the environment's database and returns its stdout.
func (e *oidcEnv) cli(args ...string) string {
	e.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: e.clock.Now}
	err := m.Run(context.Background(), append(args, "--db", e.db))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.t.Fatalf("scimsso %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// kv reads key=value lines.
func kv(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func newOIDCEnv(t testing.TB) *oidcEnv { return newOIDCEnvWith(t, nil) }

// newOIDCEnvWith is newOIDCEnv with the server's store wrapped by wrap (nil: as it is).
func newOIDCEnvWith(t testing.TB, wrap func(store.Store) store.Store) *oidcEnv {
	return newOIDCEnvOn(t, "sqlite", wrap)
}

// newOIDCEnvOn is newOIDCEnvWith on backend: "sqlite" (a file) or "postgres" (a fresh database, when
// SCIMSSO_TEST_POSTGRES names a server).
func newOIDCEnvOn(t testing.TB, backend string, wrap func(store.Store) store.Store) *oidcEnv {
	e := &oidcEnv{t: t, clock: storetest.NewClock(time.Now()), db: filepath.Join(t.TempDir(), "scimsso.db")}
	if backend == "postgres" {
		e.db = pgtest.URL(t)
	}
	e.cli("tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")
	var err error
	e.idp, err = samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(meta, e.idp.Metadata(), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cli("sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "active", "--exclude", "breakglass@acme.com")
	e.scim = strings.TrimSpace(e.cli("token", "issue", "--tenant", "acme"))
	conf := kv(e.cli("client", "add", "Wiki", "--redirect-uri", appCallback, "--post-logout-redirect-uri", appBye))
	pub := kv(e.cli("client", "add", "SPA", "--redirect-uri", appCallback, "--public"))
	if conf["client_id"] == "" || conf["client_secret"] == "" || pub["client_id"] == "" || pub["client_secret"] != "" {
		t.Fatalf("client add printed %v and %v", conf, pub)
	}

	if backend == "postgres" {
		e.st, err = sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresOptions{URL: e.db, Now: e.clock.Now})
	} else {
		e.st, err = sqlstore.Open(context.Background(), sqlstore.Options{Path: e.db, Now: e.clock.Now})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "https://" + ln.Addr().String()
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Now: e.clock.Now}
	var st store.Store = e.st
	if wrap != nil {
		st = wrap(st)
	}
	e.main = m
	h, err := m.buildHandler(st, zaptest.NewLogger(t), e.base)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)

	e.ctx = gooidc.ClientContext(context.Background(), e.srv.Client())
	if e.op, err = gooidc.NewProvider(e.ctx, e.base); err != nil {
		t.Fatal(err)
	}
	e.conf = oauth2.Config{ClientID: conf["client_id"], ClientSecret: conf["client_secret"], Endpoint: e.op.Endpoint(),
		RedirectURL: appCallback, Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}}
	e.public = oauth2.Config{ClientID: pub["client_id"], Endpoint: e.op.Endpoint(), RedirectURL: appCallback,
		Scopes: []string{gooidc.ScopeOpenID, gooidc.ScopeOfflineAccess}}
	return e
}

// browser is a cookie jar that follows redirects on scimsso itself and stops at any other host.
type browser struct {
	e *oidcEnv
	c *http.Client
}

func (e *oidcEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	tr := e.srv.Client().Transport
	return &browser{e: e, c: &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// visit requests u and follows redirects while they stay on scimsso. It returns the last response
// (a page, or a redirect elsewhere) with its body.
func (b *browser) visit(method, u string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	for range 20 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			b.e.t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html")
		res, err := b.c.Do(req)
		if err != nil {
			b.e.t.Fatalf("%s %s: %v", method, u, err)
		}
		text, _ := io.ReadAll(res.Body)
		res.Body.Close()
		loc := res.Header.Get("Location")
		if res.StatusCode < 300 || res.StatusCode > 399 || loc == "" {
			return res, string(text)
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.e.t.Fatal(err)
		}
		if next.Scheme+"://"+next.Host != b.e.base {
			return res, string(text)
		}
		method, u, form = http.MethodGet, next.String(), nil
	}
	b.e.t.Fatalf("more than 20 redirects from %s", u)
	return nil, ""
}

// signIn answers the AuthnRequest in res's redirect to the IdP as the IdP would for email, posts
// the response to the ACS, and follows scimsso's redirects from there.
func (b *browser) signIn(res *http.Response, email string) (*http.Response, string) {
	b.e.t.Helper()
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "https://idp.test/acme/sso") {
		b.e.t.Fatalf("expected a redirect to the IdP, got %d %q", res.StatusCode, loc)
	}
	id, _, err := samltest.RequestOf(loc)
	if err != nil {
		b.e.t.Fatal(err)
	}
	doc, err := b.e.idp.Make(samltest.Response{ACS: b.e.base + "/saml/acme/acs", Audience: b.e.base + "/saml/acme/metadata", InResponseTo: id,
		NameID: email, Attrs: []samltest.Attr{{Name: samltest.ClaimEmail, Values: []string{email}}, {Name: samltest.ClaimCountry, Values: []string{"DE"}},
			{Name: "FirstName", Values: []string{"Ada"}}, {Name: "LastName", Values: []string{"Lovelace"}}}})
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.visit(http.MethodPost, b.e.base+"/saml/acme/acs", url.Values{"SAMLResponse": {samltest.Encode(doc)}})
}

// callback returns the parameters of a redirect to the application's callback.
func (e *oidcEnv) callback(res *http.Response) url.Values {
	e.t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || (!strings.HasPrefix(loc, appCallback+"?") && !strings.HasPrefix(loc, appCallback+"#")) {
		e.t.Fatalf("expected a redirect to %s, got %d %q", appCallback, res.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	if u.RawQuery == "" {
		// Errors of implicit response types go in the fragment (OAuth 2.0 Multiple Response Types).
		q, _ := url.ParseQuery(u.Fragment)
		return q
	}
	return u.Query()
}

func random(t testing.TB) string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// login runs a whole sign-in of email for conf from a fresh browser and returns the browser and the
// code; opts are added to the authorization request.
func (e *oidcEnv) login(conf *oauth2.Config, email, state, nonce string, opts ...oauth2.AuthCodeOption) (*browser, string) {
	e.t.Helper()
	b := e.browser()
	opts = append(opts, gooidc.Nonce(nonce), oauth2.SetAuthURLParam("login_hint", email))
	res, _ := b.visit(http.MethodGet, conf.AuthCodeURL(state, opts...), nil)
	res, body := b.signIn(res, email)
	q := e.callback(res)
	if q.Get("state") != state || q.Get("code") == "" || q.Get("error") != "" {
		e.t.Fatalf("callback %v (page %s)", q, body)
	}
	return b, q.Get("code")
}

type idClaims struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Org           string   `json:"org"`
	OrgID         string   `json:"org_id"`
	Country       string   `json:"country"`
	Team          *string  `json:"team"`
	AMR           []string `json:"amr"`
	SID           string   `json:"sid"`
	Nonce         string   `json:"nonce"`
	AuthTime      int64    `json:"auth_time"`
}

// verify checks the ID token of tok against the provider's published keys and returns its claims.
func (e *oidcEnv) verify(v *gooidc.IDTokenVerifier, tok *oauth2.Token) (*gooidc.IDToken, idClaims) {
	e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := v.Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("ID token does not verify: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		e.t.Fatal(err)
	}
	return idt, c
}

// userinfo calls the userinfo endpoint with the access token: its status and claims.
func (e *oidcEnv) userinfo(access string) (int, idClaims, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var c idClaims
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
			e.t.Fatal(err)
		}
	}
	return res.StatusCode, c, res.Header
}

// tokenError posts form to the token endpoint and returns the status and OAuth error code.
func (e *oidcEnv) tokenError(form url.Values, user, pass string) (int, string, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error, res.Header
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if ok := asRetrieve(err, &re); ok {
		return re.ErrorCode
	}
	return ""
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	for err != nil {
		if r, ok := err.(*oauth2.RetrieveError); ok {
			*re = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestOIDCCodeFlow: discovery, authorize with login_hint straight to the tenant's IdP, a SAML sign-in,
// the code, the token (client_secret_basic), the ID token verified against the published keys with
// every claim of the spec and the nonce echoed, and userinfo with the same claims. A second use of the
// code fails and revokes the access token the first use issued.
func TestOIDCCodeFlow(t *testing.T) {
	e := newOIDCEnv(t)
	var disc struct {
		Issuer        string   `json:"issuer"`
		Authorization string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		Userinfo      string   `json:"userinfo_endpoint"`
		EndSession    string   `json:"end_session_endpoint"`
		JWKS          string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		Grants        []string `json:"grant_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
		Introspection string   `json:"introspection_endpoint"`
	}
	if err := e.op.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	want := e.base + "/oidc/"
	if disc.Issuer != e.base || disc.Authorization != want+"authorize" || disc.Token != want+"token" || disc.Userinfo != want+"userinfo" ||
		disc.EndSession != want+"logout" || disc.JWKS != want+"jwks" || !slices.Equal(disc.ResponseTypes, []string{"code"}) ||
		!slices.Equal(disc.Grants, []string{"authorization_code", "refresh_token"}) || !slices.Equal(disc.PKCE, []string{"S256"}) ||
		!slices.Equal(disc.Algs, []string{"RS256", "ES256"}) || disc.Introspection != "" {
		t.Errorf("discovery = %+v", disc)
	}

	nonce := random(t)
	_, code := e.login(&e.conf, "ada@acme.com", "st1", nonce)
	tok, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken != "" || time.Until(tok.Expiry) > 10*time.Minute+time.Second {
		t.Errorf("token = %+v; want a Bearer token for at most 10 minutes and no refresh token (no offline_access)", tok)
	}
	idt, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID}), tok)
	users, _, err := e.st.ListUsers(context.Background(), tenantID(t, e.st, "acme"), store.UserQuery{Limit: 10})
	if err != nil || len(users) != 1 {
		t.Fatalf("users after the sign-in: %v, %v", users, err)
	}
	u := users[0]
	if idt.Subject != u.ID || c.Sub != u.ID || c.Email != "ada@acme.com" || !c.EmailVerified || c.Name != "Ada Lovelace" ||
		c.GivenName != "Ada" || c.FamilyName != "Lovelace" || c.Org != "acme" || c.OrgID != u.TenantID || c.Country != "DE" ||
		c.Team != nil || !slices.Equal(c.AMR, []string{"saml"}) || c.SID == "" || c.Nonce != nonce || c.AuthTime == 0 {
		t.Errorf("ID token claims = %+v (user %s)", c, u.ID)
	}
	status, info, _ := e.userinfo(tok.AccessToken)
	if status != http.StatusOK || !reflect.DeepEqual(info, c.withoutProtocol()) {
		t.Errorf("userinfo = %d %+v, want the ID token's claims %+v", status, info, c.withoutProtocol())
	}

	// A second use of the code: refused, and the access token of the first use stops working.
	if _, err := e.conf.Exchange(e.ctx, code); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("second use of a code: %v, want invalid_grant", err)
	}
	if status, _, h := e.userinfo(tok.AccessToken); status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with the access token of a reused code: %d %q, want 401 invalid_token", status, h.Get("WWW-Authenticate"))
	}
}

// withoutProtocol is the claims userinfo returns: the ID token's, less nonce and auth_time.
func (c idClaims) withoutProtocol() idClaims {
	c.Nonce, c.AuthTime = "", 0
	return c
}

func tenantID(t testing.TB, st store.Store, slug string) string {
	tn, err := st.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// authorizeURL is conf's authorization URL with extra parameters replaced or added.
func authorizeURL(conf *oauth2.Config, state string, set map[string]string) string {
	u, _ := url.Parse(conf.AuthCodeURL(state))
	q := u.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// TestOIDCPublicClient: a public client must use PKCE with S256; a wrong verifier gets no tokens; the
// right one gets an access and (offline_access) a refresh token, which rotates on every use, and a
// rotated refresh token used again revokes its whole family.
func TestOIDCPublicClient(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	for _, tc := range []struct {
		name string
		set  map[string]string
	}{
		{"no PKCE", nil},
		{"plain", map[string]string{"code_challenge": strings.Repeat("a", 43), "code_challenge_method": "plain"}},
		{"short challenge", map[string]string{"code_challenge": "abc", "code_challenge_method": "S256"}},
	} {
		res, _ := b.visit(http.MethodGet, authorizeURL(&e.public, "s-"+tc.name, tc.set), nil)
		if q := e.callback(res); q.Get("error") != "invalid_request" || q.Get("state") != "s-"+tc.name || q.Get("code") != "" {
			t.Errorf("%s: callback %v, want error=invalid_request with the state", tc.name, q)
		}
	}

	verifier := oauth2.GenerateVerifier()
	_, code := e.login(&e.public, "ada@acme.com", "st", random(t), oauth2.S256ChallengeOption(verifier))
	if _, err := e.public.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("exchange with a wrong verifier: %v, want invalid_grant", err)
	}
	if _, err := e.public.Exchange(e.ctx, code); oauthErrorCode(err) != "invalid_request" {
		t.Errorf("exchange without the verifier: %v, want invalid_request", err)
	}
	tok, err := e.public.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.public.ClientID}), tok)

	refresh := func(rt string) (*oauth2.Token, error) {
		return e.public.TokenSource(e.ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate: %+v", tok2)
	}
	e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.public.ClientID}), tok2)
	if status, _, _ := e.userinfo(tok2.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo with the refreshed access token: %d", status)
	}
	if _, err := refresh(tok.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("reuse of a rotated refresh token: %v, want invalid_grant", err)
	}
	if _, err := refresh(tok2.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("the refresh token of a family revoked by a reuse: %v, want invalid_grant", err)
	}
	for _, at := range []string{tok.AccessToken, tok2.AccessToken} {
		if status, _, _ := e.userinfo(at); status != http.StatusUnauthorized {
			t.Errorf("userinfo with an access token of a revoked family: %d, want 401", status)
		}
	}
}

// TestOIDCPrompt: prompt=none without a session answers login_required at the redirect URI; with one
// it answers with a code at once, without the IdP; prompt=login sends the person to the IdP again.
func TestOIDCPrompt(t *testing.T) {
	e := newOIDCEnv(t)
	res, _ := e.browser().visit(http.MethodGet, authorizeURL(&e.conf, "st0", map[string]string{"prompt": "none"}), nil)
	if q := e.callback(res); q.Get("error") != "login_required" || q.Get("state") != "st0" || q.Get("code") != "" {
		t.Errorf("prompt=none without a session: %v, want error=login_required", q)
	}
	b, _ := e.login(&e.conf, "ada@acme.com", "st1", random(t))
	nonce := random(t)
	res, _ = b.visit(http.MethodGet, e.conf.AuthCodeURL("st2", gooidc.Nonce(nonce), oauth2.SetAuthURLParam("prompt", "none")), nil)
	q := e.callback(res)
	if q.Get("code") == "" || q.Get("state") != "st2" {
		t.Fatalf("prompt=none with a session: %v, want a code", q)
	}
	tok, err := e.conf.Exchange(e.ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID}), tok); c.Nonce != nonce {
		t.Errorf("nonce %q, want %q", c.Nonce, nonce)
	}
	// The session already there is reused without the IdP; prompt=login goes to the IdP again.
	res, _ = b.visit(http.MethodGet, e.conf.AuthCodeURL("st3"), nil)
	if q := e.callback(res); q.Get("code") == "" {
		t.Errorf("authorize with a session: %v, want a code without the IdP", q)
	}
	e.clock.Add(time.Second) // the session is now older than the request
	res, _ = b.visit(http.MethodGet, e.conf.AuthCodeURL("st4", oauth2.SetAuthURLParam("prompt", "login")), nil)
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/login" {
		t.Errorf("prompt=login with a session: %d at %s, want the sign-in page", res.StatusCode, res.Request.URL)
	}
	res, _ = b.visit(http.MethodGet, e.conf.AuthCodeURL("st5", oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("login_hint", "ada@acme.com")), nil)
	res, _ = b.signIn(res, "ada@acme.com")
	if q := e.callback(res); q.Get("code") == "" || q.Get("state") != "st5" {
		t.Errorf("prompt=login after the new sign-in: %v, want a code", q)
	}
}

// TestOIDCRefusals: bad input at every endpoint gets the OAuth error the RFCs name, never a 500; until
// the client and its redirect URI are known to go together, the error is a page, never a redirect.
func TestOIDCRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	pages := []struct {
		name string
		u    string
	}{
		{"unregistered redirect URI", authorizeURL(&e.conf, "s", map[string]string{"redirect_uri": "https://evil.test/cb"})},
		{"redirect URI differing in a query", authorizeURL(&e.conf, "s", map[string]string{"redirect_uri": appCallback + "?x=1"})},
		{"unknown client", authorizeURL(&e.conf, "s", map[string]string{"client_id": "nope"})},
		{"no client", authorizeURL(&e.conf, "s", map[string]string{"client_id": ""})},
		{"no redirect URI", authorizeURL(&e.conf, "s", map[string]string{"redirect_uri": ""})},
		{"two redirect URIs", authorizeURL(&e.conf, "s", nil) + "&redirect_uri=https%3A%2F%2Fevil.test%2Fcb"},
		{"two clients", authorizeURL(&e.conf, "s", nil) + "&client_id=" + e.public.ClientID},
		{"huge client id", authorizeURL(&e.conf, "s", map[string]string{"client_id": strings.Repeat("x", 5000)})},
	}
	for _, p := range pages {
		res, body := b.visit(http.MethodGet, p.u, nil)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q %q, want a 400 page and no redirect\n%s", p.name, res.StatusCode, res.Header.Get("Location"), res.Header.Get("Content-Type"), body)
		}
	}
	redirects := []struct {
		name, want string
		set        map[string]string
	}{
		{"no openid", "invalid_scope", map[string]string{"scope": "profile email"}},
		{"response_type token", "unsupported_response_type", map[string]string{"response_type": "token"}},
		{"response_type id_token", "unsupported_response_type", map[string]string{"response_type": "id_token"}},
		{"no response_type", "unsupported_response_type", map[string]string{"response_type": ""}},
		{"huge nonce", "invalid_request", map[string]string{"nonce": strings.Repeat("n", 600)}},
		{"request object", "request_not_supported", map[string]string{"request": "eyJhbGciOiJub25lIn0.e30."}},
		{"request_uri", "request_uri_not_supported", map[string]string{"request_uri": "https://evil.test/r"}},
		{"bad max_age", "invalid_request", map[string]string{"max_age": "-1"}},
		{"bad organization", "invalid_request", map[string]string{"organization": "../x"}},
		{"prompt none and login", "invalid_request", map[string]string{"prompt": "none login"}},
		{"bad response_mode", "invalid_request", map[string]string{"response_mode": "web_message"}},
	}
	for _, r := range redirects {
		res, body := b.visit(http.MethodGet, authorizeURL(&e.conf, "st", r.set), nil)
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), appCallback) {
			t.Errorf("%s: %d %q, want a redirect to the client\n%s", r.name, res.StatusCode, res.Header.Get("Location"), body)
			continue
		}
		if q := e.callback(res); q.Get("error") != r.want || q.Get("state") != "st" {
			t.Errorf("%s: %v, want error=%s with the state", r.name, q, r.want)
		}
	}

	// The token endpoint.
	_, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	good := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appCallback}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		want       string
	}{
		{"wrong secret", good, e.conf.ClientID, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"unknown client", good, "nope", "x", http.StatusUnauthorized, "invalid_client"},
		{"no client authentication", good, "", "", http.StatusUnauthorized, "invalid_client"},
		{"another client's code", good, e.public.ClientID, "", http.StatusBadRequest, "invalid_request"},
		{"wrong redirect URI", with("redirect_uri", "https://app.test/other"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"unknown code", with("code", strings.Repeat("A", 43)), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"JWT-looking code", with("code", "eyJhbGciOiJIUzI1NiJ9.e30.x"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"no code", with("code", ""), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
		{"unexpected verifier", with("code_verifier", strings.Repeat("v", 43)), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
		{"malformed verifier", with("code_verifier", "short"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
		{"huge code", with("code", strings.Repeat("A", 5000)), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
		{"implicit grant", with("grant_type", "implicit"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
		{"client credentials", with("grant_type", "client_credentials"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
		{"JWT bearer grant", with("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
		{"no grant type", with("grant_type", ""), e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
		{"client assertion", with("client_assertion", "eyJ.e30.x"), "", "", http.StatusUnauthorized, "invalid_client"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("R", 43)}}, e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"refresh without a token", url.Values{"grant_type": {"refresh_token"}}, e.conf.ClientID, e.conf.ClientSecret, http.StatusBadRequest, "invalid_request"},
	} {
		status, code, h := e.tokenError(tc.form, tc.user, tc.pass)
		if status != tc.status || code != tc.want {
			t.Errorf("%s: %d %q, want %d %s", tc.name, status, code, tc.status, tc.want)
		}
		if status == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without a Basic challenge", tc.name)
		}
	}
	// The code survived every refusal above and still works, once.
	if _, err := e.conf.Exchange(e.ctx, code); err != nil {
		t.Errorf("the code after the refusals: %v", err)
	}
	// Parameters in the URL, a GET, a JSON body.
	for _, tc := range []struct {
		name, method, u, ctype string
		status                 int
	}{
		{"query", http.MethodPost, e.base + "/oidc/token?" + good.Encode(), "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"GET", http.MethodGet, e.base + "/oidc/token?" + good.Encode(), "", http.StatusMethodNotAllowed},
		{"JSON", http.MethodPost, e.base + "/oidc/token", "application/json", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(tc.method, tc.u, strings.NewReader(`{"grant_type":"authorization_code"}`))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("token request by %s: %d, want %d", tc.name, res.StatusCode, tc.status)
		}
	}

	// Userinfo.
	for _, tc := range []struct{ name, auth, wantErr string }{
		{"no token", "", ""},
		{"JWT-looking token", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "invalid_token"},
		{"unknown token", "Bearer " + strings.Repeat("A", 43), "invalid_token"},
		{"basic", "Basic eDp5", "invalid_token"},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.base+"/oidc/userinfo", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		ch := res.Header.Get("WWW-Authenticate")
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || (tc.wantErr != "") != strings.Contains(ch, `error="`+tc.wantErr+`"`) {
			t.Errorf("userinfo with %s: %d %q, want 401 with a Bearer challenge (error %q)", tc.name, res.StatusCode, ch, tc.wantErr)
		}
	}
}

// TestOIDCExpiredCode: a code is worth nothing after 60 seconds.
func TestOIDCExpiredCode(t *testing.T) {
	e := newOIDCEnv(t)
	_, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	e.clock.Add(61 * time.Second)
	if _, err := e.conf.Exchange(e.ctx, code); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("exchange of a code 61 s old: %v, want invalid_grant", err)
	}
}

// jwtKid is the key id in a JWT's header.
func jwtKid(t *testing.T, tok *oauth2.Token) string {
	raw, _ := tok.Extra("id_token").(string)
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid, Alg string
	}
	json.Unmarshal(b, &h)
	if h.Alg != "RS256" {
		t.Errorf("ID token signed with %q, want RS256", h.Alg)
	}
	return h.Kid
}

// TestOIDCKeyRotation: after `oidc rotate-key` a new key signs; a relying party that cached the key
// set verifies the new tokens (it fetches the set again for the new key id) and the old ones (the old
// key stays published).
func TestOIDCKeyRotation(t *testing.T) {
	e := newOIDCEnv(t)
	v := e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID})
	_, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok1, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	e.verify(v, tok1)
	out := e.cli("oidc", "rotate-key")
	if !strings.Contains(out, "RS256") || !strings.Contains(out, "ES256") {
		t.Errorf("oidc rotate-key printed %q", out)
	}
	if as, err := e.st.ListAdminActions(e.ctx, store.AdminActionQuery{Limit: 1}); err != nil || len(as) != 1 || as[0].Action != store.ActionOIDCKeyRotated ||
		as[0].Actor.Kind != store.ActorCLI || !strings.Contains(as[0].After, "RS256") || strings.Contains(as[0].After, "PRIVATE") {
		t.Errorf("the latest admin action %+v, %v; want oidc_key.rotated by the CLI, naming the keys, not their private halves", as, err)
	}
	e.clock.Add(6 * time.Second) // past the replicas' key cache
	_, code = e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok2, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if k1, k2 := jwtKid(t, tok1), jwtKid(t, tok2); k1 == k2 || !strings.Contains(out, k2) {
		t.Errorf("key ids %q before and %q after the rotation; want the new key (%q)", k1, k2, out)
	}
	e.verify(v, tok2)
	e.verify(v, tok1)
	// A day later the old key is gone from the set.
	e.clock.Add(openid.KeyOverlap + time.Minute)
	res, err := e.srv.Client().Get(e.base + "/oidc/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	json.NewDecoder(res.Body).Decode(&set)
	if len(set.Keys) != 2 || slices.ContainsFunc(set.Keys, func(k struct{ Kid string }) bool { return k.Kid == jwtKid(t, tok1) }) {
		t.Errorf("key set a day after the rotation: %+v, want the two new keys only", set.Keys)
	}
}

// TestOIDCLogout: RP-initiated logout ends the scimsso session and every token of it, and returns the
// browser to the registered post-logout URI when the id_token_hint is valid.
func TestOIDCLogout(t *testing.T) {
	e := newOIDCEnv(t)
	b, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	hint, _ := tok.Extra("id_token").(string)
	if status, _, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo before logout: %d", status)
	}
	// An unregistered post-logout URI signs out but goes nowhere.
	res, _ := b.visit(http.MethodGet, e.base+"/oidc/logout?"+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.test/"}}.Encode(), nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" {
		t.Errorf("logout to an unregistered URI: %d %q, want the signed-out page", res.StatusCode, res.Header.Get("Location"))
	}
	if status, _, _ := e.userinfo(tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d, want 401", status)
	}
	// The session ended as logged out, naming the client that held its tokens (for back-channel logout).
	ended, err := e.st.ListEvents(e.ctx, store.EventQuery{Types: []string{store.EventSessionEnded}, Limit: 10})
	if err != nil || len(ended) != 1 {
		t.Fatalf("session.ended events after logout: %d, %v", len(ended), err)
	}
	var o store.SessionObject
	if err := json.Unmarshal(ended[0].Data, &o); err != nil || o.Reason != store.EndLogout || fmt.Sprint(o.Clients) != "["+e.conf.ClientID+"]" {
		t.Errorf("session.ended after RP-initiated logout: %s", ended[0].Data)
	}
	res, _ = b.visit(http.MethodGet, e.conf.AuthCodeURL("st2", oauth2.SetAuthURLParam("prompt", "none")), nil)
	if q := e.callback(res); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after logout: %v, want login_required", q)
	}

	b, code = e.login(&e.conf, "ada@acme.com", "st", random(t))
	if tok, err = e.conf.Exchange(e.ctx, code); err != nil {
		t.Fatal(err)
	}
	hint, _ = tok.Extra("id_token").(string)
	res, _ = b.visit(http.MethodGet, e.base+"/oidc/logout?"+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appBye}, "state": {"bye1"}}.Encode(), nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || loc != appBye+"?state=bye1" {
		t.Errorf("logout: %d %q, want a redirect to %s?state=bye1", res.StatusCode, loc, appBye)
	}
	if status, _, _ := e.userinfo(tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d, want 401", status)
	}
}

// TestOIDCDeactivation: a SCIM deactivation refuses the user's access token at userinfo at once.
func TestOIDCDeactivation(t *testing.T) {
	e := newOIDCEnv(t)
	_, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	status, c, _ := e.userinfo(tok.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	req, _ := http.NewRequest(http.MethodPatch, e.base+"/scim/v2/acme/Users/"+c.Sub,
		strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`))
	req.Header.Set("Authorization", "Bearer "+e.scim)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SCIM deactivation: %d", res.StatusCode)
	}
	if status, _, _ := e.userinfo(tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after SCIM active=false: %d, want 401", status)
	}
}

// TestOIDCBrowserBinding: an authorization request completes only in the browser that sent it: a
// signed-in person who opens the resume link of someone else's pending request gets a page, and no
// code goes anywhere.
func TestOIDCBrowserBinding(t *testing.T) {
	e := newOIDCEnv(t)
	victim, _ := e.login(&e.conf, "ada@acme.com", "st", random(t))
	res, _ := e.browser().visit(http.MethodGet, e.conf.AuthCodeURL("attacker", oauth2.SetAuthURLParam("login_hint", "ada@acme.com")), nil)
	if !strings.HasPrefix(res.Header.Get("Location"), "https://idp.test/") {
		t.Fatalf("attacker's authorize: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The resume link of the attacker's request, as the sign-in would return to it.
	u, _ := url.Parse(res.Request.URL.String())
	resume := e.base + u.Query().Get("return_to")
	if !strings.Contains(resume, "/oidc/authorize/resume?id=") {
		t.Fatalf("no resume link in %s", res.Request.URL)
	}
	res, body := victim.visit(http.MethodGet, resume, nil)
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
		t.Errorf("another browser's resume link: %d %q, want a 400 page\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
}

// TestOIDCLogsAreJSON: the protocol library's log lines (it logs every refused request) come out of a
// running scimsso as JSON like every other line.
func TestOIDCLogsAreJSON(t *testing.T) {
	t.Parallel()
	s := startServer(t, newDB(t), "--log-level", "debug")
	res, err := http.Post(s.url+"/oidc/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=implicit"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("token request: %d", res.StatusCode)
	}
	found := false
	for _, l := range s.logLines(t) { // fails the test on a line that is not JSON
		if l["logger"] == "oidc" && l["msg"] == "request error" {
			found = true
		}
	}
	if !found {
		t.Errorf("no oidc log line for the refused request:\n%s", s.logs(t))
	}
}

// jwtAlg is the algorithm in the header of tok's ID token.
func jwtAlg(t testing.TB, tok *oauth2.Token) string {
	raw, _ := tok.Extra("id_token").(string)
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg string }
	json.Unmarshal(b, &h)
	return h.Alg
}

// TestOIDCES256: a client registered with --id-token-alg ES256 gets ID tokens signed ES256, which a
// go-oidc relying party configured for ES256 verifies against the published keys (and one that takes
// only RS256 refuses); an ES256 ID token serves as id_token_hint; other clients keep
// RS256.
func TestOIDCES256(t *testing.T) {
	e := newOIDCEnv(t)
	reg := kv(e.cli("client", "add", "Dash", "--redirect-uri", appCallback, "--id-token-alg", "ES256"))
	ec := e.conf
	ec.ClientID, ec.ClientSecret = reg["client_id"], reg["client_secret"]
	if list := e.cli("client", "list"); !strings.Contains(list, "ES256") || !strings.Contains(list, "RS256") {
		t.Errorf("client list does not show the ID token algorithms:\n%s", list)
	}
	b, code := e.login(&ec, "ada@acme.com", "st", random(t))
	tok, err := ec.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if alg := jwtAlg(t, tok); alg != "ES256" {
		t.Fatalf("ID token of an ES256 client signed %s", alg)
	}
	_, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: ec.ClientID, SupportedSigningAlgs: []string{gooidc.ES256}}), tok)
	if c.Email != "ada@acme.com" {
		t.Errorf("ES256 ID token claims = %+v", c)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := e.op.Verifier(&gooidc.Config{ClientID: ec.ClientID, SupportedSigningAlgs: []string{gooidc.RS256}}).Verify(e.ctx, raw); err == nil {
		t.Error("a verifier that takes only RS256 accepted the token: it is not ES256")
	}
	// The ES256 token as id_token_hint, with prompt=none: the same person is signed in, so a code.
	res, _ := b.visit(http.MethodGet, ec.AuthCodeURL("st2", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", raw)), nil)
	if q := e.callback(res); q.Get("code") == "" {
		t.Errorf("prompt=none with an ES256 id_token_hint of the signed-in person: %v, want a code", q)
	}
	// The default client still gets RS256.
	_, code = e.login(&e.conf, "ada@acme.com", "st", random(t))
	if tok, err = e.conf.Exchange(e.ctx, code); err != nil {
		t.Fatal(err)
	}
	if alg := jwtAlg(t, tok); alg != "RS256" {
		t.Errorf("ID token of a default client signed %s, want RS256", alg)
	}
}

// TestOIDCRefreshKeepsTheSessionBounded: a refresh keeps the scimsso session from expiring while the
// person's soft timeout runs, but it is not the person's use: an application refreshing for ever keeps
// the session at most the soft timeout plus the hard timeout after the person was last seen (found in
// review: refreshes moved the last use, and such a session never ended nor went back to the IdP).
// Here the hard timeout is an hour and the soft one 55 minutes.
func TestOIDCRefreshKeepsTheSessionBounded(t *testing.T) {
	e := newOIDCEnv(t)
	e.cli("sso", "set", "--tenant", "acme", "--hard-timeout", "1h", "--soft-timeout", "55m")
	verifier := oauth2.GenerateVerifier()
	_, code := e.login(&e.public, "ada@acme.com", "st", random(t), oauth2.S256ChallengeOption(verifier))
	tok, err := e.public.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return e.public.TokenSource(e.ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	// At 50 minutes, within the soft timeout: the session now expires at 1h50.
	e.clock.Add(50 * time.Minute)
	if tok, err = refresh(tok.RefreshToken); err != nil {
		t.Fatalf("refresh at 50m: %v", err)
	}
	// At 1h40, beyond the hour the session had at sign-in: still alive, by the first refresh; past the
	// soft timeout, so this refresh keeps it no longer.
	e.clock.Add(50 * time.Minute)
	if tok, err = refresh(tok.RefreshToken); err != nil {
		t.Fatalf("refresh at 1h40: %v", err)
	}
	if status, _, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo at 1h40: %d, want 200", status)
	}
	// At 1h55 the session is over, and the refresh token with it.
	e.clock.Add(15 * time.Minute)
	if _, err := refresh(tok.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh at 1h55, with nobody seen since the sign-in: %v, want invalid_grant", err)
	}
}

// TestOIDCIDTokenHint: an id_token_hint names the person the application expects. The person signed in
// gets a code; someone else signed in gets login_required with prompt=none, and otherwise a new sign-in,
// whose result the client gets only if it is the hinted person.
func TestOIDCIDTokenHint(t *testing.T) {
	e := newOIDCEnv(t)
	idToken := func(email string) (*browser, string, string) {
		t.Helper()
		b, code := e.login(&e.conf, email, "st", random(t))
		tok, err := e.conf.Exchange(e.ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		_, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID}), tok)
		return b, raw, c.Sub
	}
	ada, adaHint, adaSub := idToken("ada@acme.com")
	_, bobHint, bobSub := idToken("bob@acme.com")
	e.clock.Add(time.Second) // the sessions are older than the requests below
	hinted := func(hint string, opts ...oauth2.AuthCodeOption) string {
		return e.conf.AuthCodeURL("sth", append(opts, oauth2.SetAuthURLParam("id_token_hint", hint))...)
	}
	res, _ := ada.visit(http.MethodGet, hinted(adaHint, oauth2.SetAuthURLParam("prompt", "none")), nil)
	if q := e.callback(res); q.Get("code") == "" {
		t.Errorf("prompt=none, hint of the person signed in: %v, want a code", q)
	}
	res, _ = ada.visit(http.MethodGet, hinted(bobHint, oauth2.SetAuthURLParam("prompt", "none")), nil)
	if q := e.callback(res); q.Get("error") != "login_required" || q.Get("code") != "" {
		t.Errorf("prompt=none, hint of someone else: %v, want error=login_required", q)
	}
	// Without prompt=none: a new sign-in; as the hinted person, the client gets them.
	res, _ = ada.visit(http.MethodGet, hinted(bobHint, oauth2.SetAuthURLParam("login_hint", "bob@acme.com")), nil)
	res, _ = ada.signIn(res, "bob@acme.com")
	q := e.callback(res)
	if q.Get("code") == "" {
		t.Fatalf("hint of someone else, then their sign-in: %v, want a code", q)
	}
	tok, err := e.conf.Exchange(e.ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: e.conf.ClientID}), tok); c.Sub != bobSub {
		t.Errorf("the code after the new sign-in is for %s, want the hinted %s", c.Sub, bobSub)
	}
	// The new sign-in is not the hinted person: the client does not get them.
	e.clock.Add(time.Second)
	res, _ = ada.visit(http.MethodGet, hinted(adaHint, oauth2.SetAuthURLParam("login_hint", "bob@acme.com")), nil)
	res, _ = ada.signIn(res, "bob@acme.com")
	if q := e.callback(res); q.Get("error") != "login_required" || q.Get("code") != "" {
		t.Errorf("hint of %s, signed in again as bob: %v, want error=login_required", adaSub, q)
	}
}

// TestOIDCLogoutAsksWithoutAHint: a logout that does not name this very session (no id_token_hint, or
// another session's) is a nuisance any site could cause with a link, so the person is asked first;
// the form posted from that page signs out and clears the cookie, a post from another site does not
// (found in review: a bare GET /oidc/logout ended the session).
func TestOIDCLogoutAsksWithoutAHint(t *testing.T) {
	e := newOIDCEnv(t)
	b, code := e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok, err := e.conf.Exchange(e.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	// Another sign-in of the same person, in another browser: its hint names another session.
	_, code2 := e.login(&e.conf, "ada@acme.com", "st", random(t))
	tok2, err := e.conf.Exchange(e.ctx, code2)
	if err != nil {
		t.Fatal(err)
	}
	otherHint, _ := tok2.Extra("id_token").(string)
	live := func(want int, when string) {
		t.Helper()
		if status, _, _ := e.userinfo(tok.AccessToken); status != want {
			t.Fatalf("userinfo %s: %d, want %d", when, status, want)
		}
	}
	for _, q := range []url.Values{{}, {"id_token_hint": {otherHint}}} {
		res, body := b.visit(http.MethodGet, e.base+"/oidc/logout?"+q.Encode(), nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<form method="post"`) || !strings.Contains(body, "Sign out") {
			t.Fatalf("logout %v: %d, want the question\n%s", q, res.StatusCode, body)
		}
		live(http.StatusOK, fmt.Sprintf("after an unconfirmed logout %v", q))
	}
	post := func(origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oidc/logout", strings.NewReader("confirm=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	post("https://evil.example")
	live(http.StatusOK, "after a confirmation posted from another site")
	res := post(e.base)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirmed logout: %d", res.StatusCode)
	}
	cleared := false
	for _, c := range res.Cookies() {
		cleared = cleared || (strings.HasSuffix(c.Name, "scimsso_session") && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("the confirmed logout did not clear the session cookie")
	}
	live(http.StatusUnauthorized, "after the confirmed logout")
}
