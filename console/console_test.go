package console_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/store"
)

// consoleRoutes are every console route of a tenant, with a form post's fields where it takes one
// (the CSRF field is added from the browser's cookie). A page added to the console adds its routes
// here: TestCrossTenant and TestNoSession try each.
var consoleRoutes = []struct {
	method, path string
	form         url.Values
}{
	{http.MethodGet, "/", nil},
	{http.MethodPost, "/signout", url.Values{}},
	{http.MethodGet, "/sso", nil},
	{http.MethodPost, "/sso", url.Values{"version": {"1"}, "state": {"off"}, "hard-timeout": {"1d"}, "soft-timeout": {"1h"},
		"attr-first-name": {"f"}, "attr-last-name": {"l"}, "attr-email": {"e"}, "country-format": {"iso"},
		"signature-algorithm": {"sha256"}, "signed-element": {"assertion"}, "idp-initiated": {"on"}}},
	{http.MethodPost, "/sso/state", url.Values{"version": {"1"}, "state": {"off"}}},
	{http.MethodPost, "/sso/test", url.Values{}},
	{http.MethodPost, "/sso/metadata/file", url.Values{}},
	{http.MethodPost, "/sso/metadata/url", url.Values{"url": {"https://idp.example/metadata"}}},
	{http.MethodPost, "/sso/metadata", url.Values{"version": {"1"}, "entity_id": {"https://evil.example"}, "sso_url": {"https://evil.example/sso"}}},
	{http.MethodPost, "/sso/metadata/refresh", url.Values{}},
	{http.MethodGet, "/scim", nil},
	{http.MethodPost, "/scim/tokens", url.Values{"name": {"evil"}}},
	{http.MethodPost, "/scim/revoke", url.Values{"id": {"x"}, "confirm": {"yes"}}},
	{http.MethodGet, "/people", nil},
	{http.MethodPost, "/people/exclude", url.Values{"version": {"1"}, "exclude": {"evil@acme.com"}}},
	{http.MethodPost, "/people/admins", url.Values{"email": {"ada@acme.com"}}},
	{http.MethodPost, "/people/admins/remove", url.Values{"id": {"x"}}},
	{http.MethodGet, "/teams", nil},
	{http.MethodPost, "/teams", url.Values{"name": {"Evil"}}},
	{http.MethodPost, "/teams/department-map", url.Values{}},
	{http.MethodGet, "/signins", nil},
	{http.MethodGet, "/audit", nil},
}

// TestSetupLinkOpens: opening a link (GET) shows the Continue page and uses nothing, so a mail
// scanner's fetch leaves it working; Continue uses it once, sets the console cookie and lands on the
// tenant's console; every other use, an expired, unknown or malformed link get the same plain page.
func TestSetupLinkOpens(t *testing.T) {
	h := newHarness(t)
	link := h.setupLink(h.Tenant, time.Hour, store.AdminScopeSSO)
	scanner := h.Browser()
	for range 2 {
		res, body := h.get(scanner, link)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, ">Continue</button>") {
			t.Fatalf("GET %s: %d\n%s", link, res.StatusCode, body)
		}
		signintest.PageHeaders(t, "setup page", res)
	}
	// Continue without the CSRF field, or from another site, uses nothing.
	b := h.Browser()
	f := h.Form(b, link, link)
	if res, _ := h.Send(b, http.MethodPost, link, url.Values{}, h.same()); res.StatusCode != http.StatusForbidden {
		t.Fatalf("Continue without CSRF: %d", res.StatusCode)
	}
	if res, _ := h.Submit(b, f, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("Continue from another site: %d", res.StatusCode)
	}
	res, body := h.Submit(b, f, h.same())
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/acme/" {
		t.Fatalf("Continue: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	c := signintest.SetCookie(res, consoleCookie)
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 0 {
		t.Fatalf("console cookie %+v", c)
	}
	res, body = h.get(b, "/admin/acme/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("console: %d\n%s", res.StatusCode, body)
	}
	contains(t, "overview", body, "signed in as a setup link", "active")
	acts := h.actions(h.Tenant)
	if acts[0].Action != store.ActionSetupLinkUsed || acts[0].Actor.Kind != store.ActorSetupLink || acts[0].Actor.ID != acts[0].Target || acts[0].Target == "" {
		t.Fatalf("audit %+v", acts[0])
	}

	expired := h.setupLink(h.Tenant, time.Hour, store.AdminScopeSSO)
	h.Skew.Store(int64(2 * time.Hour))
	for name, path := range map[string]string{
		"used":      link,
		"expired":   expired,
		"unknown":   "/setup/" + store.SetupLinkPrefix + strings.Repeat("A", 43),
		"malformed": "/setup/nope",
	} {
		t.Run(name, func(t *testing.T) {
			b := h.Browser()
			h.get(b, "/setup/"+store.SetupLinkPrefix+strings.Repeat("B", 43)) // for the CSRF cookie
			res, body := h.Send(b, http.MethodPost, path, url.Values{"csrf": {h.csrfOf(b)}}, h.same())
			if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "The link is not valid") || signintest.SetCookie(res, consoleCookie) != nil {
				t.Fatalf("POST %s: %d\n%s", path, res.StatusCode, body)
			}
		})
	}
}

