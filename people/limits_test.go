package people_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestParallelPasswordGuesses: guesses sent all at once are each reserved in the store before the
// password is checked, so no more are ever checked than the limits allow (a 401 is a checked guess; a
// 429 was refused before the check), and then the right password is refused too. Before the fix the
// count was read before the check and written after it: all 30 guesses were checked.
func TestParallelPasswordGuesses(t *testing.T) {
	const pw, guesses = "correct horse battery staple", 30
	for _, tc := range []struct {
		name    string
		emails  []string // the guesses go round these accounts, from one address
		checked int      // the limit that binds
		locked  string   // then refused with the right password
	}{
		{"one account: 5 checked", []string{"admin@acme.com"}, 5, "admin@acme.com"},
		{"six accounts from one address: 20 checked", []string{"admin@acme.com", "ops@acme.com", "ghost@acme.com", "a@acme.com", "b@acme.com", "c@acme.com"}, 20, "svc@acme.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(s *store.SSOSettings) { s.Exclude = append(append([]string(nil), tc.emails...), "svc@acme.com") })
			for _, email := range []string{"admin@acme.com", "ops@acme.com", "svc@acme.com"} {
				h.SetPassword(h.ScimUser(email, "", true), pw)
			}
			// passwordForm walks the email-first form in a new browser to the password form of email.
			passwordForm := func(email string) (*http.Client, samltest.Form) {
				b := h.Browser()
				f := h.Form(b, "/login", "/login")
				f.Values.Set("email", email)
				res, body := h.Submit(b, f, nil)
				if res.StatusCode != http.StatusOK || !strings.Contains(body, `type="password"`) {
					t.Fatalf("email %s: %d\n%s", email, res.StatusCode, body)
				}
				return b, h.FormIn("/login", body, "/login")
			}
			browsers := make([]*http.Client, guesses)
			forms := make([]samltest.Form, guesses)
			for i := range guesses {
				browsers[i], forms[i] = passwordForm(tc.emails[i%len(tc.emails)])
				forms[i].Values.Set("password", fmt.Sprintf("guess %d", i))
			}
			got := signintest.Tally(t, signintest.Parallel(guesses, browsers, func(i int) *http.Request {
				req, _ := http.NewRequest(http.MethodPost, forms[i].Action.String(), strings.NewReader(forms[i].Values.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return req
			}))
			if got[http.StatusUnauthorized] != tc.checked || got[http.StatusTooManyRequests] != guesses-tc.checked {
				t.Fatalf("%d guesses at once: %v; want %d checked (401) and the rest refused before the check (429)", guesses, got, tc.checked)
			}
			b, f := passwordForm(tc.locked)
			f.Values.Set("password", pw)
			res, _ := h.Submit(b, f, nil)
			if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "900" {
				t.Fatalf("the right password while locked: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
			}
			if status, _ := h.Me(b); status != http.StatusUnauthorized {
				t.Fatalf("signed in while locked: /me %d", status)
			}
		})
	}
}
