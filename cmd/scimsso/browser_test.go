package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// chromium returns Debian's Chromium. Without it the browser tests skip with a message, except under
// .ci/run, which installs it and sets SCIMSSO_REQUIRE_BROWSER=1 so that a skip cannot pass unnoticed.
func chromium(t *testing.T) string {
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("SCIMSSO_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SCIMSSO_REQUIRE_BROWSER=1 but %s is missing: %v", path, err)
		}
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium, or run .ci/run, which does)", path)
	}
	return path
}

// browserEnv is scimsso at https://sp.test and the demo IdP (crewjam samlidp) at http://idp.test, both
// on loopback, with tenant demo (example.com) connected to the IdP, driven by headless Chromium with a
// phone-sized window. The IdP's POST back to the ACS is cross-site, as in production. scimsso's clock
// (server and store) is the real one plus skew, so timeouts can be crossed while the IdP stays on
// real time, as a real IdP would.
type browserEnv struct {
	t      *testing.T
	base   string
	idpURL string
	st     store.Store
	tenant *store.Tenant
	ctx    context.Context
	skew   atomic.Int64
	idpSSO atomic.Int64 // requests to the IdP's single sign-on endpoint
	shots  int
}

func newBrowserEnv(t *testing.T) *browserEnv { return newBrowserEnvAt(t, "sp.test") }

// newBrowserEnvAt is newBrowserEnv with scimsso at https://spHost:PORT: "localhost" lets programs other
// than Chromium (oauth2-proxy) reach it by the same URL.
func newBrowserEnvAt(t *testing.T, spHost string) *browserEnv {
	chrome := chromium(t)
	e := &browserEnv{t: t}
	ctx := context.Background()
	spLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = fmt.Sprintf("https://%s:%d", spHost, spLn.Addr().(*net.TCPAddr).Port)
	e.idpURL = fmt.Sprintf("http://idp.test:%d", idpLn.Addr().(*net.TCPAddr).Port)

	now := func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	m := NewMain()
	m.Stdout, m.Stderr, m.Now = io.Discard, io.Discard, now
	// As serve --allow-http-loopback-metadata: the IdP metadata URLs the tests serve are on loopback.
	m.loopbackMeta = true
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(t.TempDir(), "s.db"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	if e.tenant, _, err = m.demoTenant(ctx, st); err != nil {
		t.Fatal(err)
	}
	handler, err := m.buildHandler(st, zaptest.NewLogger(t), e.base)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := m.demoIdP(e.idpURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := demoConnect(ctx, st, e.tenant, handler, idp); err != nil {
		t.Fatal(err)
	}
	sp := httptest.NewUnstartedServer(handler)
	sp.Listener = spLn
	sp.StartTLS()
	t.Cleanup(sp.Close)
	idpHandler := publicIdP(idp)
	idpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sso") {
			e.idpSSO.Add(1)
		}
		idpHandler.ServeHTTP(w, r)
	})}
	go idpSrv.Serve(idpLn)
	t.Cleanup(func() { idpSrv.Close() })

	// Chromium may still be writing its profile for a moment after it is told to stop, so its directory
	// is removed with retries rather than by t.TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "scimsso-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP sp.test 127.0.0.1, MAP idp.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(390, 844),
		chromedp.UserDataDir(profile),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	e.ctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancel)
	return e
}

func (e *browserEnv) run(actions ...chromedp.Action) {
	e.t.Helper()
	if err := chromedp.Run(e.ctx, actions...); err != nil {
		e.t.Fatal(err)
	}
}

