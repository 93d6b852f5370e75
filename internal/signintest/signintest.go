// Package signintest runs scimsso's sign-in as a browser meets it, for tests: the SAML service provider
// (samlsp), the people's web (people) and the admin console (console) wired as cmd wires them, on a
// real SQLite file, behind TLS, with tenant acme trusting a real test IdP (samltest). The packages'
// tests drive it over HTTP.
package signintest

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/html"

	"github.com/scimsso/scimsso/console"
	"github.com/scimsso/scimsso/internal/safefetch"
	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// The attribute names the harness's responses carry (Entra's claim URIs).
const (
	ClaimEmail = samltest.ClaimEmail
	ClaimFirst = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	ClaimLast  = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
	ClaimOID   = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	ClaimCtry  = samltest.ClaimCountry
	ClaimAlt   = "secondaryEmail"
)

var ctx = context.Background()

// Harness is a running scimsso sign-in server (TLS, so the Secure binding cookie works as in a
// browser) on a real SQLite file, with tenant acme (domains acme.com, acme.de) trusting a test IdP.
type Harness struct {
	T       testing.TB
	St      *sqlstore.Store
	Srv     *httptest.Server
	Handler http.Handler
	Skew    atomic.Int64 // added to the server's clock (the IdP's stays real)
	Logs    *observer.ObservedLogs
	DBPath  string
	IdP     *samltest.IdP
	Tenant  *store.Tenant
	// SPConfig and StoreOptions, when set, adjust the SAML server's and the store's configuration at
	// start.
	SPConfig     func(*samlsp.Config)
	StoreOptions func(*sqlstore.Options)
	// WebConfig, when set, adjusts the people's web configuration at start (set it, then Restart).
	WebConfig func(*people.Config)
	// ConsoleConfig, when set, adjusts the admin console's configuration at start (set it, then
	// Restart). The console is wired as cmd wires it; FetchMetadata fails unless set here; its
	// Refresher fetches stored metadata URLs on loopback (httptest servers), over http too.
	ConsoleConfig func(*console.Config)
}

// New starts a harness whose tenant's settings are the defaults, SSO active with the test IdP,
// adjusted by configure.
func New(t testing.TB, configure func(*store.SSOSettings)) *Harness {
	t.Helper()
	return NewWith(t, configure, nil, nil)
}

// NewWith is New with the SAML server's and the store's configuration adjusted.
func NewWith(t testing.TB, configure func(*store.SSOSettings), spConfig func(*samlsp.Config), storeOptions func(*sqlstore.Options)) *Harness {
	t.Helper()
	return NewOn(t, httptest.NewTLSServer(nil), configure, spConfig, storeOptions)
}