// TestTenantAdminEntry: without a session the console sends the browser to sign in and back; a
// signed-in admin of the tenant gets a console session with every scope; a signed-in person who is
// not an admin, or an admin of another tenant, gets the same 404 as a tenant that does not exist.
func TestTenantAdminEntry(t *testing.T) {
	h := newHarness(t)
	anon := h.Browser()
	for _, slug := range []string{"acme", "nope"} {
		res, _ := h.get(anon, "/admin/"+slug+"/")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?return_to=%2Fadmin%2F"+slug+"%2F" {
			t.Fatalf("anonymous /admin/%s/: %d %s", slug, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res, _ := h.get(anon, "/admin/acme"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/admin/acme/" {
		t.Fatalf("/admin/acme: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	admin, u := h.signIn("ada@acme.com")
	res, body := h.get(admin, "/admin/acme/")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, notFoundText) {
		t.Fatalf("not yet an admin: %d\n%s", res.StatusCode, body)
	}
	_, notFound := h.get(admin, "/admin/nope/")
	if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	res, body = h.get(admin, "/admin/acme/")
	if res.StatusCode != http.StatusOK || signintest.SetCookie(res, consoleCookie) == nil {
		t.Fatalf("admin: %d\n%s", res.StatusCode, body)
	}
	contains(t, "overview", body, "signed in as ada@acme.com")
	wantNav(t, body, "Overview", "SSO", "SCIM", "People", "Teams", "Sign-in log", "Audit")
	for _, path := range []string{"/admin/globex/", "/admin/nope/"} {
		res, body := h.get(admin, path)
		if res.StatusCode != http.StatusNotFound || stripRef(body) != stripRef(notFound) {
			t.Errorf("admin of acme at %s: %d\n%s", path, res.StatusCode, body)
		}
	}
	// The admin's changes are recorded as theirs.
	other, _ := h.signIn("bob@acme.com")
	if res, _ := h.get(other, "/admin/acme/"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a non-admin of acme: %d", res.StatusCode)
	}
	// Taking the role away ends the console session at once.
	if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := h.get(admin, "/admin/acme/"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("after the role went: %d", res.StatusCode)
	}
}

// stripRef removes the page's reference id, which differs per request.
func stripRef(body string) string {
	if i := strings.Index(body, "give them this reference"); i >= 0 {
		return body[:i]
	}
	return body
}

// TestCrossTenant: globex's intruders — a setup link's console session, a tenant admin of globex with
// their console and people sessions, and the same admin with their people session alone — on every
// route of acme (the upload route posted as multipart) get the 404 of a tenant that does not exist,
// and change nothing.
func TestCrossTenant(t *testing.T) {
	h := newHarness(t)
	link := h.consoleOf(h.Other, store.AdminScopeSSO, store.AdminScopeSCIM)
	admin, peopleOnly := h.otherAdmin(), h.otherAdmin()
	if res, body := h.get(admin, "/admin/globex/"); res.StatusCode != http.StatusOK || h.JarCookie(admin, consoleCookie) == "" {
		t.Fatalf("globex's admin at globex's console: %d\n%s", res.StatusCode, body)
	}
	h.get(peopleOnly, "/admin/nope/") // a CSRF cookie, no console session
	_, notFound := h.get(link, "/admin/nope/")
	before := len(h.actions(h.Tenant))
	setBefore, _ := h.St.SSOSettings(ctx, h.Tenant.ID)
	ada := h.ScimUser("ada@acme.com", "", true)
	if _, _, err := store.IssueToken(ctx, h.St, h.Tenant.ID, "acme's", time.Time{}); err != nil {
		t.Fatal(err)
	}
	before = len(h.actions(h.Tenant))
	stateBefore := h.stateOf(h.Tenant)
	for name, b := range map[string]*http.Client{"setup link": link, "tenant admin": admin, "people session": peopleOnly} {
		for _, rt := range consoleRoutes {
			for _, slug := range []string{"acme", "nope"} {
				t.Run(name+" "+rt.method+" "+slug+rt.path, func(t *testing.T) {
					if name == "people session" && rt.method == http.MethodGet && slug == "acme" {
						// A GET with a people session of another tenant: the 404, and no console session.
						defer func() {
							if h.JarCookie(b, consoleCookie) != "" {
								t.Fatal("a console session was opened")
							}
						}()
					}
					var res *http.Response
					var body string
					if strings.HasSuffix(rt.path, "/metadata/file") || strings.HasSuffix(rt.path, "/department-map") {
						res, body = h.multipart(b, "/admin/"+slug+rt.path, "metadata", []byte("<EntityDescriptor/>"))
					} else {
						res, body = h.Send(b, rt.method, "/admin/"+slug+rt.path, formOf(h, b, rt.form), h.same())
					}
					if res.StatusCode != http.StatusNotFound || stripRef(body) != stripRef(notFound) {
						t.Fatalf("%d\n%s", res.StatusCode, body)
					}
				})
			}
		}
	}
	if got := len(h.actions(h.Tenant)); got != before {
		t.Errorf("acme's audit log grew from %d to %d", before, got)
	}
	if set, _ := h.St.SSOSettings(ctx, h.Tenant.ID); set.Version != setBefore.Version {
		t.Errorf("acme's SSO settings changed: version %d → %d", setBefore.Version, set.Version)
	}
	if got := h.stateOf(h.Tenant); got != stateBefore {
		t.Errorf("acme changed:\n%s\n→\n%s", stateBefore, got)
	}
	if admin, _ := h.St.IsAdmin(ctx, h.Tenant.ID, ada.ID); admin {
		t.Error("globex's session made an admin of acme")
	}
	// globex's own console still works.
	if res, _ := h.get(link, "/admin/globex/"); res.StatusCode != http.StatusOK {
		t.Fatalf("own console: %d", res.StatusCode)
	}
}

// otherAdmin signs a new browser in to globex (SSO at the harness's IdP) as a SCIM-provisioned tenant
// admin of globex.
func (h *harness) otherAdmin() *http.Client {
	h.T.Helper()
	if set, err := h.St.SSOSettings(ctx, h.Other.ID); err != nil || set.State != store.SSOActive {
		h.Configure(h.Other, h.IdP, nil)
	}
	var u *store.User
	err := h.St.Lookup(ctx, h.Other.ID, func(f store.UserFinder) (err error) { u, err = f.ByEmail("gina@globex.com"); return err })
	if err != nil {
		u = &store.User{UserName: "gina@globex.com", Emails: []store.Email{{Value: "gina@globex.com", Type: "work", Primary: true}},
			GivenName: "Gina", FamilyName: "Globex", Country: "DE", Active: true, Source: store.SourceSCIM}
		if err := h.St.CreateUser(ctx, h.Other.ID, u, store.Audit{Operation: "create"}); err != nil {
			h.T.Fatal(err)
		}
		if err := h.St.SetAdmin(ctx, h.Other.ID, u.ID, true); err != nil {
			h.T.Fatal(err)
		}
	}
	b := h.Browser()
	id := h.Login(b, "globex", "/me")
	if res := h.Post(b, "globex", h.Response("globex", id, signintest.Person("gina@globex.com", "Gina", "Globex"), nil), ""); res.StatusCode != http.StatusSeeOther {
		h.T.Fatalf("globex ACS: %d", res.StatusCode)
	}
	if code, me := h.Me(b); code != http.StatusOK || me.Session.Pending {
		h.T.Fatalf("/me at globex: %d %+v", code, me)
	}
	return b
}

// multipart posts file under field as a file upload form (with the browser's CSRF field) to path.
func (h *harness) multipart(b *http.Client, path, field string, file []byte) (*http.Response, string) {
	h.T.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", h.csrfOf(b))
	fw, _ := mw.CreateFormFile(field, "upload")
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, h.Srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range h.same() {
		req.Header.Set(k, v)
	}
	res, err := b.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body)
	return res, out.String()
}

// TestNoSession: without any session a GET goes to sign in; a POST is refused, changing nothing.
func TestNoSession(t *testing.T) {
	h := newHarness(t)
	b := h.Browser()
	h.get(b, h.setupLink(h.Tenant, time.Hour)) // a CSRF cookie, no session
	for _, rt := range consoleRoutes {
		res, _ := h.Send(b, rt.method, "/admin/acme"+rt.path, formOf(h, b, rt.form), h.same())
		want := http.StatusNotFound
		if rt.method == http.MethodGet {
			want = http.StatusSeeOther
		}
		if res.StatusCode != want {
			t.Errorf("%s %s: %d, want %d", rt.method, rt.path, res.StatusCode, want)
		}
	}
}

func formOf(h *harness, b *http.Client, f url.Values) url.Values {
	if f == nil {
		return nil
	}
	out := url.Values{"csrf": {h.csrfOf(b)}}
	for k, v := range f {
		out[k] = v
	}
	return out
}

// TestSignOutAndCSRF: sign-out needs the CSRF field and a same-site post; it ends the session in the
// store, so a copy of the cookie stops working too.
func TestSignOutAndCSRF(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	for name, c := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no csrf":    {url.Values{}, h.same()},
		"wrong csrf": {url.Values{"csrf": {tamper(h.csrfOf(b))}}, h.same()},
		"cross-site": {url.Values{"csrf": {h.csrfOf(b)}}, map[string]string{"Origin": "https://evil.example"}},
		"fetch site": {url.Values{"csrf": {h.csrfOf(b)}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
	} {
		if res, _ := h.Send(b, http.MethodPost, "/admin/acme/signout", c.form, c.hdr); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, res.StatusCode)
		}
	}
	if res, _ := h.get(b, "/admin/acme/"); res.StatusCode != http.StatusOK {
		t.Fatalf("refused sign-outs ended the session: %d", res.StatusCode)
	}
	copyOf := h.Browser()
	u, _ := url.Parse(h.Srv.URL)
	copyOf.Jar.SetCookies(u, b.Jar.Cookies(u))
	res, body := h.post(b, "/admin/acme/", "/admin/acme/signout", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "signed out of the console") {
		t.Fatalf("sign out: %d\n%s", res.StatusCode, body)
	}
	if c := signintest.SetCookie(res, consoleCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign out left the cookie: %+v", c)
	}
	if res, _ := h.get(copyOf, "/admin/acme/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a copy of the ended session's cookie: %d", res.StatusCode)
	}
}

