package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/store"
)

// The tests drive the console as cmd wires it (internal/signintest): a running server over TLS with
// the SAML service provider and the people's web, tenant acme trusting a test IdP, and tenant globex
// beside it, so that every route can be tried across tenants.

var ctx = context.Background()

const (
	consoleCookie = "__Host-scimsso_admin" // BASE is https in these tests
	csrfCookie    = "__Host-scimsso_csrf"
	notFoundText  = "There is no such page."
)

type harness struct {
	*signintest.Harness
	Other *store.Tenant // globex
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{Harness: signintest.New(t, nil)} // acme: SSO active with the test IdP
	h.Other = h.AddTenant("globex", "globex.com")
	return h
}

// setupLink makes a setup link of the tenant with scopes, as `scimsso setup-link` does, and returns
// its path (/setup/SECRET).
func (h *harness) setupLink(tn *store.Tenant, ttl time.Duration, scopes ...string) string {
	h.T.Helper()
	secret, hash, err := store.NewSecret(store.SetupLinkPrefix)
	if err != nil {
		h.T.Fatal(err)
	}
	if err := h.St.CreateSetupLink(ctx, &store.SetupLink{TenantID: tn.ID, Scopes: scopes, Hash: hash, ExpiresAt: time.Now().Add(ttl)}); err != nil {
		h.T.Fatal(err)
	}
	return "/setup/" + secret
}

// same is the headers of a form post from the server's own page.
func (h *harness) same() map[string]string {
	return map[string]string{"Origin": h.Srv.URL, "Sec-Fetch-Site": "same-origin"}
}

// openLink does what the admin does with a setup link: opens it and presses Continue. It returns the
// answer to the press.
func (h *harness) openLink(b *http.Client, path string) (*http.Response, string) {
	h.T.Helper()
	f := h.Form(b, path, path)
	return h.Submit(b, f, h.same())
}

// consoleOf returns a browser with a console session of tn opened by a setup link with scopes.
func (h *harness) consoleOf(tn *store.Tenant, scopes ...string) *http.Client {
	h.T.Helper()
	b := h.Browser()
	res, body := h.openLink(b, h.setupLink(tn, time.Hour, scopes...))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/"+tn.Slug+"/" {
		h.T.Fatalf("setup link: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	return b
}

// signIn signs a browser in to acme as the SCIM-provisioned user email (complete: no first sign-in
// form), returning the browser and the user.
func (h *harness) signIn(email string) (*http.Client, *store.User) {
	h.T.Helper()
	u := h.ScimUser(email, "", true)
	b := h.Browser()
	id := h.Login(b, "acme", "/me")
	res := h.Post(b, "acme", h.Response("acme", id, signintest.Person(email, "Ada", "Admin"), nil), "")
	if res.StatusCode != http.StatusSeeOther {
		h.T.Fatalf("ACS: %d", res.StatusCode)
	}
	if code, me := h.Me(b); code != http.StatusOK || me.Session.Pending {
		h.T.Fatalf("/me after sign-in: %d %+v", code, me)
	}
	return b, u
}

// get fetches a console page.
func (h *harness) get(b *http.Client, path string) (*http.Response, string) {
	h.T.Helper()
	return h.Send(b, http.MethodGet, path, nil, nil)
}

// post posts a console form from the page at page: its fields as the page has them, changed by set.
func (h *harness) post(b *http.Client, pagePath, action string, set url.Values) (*http.Response, string) {
	h.T.Helper()
	f := h.Form(b, pagePath, action)
	for k, v := range set {
		f.Values[k] = v
	}
	return h.Submit(b, f, h.same())
}

// csrfOf returns the browser's CSRF value.
func (h *harness) csrfOf(b *http.Client) string { return h.JarCookie(b, csrfCookie) }

// actions returns the tenant's admin audit log, newest first.
func (h *harness) actions(tn *store.Tenant) []store.AdminAction {
	h.T.Helper()
	as, err := h.St.ListAdminActions(ctx, store.AdminActionQuery{TenantID: tn.ID, Limit: 500})
	if err != nil {
		h.T.Fatal(err)
	}
	return as
}

// navOf returns the titles of a page's nav links.
func navOf(t *testing.T, body string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<nav class="console"[^>]*>(.*?)</nav>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no console nav in\n%s", body)
	}
	var out []string
	for _, a := range regexp.MustCompile(`<a href="[^"]*"[^>]*>([^<]*)</a>`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, html.UnescapeString(a[1]))
	}
	return out
}

func wantNav(t *testing.T, body string, want ...string) {
	t.Helper()
	if got := navOf(t, body); !slices.Equal(got, want) {
		t.Errorf("nav = %v, want %v", got, want)
	}
}

func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}