// NewOn is NewWith on srv, an unstarted handler's server: BASE is its URL, http or https.
func NewOn(t testing.TB, srv *httptest.Server, configure func(*store.SSOSettings), spConfig func(*samlsp.Config), storeOptions func(*sqlstore.Options)) *Harness {
	t.Helper()
	h := &Harness{T: t, DBPath: filepath.Join(t.TempDir(), "s.db"), SPConfig: spConfig, StoreOptions: storeOptions}
	h.Srv = srv
	t.Cleanup(h.Srv.Close)
	h.Start()
	t.Cleanup(func() { h.St.Close() })
	var err error
	h.Tenant = h.AddTenant("acme", "acme.com", "acme.de")
	if h.IdP, err = samltest.New("https://idp.example/acme", "https://idp.example/sso", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.Configure(h.Tenant, h.IdP, configure)
	return h
}

// Start opens the store and mounts a new SAML server and people's web on h.Srv, wired as cmd wires
// them: a restart, when called again.
func (h *Harness) Start() {
	now := func() time.Time { return time.Now().Add(time.Duration(h.Skew.Load())) }
	opts := sqlstore.Options{Path: h.DBPath, Now: now}
	if h.StoreOptions != nil {
		h.StoreOptions(&opts)
	}
	st, err := sqlstore.Open(ctx, opts)
	if err != nil {
		h.T.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	if _, fuzzing := h.T.(*testing.F); !fuzzing { // a fuzz target may not log through F
		log = zap.New(zapcore.NewTee(core, zaptest.NewLogger(h.T).Core()))
	}
	sessions, err := people.NewSessions(people.SessionsConfig{Store: st, BaseURL: h.Srv.URL, Now: now})
	if err != nil {
		h.T.Fatal(err)
	}
	cfg := samlsp.Config{Store: st, Logger: log, BaseURL: h.Srv.URL, Now: now, Sessions: sessions}
	if h.SPConfig != nil {
		h.SPConfig(&cfg)
	}
	sp, err := samlsp.New(cfg)
	if err != nil {
		h.T.Fatal(err)
	}
	webCfg := people.Config{Store: st, Logger: log, BaseURL: h.Srv.URL, Now: now, Sessions: sessions, SSO: sp}
	if h.WebConfig != nil {
		h.WebConfig(&webCfg)
	}
	web, err := people.New(webCfg)
	if err != nil {
		h.T.Fatal(err)
	}
	// The refresh of stored metadata URLs as serve --allow-http-loopback-metadata runs it: the tests'
	// metadata servers listen on loopback.
	refresher, err := samlsp.NewRefresher(samlsp.RefresherConfig{Store: st, Logger: log, Now: now,
		Policy: safefetch.Policy{AllowHTTPLoopback: true, LoopbackSetting: "the test harness"}})
	if err != nil {
		h.T.Fatal(err)
	}
	consoleCfg := console.Config{Store: st, Logger: log, BaseURL: h.Srv.URL, Now: now,
		Refresher: refresher, RefreshInterval: samlsp.DefaultRefreshInterval,
		SignedIn: func(r *http.Request) (*store.Session, bool, error) {
			ses, _, stale, err := web.SessionOf(r)
			return ses, stale, err
		},
		ReauthURL: sp.ReauthURL,
		TestLink: func(ctx context.Context, t *store.Tenant) (string, error) {
			return samlsp.NewTestLink(ctx, st, h.Srv.URL, t, now().Add(10*time.Minute))
		},
		MetadataURL: sp.MetadataURL, ACSURL: sp.ACSURL,
		ParseMetadata: func(b []byte) (*console.IdP, error) {
			idp, err := samlsp.ParseIdPMetadata(b)
			if err != nil {
				return nil, err
			}
			return &console.IdP{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM}, nil
		},
		FetchMetadata: func(context.Context, string) ([]byte, error) { return nil, errors.New("the harness fetches nothing") },
	}
	if h.ConsoleConfig != nil {
		h.ConsoleConfig(&consoleCfg)
	}
	admin, err := console.New(consoleCfg)
	if err != nil {
		h.T.Fatal(err)
	}
	r := mux.NewRouter()
	sp.Routes(r)
	web.Routes(r)
	admin.Routes(r)
	h.St, h.Logs, h.Handler = st, logs, r
	h.Srv.Config.Handler = r
}

// Restart closes the store and starts a new server on the same database file, as a process restart does.
func (h *Harness) Restart() {
	h.St.Close()
	h.Start()
}

// Refusal returns the code of the last logged refusal ("" if none) and forgets the logs.
func (h *Harness) Refusal() string {
	code, _ := h.RefusalReason()
	return code
}

// RefusalReason is Refusal with the logged reason.
func (h *Harness) RefusalReason() (code, reason string) {
	for _, e := range h.Logs.TakeAll() {
		if e.Message == "sign-in refused" {
			code = "http"
			if c, ok := e.ContextMap()["code"].(string); ok {
				code = c
			}
			reason, _ = e.ContextMap()["reason"].(string)
		}
	}
	return code, reason
}

// AddTenant creates a tenant with its own SP key pair and the given domains.
func (h *Harness) AddTenant(slug string, domains ...string) *store.Tenant {
	key, cert, err := samlsp.GenerateKeyPair("scimsso "+slug, time.Now())
	if err != nil {
		h.T.Fatal(err)
	}
	tn := &store.Tenant{Slug: slug, Name: slug, Domains: domains, SPKeyPEM: key, SPCertPEM: cert}
	if err := h.St.CreateTenant(ctx, tn); err != nil {
		h.T.Fatal(err)
	}
	return tn
}

// Configure stores tn's SSO settings: its stored ones (or the defaults), active with idp, then adjusted
// by configure.
func (h *Harness) Configure(tn *store.Tenant, idp *samltest.IdP, configure func(*store.SSOSettings)) {
	set, err := h.St.SSOSettings(ctx, tn.ID)
	if err != nil {
		set = store.DefaultSSOSettings()
	}
	set.State, set.IdPEntityID, set.IdPSSOURL, set.IdPCertificatesPEM = "active", idp.EntityID, idp.SSOURL, []string{idp.CertPEM()}
	if configure != nil {
		configure(set)
	}
	if err := h.St.PutSSOSettings(ctx, tn.ID, set); err != nil {
		h.T.Fatal(err)
	}
}

// Browser is a client with its own cookie jar that does not follow redirects, so each hop is seen.
func (h *Harness) Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := h.Srv.Client()
	return &http.Client{Transport: c.Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Acs is the tenant's ACS URL.
func (h *Harness) Acs(slug string) string { return h.Srv.URL + "/saml/" + slug + "/acs" }

// EntityID is the tenant's SP entity ID (its metadata URL).
func (h *Harness) EntityID(slug string) string { return h.Srv.URL + "/saml/" + slug + "/metadata" }

// Login starts an SP-initiated sign-in in b and returns the AuthnRequest ID the IdP would answer.
func (h *Harness) Login(b *http.Client, slug, returnTo string) string {
	h.T.Helper()
	res, err := b.Get(h.Srv.URL + "/saml/" + slug + "/login?return_to=" + url.QueryEscape(returnTo))
	if err != nil {
		h.T.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		h.T.Fatalf("login: %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, h.IdP.SSOURL+"?SAMLRequest=") {
		h.T.Fatalf("login redirects to %s", loc)
	}
	id, acs, err := samltest.RequestOf(loc)
	if err != nil || acs != h.Acs(slug) {
		h.T.Fatalf("AuthnRequest: id %q acs %q: %v", id, acs, err)
	}
	return id
}

// Response makes a valid response of h.IdP to tenant slug for the given user attributes.
func (h *Harness) Response(slug, inResponseTo string, attrs map[string]string, mutate func(*samltest.Response)) []byte {
	h.T.Helper()
	r := samltest.Response{ACS: h.Acs(slug), Audience: h.EntityID(slug), InResponseTo: inResponseTo, NameID: attrs[ClaimEmail]}
	for _, k := range []string{ClaimEmail, ClaimFirst, ClaimLast, ClaimOID, ClaimCtry, ClaimAlt} {
		if v, ok := attrs[k]; ok {
			r.Attrs = append(r.Attrs, samltest.Attr{Name: k, Values: []string{v}})
		}
	}
	if mutate != nil {
		mutate(&r)
	}
	doc, err := h.IdP.Make(r)
	if err != nil {
		h.T.Fatal(err)
	}
	return doc
}

// Post submits the IdP's auto-post form to the ACS.
func (h *Harness) Post(b *http.Client, slug string, doc []byte, relay string) *http.Response {
	h.T.Helper()
	res, err := b.PostForm(h.Acs(slug), url.Values{"SAMLResponse": {samltest.Encode(doc)}, "RelayState": {relay}})
	if err != nil {
		h.T.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// Me is what Me reads of /me's answer.
type Me struct {
	User struct {
		ID, Tenant, UserName, GivenName, FamilyName, Country, ExternalID, Source string
	}
	Session struct{ Pending bool }
}

// Me asks /me in b and returns the status and the answer.
func (h *Harness) Me(b *http.Client) (int, Me) {
	h.T.Helper()
	res, err := b.Get(h.Srv.URL + "/me")
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	var m Me
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// Users returns the tenant's users (up to 100).
func (h *Harness) Users() []store.User {
	us, _, err := h.St.ListUsers(ctx, h.Tenant.ID, store.UserQuery{Limit: 100})
	if err != nil {
		h.T.Fatal(err)
	}
	return us
}

// ScimUser provisions a user as SCIM would.
func (h *Harness) ScimUser(name, ext string, active bool) *store.User {
	u := &store.User{UserName: name, Emails: []store.Email{{Value: name, Type: "work", Primary: true}}, GivenName: "Pushed", FamilyName: "ByScim",
		Country: "DE", ExternalID: ext, Active: active, Source: store.SourceSCIM}
	if err := h.St.CreateUser(ctx, h.Tenant.ID, u, store.Audit{Operation: "create"}); err != nil {
		h.T.Fatal(err)
	}
	return u
}

// Person is an assertion's attributes for a new user with all first sign-in needs (country DE).
func Person(email, first, last string) map[string]string {
	return map[string]string{ClaimEmail: email, ClaimFirst: first, ClaimLast: last, ClaimCtry: "DE"}
}

// With returns a copy of m with k set to v, or removed when v is "".
func With(m map[string]string, k, v string) map[string]string {
	c := map[string]string{}
	for a, b := range m {
		c[a] = b
	}
	if v == "" {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

// Send makes one request in b (path relative to the server, or absolute) and returns the response
// with its body read. A non-nil form is posted urlencoded.
func (h *Harness) Send(b *http.Client, method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	h.T.Helper()
	if strings.HasPrefix(path, "/") {
		path = h.Srv.URL + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		h.T.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.T.Fatal(err)
	}
	return res, string(raw)
}

// Form fetches the page at path in b and returns its form that posts to action.
func (h *Harness) Form(b *http.Client, path, action string) samltest.Form {
	h.T.Helper()
	res, body := h.Send(b, http.MethodGet, path, nil, nil)
	if res.StatusCode != http.StatusOK {
		h.T.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
	}
	return h.FormIn(path, body, action)
}

// FormIn returns the form of a page (fetched from path) that posts to action.
func (h *Harness) FormIn(path, body, action string) samltest.Form {
	h.T.Helper()
	pageURL, _ := url.Parse(h.Srv.URL + path)
	forms, err := samltest.Forms(pageURL, []byte(body))
	if err != nil {
		h.T.Fatal(err)
	}
	for _, f := range forms {
		if f.Method == http.MethodPost && f.Action.Path == action {
			return f
		}
	}
	h.T.Fatalf("no form posting to %s on %s:\n%s", action, path, body)
	return samltest.Form{}
}

// Submit posts f from b as a browser does.
func (h *Harness) Submit(b *http.Client, f samltest.Form, hdr map[string]string) (*http.Response, string) {
	h.T.Helper()
	return h.Send(b, f.Method, f.Action.String(), f.Values, hdr)
}

// MeDoc is /me's answer: the signed-in user and session, or the error and where to go.
type MeDoc struct {
	Error, Login, Welcome string
	User                  struct{ ID, UserName, Country, Department, Team, Source string }
	Session               struct {
		CreatedAt, LastSeenAt, ExpiresAt time.Time
		Pending, Mobile                  bool
	}
}

// MeAs asks /me with the given Accept header (a browser sends text/html).
func (h *Harness) MeAs(b *http.Client, accept string) (*http.Response, MeDoc) {
	h.T.Helper()
	res, body := h.Send(b, http.MethodGet, "/me", nil, map[string]string{"Accept": accept})
	var m MeDoc
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			h.T.Fatalf("/me: %v\n%s", err, body)
		}
	}
	return res, m
}

// PostACS posts a response to the ACS and returns the page it answers with.
func (h *Harness) PostACS(b *http.Client, slug string, doc []byte) (*http.Response, string) {
	h.T.Helper()
	return h.Send(b, http.MethodPost, h.Acs(slug), url.Values{"SAMLResponse": {samltest.Encode(doc)}}, nil)
}

// User returns the tenant's user with that userName, nil if there is none.
func (h *Harness) User(name string) *store.User {
	for _, u := range h.Users() {
		if u.UserName == name {
			return &u
		}
	}
	return nil
}

// SetPassword stores pw's hash as u's password.
func (h *Harness) SetPassword(u *store.User, pw string) {
	h.T.Helper()
	hash, err := people.HashPassword(pw)
	if err != nil {
		h.T.Fatal(err)
	}
	if err := h.St.SetPassword(ctx, h.Tenant.ID, u.ID, hash); err != nil {
		h.T.Fatal(err)
	}
}

// IdpRequest checks that res redirects to the IdP and returns the AuthnRequest's ID and IsPassive.
func (h *Harness) IdpRequest(res *http.Response) (id string, passive bool) {
	h.T.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.IdP.SSOURL+"?SAMLRequest=") {
		h.T.Fatalf("want a redirect to the IdP, got %d to %q", res.StatusCode, loc)
	}
	id, acs, err := samltest.RequestOf(loc)
	if err != nil || id == "" || acs != h.Acs("acme") {
		h.T.Fatalf("AuthnRequest: id %q acs %q: %v", id, acs, err)
	}
	u, _ := url.Parse(loc)
	raw, _ := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	doc, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		h.T.Fatal(err)
	}
	var req struct {
		IsPassive string `xml:"IsPassive,attr"`
	}
	if err := xml.Unmarshal(doc, &req); err != nil {
		h.T.Fatal(err)
	}
	return id, req.IsPassive == "true"
}

// SetCookie returns the cookie named name that res sets, or nil.
func SetCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// JarCookie returns the value of b's cookie named name for the server, or "".
func (h *Harness) JarCookie(b *http.Client, name string) string {
	u, _ := url.Parse(h.Srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// PageHeaders checks the headers every page of the people's flows carries. Referrer-Policy is same-origin:
// under no-referrer Chromium posts the page's own forms with "Origin: null" (seen in the browser tests).
func PageHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	want := map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %s is %q, want %q", what, k, got, v)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q", what, res.Header.Get("Content-Type"))
	}
}

// SelectOptions returns the option values of the select named name on an HTML page.
func SelectOptions(t *testing.T, body, name string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var out []string
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode {
			if v, _ := attr(n, "name"); n.Data == "select" && v == name {
				in = true
			}
			if v, ok := attr(n, "value"); in && n.Data == "option" && ok {
				out = append(out, v)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	return out
}

// TestLink makes a one-time test link of tenant slug valid for ttl, as `scimsso sso test-link` does.
func (h *Harness) TestLink(slug string, ttl time.Duration) string {
	h.T.Helper()
	tn, err := h.St.TenantBySlug(ctx, slug)
	if err != nil {
		h.T.Fatal(err)
	}
	link, err := samlsp.NewTestLink(ctx, h.St, h.Srv.URL, tn, time.Now().Add(ttl))
	if err != nil {
		h.T.Fatal(err)
	}
	if !strings.HasPrefix(link, h.Srv.URL+"/saml/"+slug+"/test?token=") {
		h.T.Fatalf("test link %q", link)
	}
	return link
}

// StartTest opens a test link in b and returns the test AuthnRequest's ID.
func (h *Harness) StartTest(b *http.Client, link string) string {
	h.T.Helper()
	res, body := h.OpenTestLink(b, link)
	if res.StatusCode != http.StatusFound {
		h.T.Fatalf("GET %s: %d\n%s", link, res.StatusCode, body)
	}
	id, passive := h.IdpRequest(res)
	if passive {
		h.T.Fatal("a test sign-in asked for IsPassive")
	}
	return id
}

// OpenTestLink does what a person does with a test link: opens its page and presses its button, which
// posts the link's token from the page. It returns the answer to the post, or to the opening when
// that is no page with the button.
func (h *Harness) OpenTestLink(b *http.Client, link string) (*http.Response, string) {
	h.T.Helper()
	res, body := h.Send(b, http.MethodGet, link, nil, nil)
	action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindStringSubmatch(body)
	token := regexp.MustCompile(`<input type="hidden" name="token" value="([^"]+)">`).FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || action == nil || token == nil {
		return res, body
	}
	return h.Send(b, http.MethodPost, html.UnescapeString(action[1]), url.Values{"token": {html.UnescapeString(token[1])}},
		map[string]string{"Origin": h.Srv.URL, "Sec-Fetch-Site": "same-origin"})
}

// Result is what one of many parallel requests got.
type Result struct {
	Status     int
	RetryAfter string
	Err        error
}

// Parallel sends the requests all at once (each made by mk from its index, in its own client) and
// returns what each got.
func Parallel(n int, clients []*http.Client, mk func(i int) *http.Request) []Result {
	out := make([]Result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := mk(i)
			<-start
			res, err := clients[i%len(clients)].Do(req)
			if err != nil {
				out[i].Err = err
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			out[i] = Result{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// Tally counts the results by status and fails on a transport error or a 429 without Retry-After.
func Tally(t *testing.T, rs []Result) map[int]int {
	t.Helper()
	m := map[int]int{}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Status == http.StatusTooManyRequests && r.RetryAfter == "" {
			t.Fatal("a 429 without Retry-After")
		}
		m[r.Status]++
	}
	return m
}