// TestSessionLifetime: a console session ends SessionLifetime after it was opened, used or not.
func TestSessionLifetime(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	h.Skew.Store(int64(7 * time.Hour))
	if res, _ := h.get(b, "/admin/acme/"); res.StatusCode != http.StatusOK {
		t.Fatalf("after 7h: %d", res.StatusCode)
	}
	h.Skew.Store(int64(8*time.Hour + time.Minute))
	if res, _ := h.get(b, "/admin/acme/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 8h: %d", res.StatusCode)
	}
}

// tamper returns v with its first character changed.
func tamper(v string) string {
	if strings.HasPrefix(v, "A") {
		return "B" + v[1:]
	}
	return "A" + v[1:]
}

// TestAdminSignsInToConsole: a tenant admin without any session opens the console, is sent to sign
// in (email first, then the IdP) and lands back on the console.
func TestAdminSignsInToConsole(t *testing.T) {
	h := newHarness(t)
	u := h.ScimUser("ada@acme.com", "", true)
	if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	b := h.Browser()
	res, _ := h.get(b, "/admin/acme/")
	loc := res.Header.Get("Location")
	f := h.Form(b, loc, "/login")
	f.Values.Set("email", "ada@acme.com")
	res, body := h.Submit(b, f, nil)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("POST /login: %d\n%s", res.StatusCode, body)
	}
	id, _ := h.IdpRequest(res)
	res = h.Post(b, "acme", h.Response("acme", id, signintest.Person("ada@acme.com", "Ada", "Admin"), nil), f.Values.Get("return_to"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/acme/" {
		t.Fatalf("ACS: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, body = h.get(b, "/admin/acme/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "signed in as ada@acme.com") {
		t.Fatalf("console: %d\n%s", res.StatusCode, body)
	}
}
