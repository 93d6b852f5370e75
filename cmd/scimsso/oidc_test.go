package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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
	t      *testing.T
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

func newOIDCEnv(t *testing.T) *oidcEnv {
	e := &oidcEnv{t: t, clock: storetest.NewClock(time.Now()), db: filepath.Join(t.TempDir(), "scimsso.db")}
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

	e.st, err = sqlstore.Open(context.Background(), sqlstore.Options{Path: e.db, Now: e.clock.Now})
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
	h, err := m.buildHandler(e.st, zaptest.NewLogger(t), e.base)
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
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, appCallback+"?") {
		e.t.Fatalf("expected a redirect to %s, got %d %q", appCallback, res.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func random(t *testing.T) string {
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
		!slices.Contains(disc.Algs, "RS256") || disc.Introspection != "" {
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

func tenantID(t *testing.T, st store.Store, slug string) string {
	tn, err := st.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}