// at waits until the browser has left the page it was on when the last navigation began (see leave)
// and is on path (query ignored) of base; the IdP's page posts itself to the ACS, so landing takes a
// few hops. It waits for the navigation, not for a URL: a form that posts to its own URL (/login) is
// at that URL before the submit as after it.
func (e *browserEnv) at(base, path string) *url.URL {
	e.t.Helper()
	var state struct {
		Href  string `json:"href"`
		Left  bool   `json:"left"`
		Ready string `json:"ready"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// An evaluation while a navigation is under way may fail (its context is destroyed): try again.
		err := chromedp.Run(e.ctx, chromedp.Evaluate(`({href: location.href, left: window.__scimssoLeft === true, ready: document.readyState})`, &state))
		if err == nil && !state.Left && state.Ready == "complete" {
			if u, err := url.Parse(state.Href); err == nil && strings.HasPrefix(state.Href, base) && u.Path == path {
				return u
			}
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			var body string
			chromedp.Run(e.ctx, chromedp.Text(`body`, &body))
			e.t.Fatalf("still at %s (left: %v, %v), want %s%s\n%s", state.Href, state.Left, err, base, path, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leave marks the page the browser is on, so that at waits for a new one: call it before anything
// that navigates. The mark lives in the page's window, so every new document is unmarked.
func (e *browserEnv) leave() {
	e.t.Helper()
	e.run(chromedp.Evaluate(`window.__scimssoLeft = true`, nil))
}

// navigate opens url as a new page.
func (e *browserEnv) navigate(url string) {
	e.t.Helper()
	e.leave()
	e.run(chromedp.Navigate(url))
}

// submit submits the form of the field sel, after marking the page it leaves.
func (e *browserEnv) submit(sel string) {
	e.t.Helper()
	e.leave()
	e.run(chromedp.Submit(sel))
}

// page checks what every scimsso page must be on a phone: no sideways scrolling, and every field has a
// label. It saves a screenshot in the test's artifact directory (go test -artifacts keeps them).
func (e *browserEnv) page(name string) string {
	e.t.Helper()
	var fits, labelled bool
	var body string
	var png []byte
	e.run(
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits),
		chromedp.Evaluate(`[...document.querySelectorAll('input:not([type=hidden]):not([type=submit]):not([type=button]), select')].every(el => el.labels && el.labels.length > 0)`, &labelled),
		chromedp.Text(`body`, &body),
		chromedp.FullScreenshot(&png, 90),
	)
	e.shots++
	if err := os.WriteFile(filepath.Join(e.t.ArtifactDir(), fmt.Sprintf("%02d-%s.jpg", e.shots, name)), png, 0o644); err != nil {
		e.t.Fatal(err)
	}
	if !fits {
		e.t.Errorf("page %s scrolls sideways on a 390px-wide phone", name)
	}
	if !labelled {
		e.t.Errorf("page %s has a field without a label", name)
	}
	return body
}

// idpSignIn fills the demo IdP's login form.
func (e *browserEnv) idpSignIn(user string) {
	e.t.Helper()
	e.at(e.idpURL, "/sso")
	e.page("idp-login")
	pw := ""
	for _, u := range demoUsers {
		if u.id == user {
			pw = u.password
		}
	}
	e.run(chromedp.WaitVisible(`#user`), chromedp.SendKeys(`#user`, user), chromedp.SendKeys(`#password`, pw))
	e.submit(`#user`)
}

// emailFirst signs in at /login with email: it types the email and continues.
func (e *browserEnv) emailFirst(email string) {
	e.t.Helper()
	e.navigate(e.base + "/login")
	e.at(e.base, "/login")
	e.page("login")
	e.run(chromedp.SendKeys(`#email`, email))
	e.submit(`#email`)
}

// me returns the text of /me as the browser sees it after landing there.
func (e *browserEnv) me() string {
	e.t.Helper()
	e.at(e.base, "/me")
	var body string
	e.run(chromedp.Text(`body`, &body))
	return body
}

func (e *browserEnv) provision(email, given, family, country, department string) *store.User {
	e.t.Helper()
	u := &store.User{UserName: email, Emails: []store.Email{{Value: email, Type: "work", Primary: true}}, GivenName: given, FamilyName: family,
		Country: country, Department: department, Active: true, Source: store.SourceSCIM}
	if err := e.st.CreateUser(context.Background(), e.tenant.ID, u, store.Audit{Operation: "create"}); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *browserEnv) settings(change func(*store.SSOSettings)) {
	e.t.Helper()
	set, err := e.st.SSOSettings(context.Background(), e.tenant.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	change(set)
	if err := e.st.PutSSOSettings(context.Background(), e.tenant.ID, set); err != nil {
		e.t.Fatal(err)
	}
}

func (e *browserEnv) cookie(name string) *network.Cookie {
	e.t.Helper()
	var cookies []*network.Cookie
	e.run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{e.base + "/saml/demo/acs"}).Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestBrowserCrossSiteSignIn: the request-binding cookie must reach the ACS on the IdP's cross-site
// POST, which it does only because it is SameSite=None; Secure (it fails with Lax).
func TestBrowserCrossSiteSignIn(t *testing.T) {
	e := newBrowserEnv(t)
	e.navigate(e.base + "/saml/demo/login?return_to=/me")
	e.at(e.idpURL, "/sso")
	binding := e.cookie("__Host-scimsso_binding")
	if binding == nil || binding.SameSite != network.CookieSameSiteNone || !binding.Secure || !binding.HTTPOnly {
		t.Fatalf("binding cookie %+v: want SameSite=None, Secure, HttpOnly", binding)
	}
	e.idpSignIn("carol")
	e.at(e.base, "/welcome") // carol is new and the IdP sends no country
}

// TestBrowserEmailFirstSignIn: a provisioned user types her email at /login, is sent to her
// organisation's IdP, signs in there and lands on /me as the user SCIM pushed.
func TestBrowserEmailFirstSignIn(t *testing.T) {
	e := newBrowserEnv(t)
	alice := e.provision("alice@example.com", "Alice", "Anders", "DE", "")
	e.emailFirst("Alice@Example.com")
	e.idpSignIn("alice")
	if body := e.me(); !strings.Contains(body, `"id":"`+alice.ID+`"`) || !strings.Contains(body, `"source":"scim"`) {
		t.Fatalf("/me: %s", body)
	}
	// An unknown domain gets a clear message on the same form.
	e.emailFirst("someone@unknown.example")
	e.at(e.base, "/login")
	if body := e.page("login-unknown-domain"); !strings.Contains(body, "No organisation signs in here with @unknown.example") {
		t.Fatalf("unknown domain: %s", body)
	}
}

// TestBrowserPasswordSignIn: an email on the exclusion list gets a password form instead of the IdP;
// a wrong password is refused, the right one signs in.
func TestBrowserPasswordSignIn(t *testing.T) {
	e := newBrowserEnv(t)
	admin := e.provision("admin@example.com", "Ada", "Admin", "GB", "")
	e.settings(func(s *store.SSOSettings) { s.Exclude = []string{"admin@example.com"} })
	hash, err := people.HashPassword("a long admin password")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPassword(context.Background(), e.tenant.ID, admin.ID, hash); err != nil {
		t.Fatal(err)
	}
	e.emailFirst("admin@example.com")
	e.run(chromedp.WaitVisible(`#password`))
	e.page("password")
	e.run(chromedp.SendKeys(`#password`, "wrong password"))
	e.submit(`#password`)
	e.at(e.base, "/login")
	e.run(chromedp.WaitVisible(`#email-error`))
	if body := e.page("password-wrong"); !strings.Contains(body, "The email or password is not right.") {
		t.Fatalf("wrong password: %s", body)
	}
	e.run(chromedp.SendKeys(`#password`, "a long admin password"))
	e.submit(`#password`)
	if body := e.me(); !strings.Contains(body, `"id":"`+admin.ID+`"`) {
		t.Fatalf("/me: %s", body)
	}
}

// TestBrowserFirstSignIn: a person nobody provisioned, whose IdP sends neither country nor a mapped
// department, is created at sign-in and asked for both at /welcome (only offered teams), and can reach
// nothing else until done.
func TestBrowserFirstSignIn(t *testing.T) {
	e := newBrowserEnv(t)
	ctx := context.Background()
	for _, tm := range []store.Team{{Name: "Sales"}, {Name: "Engineering"}, {Name: "Board", Hidden: true}} {
		if err := e.st.CreateTeam(ctx, e.tenant.ID, &tm); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.ReplaceDepartmentMap(ctx, e.tenant.ID, []store.DepartmentMapping{{Department: "R&D", Team: "Engineering"}}); err != nil {
		t.Fatal(err)
	}
	e.emailFirst("carol@example.com")
	e.idpSignIn("carol")
	e.at(e.base, "/welcome")
	var teams []string
	e.run(chromedp.Evaluate(`[...document.querySelectorAll('#team option')].map(o => o.value).filter(v => v)`, &teams))
	if strings.Join(teams, ",") != "Engineering,Sales" {
		t.Fatalf("teams offered %v, want Engineering and Sales only (not hidden Board, not the root team)", teams)
	}
	e.page("welcome")
	// Until completed, the session reaches nothing but /welcome.
	e.navigate(e.base + "/me")
	e.at(e.base, "/welcome")
	e.run(chromedp.SetValue(`#country`, "FR"), chromedp.SetValue(`#team`, "Sales"))
	e.submit(`#country`)
	body := e.me()
	for _, want := range []string{`"userName":"carol@example.com"`, `"country":"FR"`, `"team":"Sales"`, `"pending":false`, `"source":"sso"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("/me lacks %s: %s", want, body)
		}
	}
}

// TestBrowserSessionTimeouts: idle beyond the soft timeout, the next page visit goes through the IdP
// silently (IsPassive; the IdP still has its own session) and the same session goes on; idle beyond
// the hard timeout, the person is signed out and sent to /login.
func TestBrowserSessionTimeouts(t *testing.T) {
	e := newBrowserEnv(t)
	e.provision("alice@example.com", "Alice", "Anders", "DE", "")
	e.emailFirst("alice@example.com")
	e.idpSignIn("alice")
	e.me()
	before := e.cookie("__Host-scimsso_session")
	signedIn := e.idpSSO.Load()
	e.navigate(e.base + "/me")
	if n := e.idpSSO.Load(); n != signedIn {
		t.Fatalf("a visit within the soft timeout went to the IdP (%d requests, %d at sign-in)", n, signedIn)
	}
	e.skew.Store(int64(9 * time.Hour)) // the default soft timeout is 8h
	e.navigate(e.base + "/me")
	body := e.me()
	after := e.cookie("__Host-scimsso_session")
	if before == nil || after == nil || before.Value != after.Value || !strings.Contains(body, `"userName":"alice@example.com"`) {
		t.Fatalf("after the soft timeout: session %v -> %v, /me %s", before, after, body)
	}
	if n := e.idpSSO.Load(); n == signedIn { // the silent (IsPassive) re-authentication
		t.Fatal("the visit after the soft timeout did not go through the IdP")
	}
	e.skew.Store(int64(9*time.Hour + 15*24*time.Hour)) // beyond the 14-day hard timeout
	e.navigate(e.base + "/me")
	e.at(e.base, "/login")
	e.page("login-after-hard-timeout")
}

// TestBrowserTestMode: while the tenant is testing, an admin's test sign-in, opened from a one-time
// test link as `scimsso sso test-link` prints it, shows what the IdP sent and what scimsso would do, and
// creates nothing.
func TestBrowserTestMode(t *testing.T) {
	e := newBrowserEnv(t)
	e.settings(func(s *store.SSOSettings) { s.State = "testing" })
	link, err := samlsp.NewTestLink(context.Background(), e.st, e.base, e.tenant, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.navigate(link)
	e.at(e.base, "/saml/demo/test")
	if body := e.page("test-start"); !strings.Contains(body, "Start the test sign-in") {
		t.Fatalf("the test link's page: %s", body)
	}
	e.submit(`button[type=submit]`)
	e.idpSignIn("carol")
	e.at(e.base, "/saml/demo/acs")
	body := e.page("test-report")
	for _, want := range []string{"would create user carol@example.com", "SHA-256 fingerprint", e.idpURL + "/metadata", "carol@example.com",
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "country: missing", "Nothing was stored"} {
		if !strings.Contains(body, want) {
			t.Fatalf("report lacks %q:\n%s", want, body)
		}
	}
	if us, n, err := e.st.ListUsers(context.Background(), e.tenant.ID, store.UserQuery{Limit: 10}); err != nil || n != 0 {
		t.Fatalf("a test sign-in stored users: %v %v", us, err)
	}
	if e.cookie("__Host-scimsso_session") != nil {
		t.Fatal("a test sign-in set a session cookie")
	}
}
