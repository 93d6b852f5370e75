package console_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/store"
)

// TestConsoleFollowsPeopleSession: a tenant admin's console entry keeps the people pages' rule (idle
// past the soft timeout: the IdP vouches again first), and the console session opened from a people
// session ends, in the store, whenever that session ends: sign-out, timeout (the sweep) or
// deactivation.
func TestConsoleFollowsPeopleSession(t *testing.T) {
	// enter signs ada in as a tenant admin of acme and opens the console; it returns the browser, the
	// user and the console cookie's value.
	enter := func(t *testing.T, h *harness) (*http.Client, *store.User, string) {
		t.Helper()
		b, u := h.signIn("ada@acme.com")
		if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if res, body := h.get(b, "/admin/acme/"); res.StatusCode != http.StatusOK {
			t.Fatalf("console entry: %d\n%s", res.StatusCode, body)
		}
		v := h.JarCookie(b, consoleCookie)
		if v == "" {
			t.Fatal("no console cookie")
		}
		if _, err := h.St.AdminSessionByHash(ctx, store.HashSecret(v)); err != nil {
			t.Fatalf("console session after entry: %v", err)
		}
		return b, u, v
	}
	ended := func(t *testing.T, h *harness, b *http.Client, v, how string) {
		t.Helper()
		if _, err := h.St.AdminSessionByHash(ctx, store.HashSecret(v)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("console session after %s: %v, want it ended", how, err)
		}
		if res, _ := h.get(b, "/admin/acme/"); res.StatusCode == http.StatusOK {
			t.Fatalf("the console still opens after %s", how)
		}
	}

	t.Run("idle past the soft timeout: re-authentication at the IdP first", func(t *testing.T) {
		h := newHarness(t)
		b, u := h.signIn("ada@acme.com")
		if err := h.St.SetAdmin(ctx, h.Tenant.ID, u.ID, true); err != nil {
			t.Fatal(err)
		}
		h.Skew.Add(int64(9 * time.Hour)) // the default soft timeout is 8h, the hard one 14d
		res, body := h.get(b, "/admin/acme/sso")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/saml/acme/login?reauth=1") ||
			!strings.Contains(res.Header.Get("Location"), "return_to=%2Fadmin%2Facme%2Fsso") {
			t.Fatalf("stale session at the console: %d %s, want the silent re-authentication back to /admin/acme/sso\n%s",
				res.StatusCode, res.Header.Get("Location"), body)
		}
		if h.JarCookie(b, consoleCookie) != "" {
			t.Fatal("a console session was opened from a stale people session")
		}
	})

	t.Run("sign-out", func(t *testing.T) {
		h := newHarness(t)
		b, _, v := enter(t, h)
		res, err := b.Post(h.Srv.URL+"/logout", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		ended(t, h, b, v, "sign-out")
	})

	t.Run("timeout, by the sweep", func(t *testing.T) {
		h := newHarness(t)
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.SoftTimeout, s.HardTimeout = time.Minute, 2*time.Hour })
		b, _, v := enter(t, h)
		h.Skew.Add(int64(3 * time.Hour)) // the people session has expired, the console's 8h have not
		if _, err := h.St.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		ended(t, h, b, v, "the people session's timeout")
	})

	t.Run("deactivation", func(t *testing.T) {
		h := newHarness(t)
		b, u, v := enter(t, h)
		if _, err := h.St.UpdateUser(ctx, h.Tenant.ID, u.ID, 0, store.Audit{Operation: "deactivate"}, func(u *store.User) error {
			u.Active = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ended(t, h, b, v, "deactivation")
	})
}
