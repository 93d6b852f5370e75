package samlsp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// The tests drive a running sign-in server, SAML service provider and people's web wired as cmd wires
// them (internal/signintest); these names keep them short.

type (
	harness = signintest.Harness
	me      = signintest.Me
	meDoc   = signintest.MeDoc
)

const (
	claimEmail    = signintest.ClaimEmail
	claimFirst    = signintest.ClaimFirst
	claimLast     = signintest.ClaimLast
	claimOID      = signintest.ClaimOID
	claimCtry     = signintest.ClaimCtry
	claimAlt      = signintest.ClaimAlt
	claimDept     = "http://schemas.microsoft.com/ws/2008/06/identity/claims/department"
	csrfCookie    = "__Host-scimsso_csrf"
	sessionCookie = "__Host-scimsso_session" // BASE is https in these tests
	bindingCookie = "__Host-scimsso_binding"
	formExpired   = "This form has expired or did not come from this site."
)

var ctx = context.Background()

func newHarness(t testing.TB, configure func(*store.SSOSettings)) *harness {
	t.Helper()
	return signintest.New(t, configure)
}

func newHarnessWith(t testing.TB, configure func(*store.SSOSettings), spConfig func(*samlsp.Config), storeOptions func(*sqlstore.Options)) *harness {
	t.Helper()
	return signintest.NewWith(t, configure, spConfig, storeOptions)
}

func newHarnessOn(t testing.TB, srv *httptest.Server, configure func(*store.SSOSettings), spConfig func(*samlsp.Config), storeOptions func(*sqlstore.Options)) *harness {
	t.Helper()
	return signintest.NewOn(t, srv, configure, spConfig, storeOptions)
}

func person(email, first, last string) map[string]string {
	return signintest.Person(email, first, last)
}
func with(m map[string]string, k, v string) map[string]string {
	return signintest.With(m, k, v)
}
func setCookie(res *http.Response, name string) *http.Cookie { return signintest.SetCookie(res, name) }
func pageHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	signintest.PageHeaders(t, what, res)
}
func selectOptions(t *testing.T, body, name string) []string {
	t.Helper()
	return signintest.SelectOptions(t, body, name)
}
