package samlsp_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestTestMode: a test sign-in (opened from a one-time link, see TestTestLink) reports what the IdP
// sent and what scimsso would do, and stores nothing, while the tenant is testing or active.
func TestTestMode(t *testing.T) {
	sam := person("sam@acme.com", "Sam", "S")
	// start begins a test sign-in in b from a one-time test link and returns the request ID.
	start := func(h *harness, b *http.Client) string {
		h.T.Helper()
		return h.StartTest(b, h.TestLink("acme", time.Hour))
	}
	// report posts a test answer and checks it got a report page that stored nothing.
	report := func(t *testing.T, h *harness, b *http.Client, doc []byte) string {
		t.Helper()
		before := h.Users()
		res, body := h.PostACS(b, "acme", doc)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Nothing was stored") {
			t.Fatalf("test answer: %d\n%s", res.StatusCode, body)
		}
		pageHeaders(t, "report", res)
		if setCookie(res, sessionCookie) != nil {
			t.Fatal("a test answer set a session cookie")
		}
		if status, _ := h.Me(b); status != http.StatusUnauthorized {
			t.Fatalf("a test answer made a session: /me %d", status)
		}
		after := h.Users()
		if len(after) != len(before) {
			t.Fatalf("a test answer changed the users: %+v", after)
		}
		for i := range after {
			if after[i].Version != before[i].Version {
				t.Fatalf("a test answer changed user %s", after[i].UserName)
			}
		}
		return body
	}
	evil, err := samltest.New("https://idp.example/acme", "https://idp.example/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	for _, state := range []string{"testing", "active"} {
		t.Run("state "+state, func(t *testing.T) {
			h := newHarness(t, func(s *store.SSOSettings) { s.State = store.SSOState(state) })
			b := h.Browser()
			body := report(t, h, b, h.Response("acme", start(h, b), sam, nil))
			fp := sha256.Sum256(h.IdP.Cert.Raw)
			for _, want := range []string{
				h.IdP.EntityID, "<code>sam@acme.com</code>", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
				claimEmail, claimFirst, claimLast, claimCtry,
				"scimsso would create user sam@acme.com just in time",
				fmt.Sprintf("SHA-256 fingerprint %X", fp),
				"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the report lacks %q", want)
				}
			}
			if t.Failed() {
				t.Fatalf("report:\n%s", body)
			}

			sue := h.ScimUser("sue@acme.com", "", true)
			body = report(t, h, b, h.Response("acme", start(h, b), person("sue@acme.com", "Sue", "S"), nil))
			if want := "scimsso would sign in user " + sue.ID + " (sue@acme.com), matched by email"; !strings.Contains(body, want) {
				t.Fatalf("the report lacks %q:\n%s", want, body)
			}

			for _, bad := range []struct {
				name, code string
				mutate     func(*samltest.Response)
			}{
				{"another audience", "invalid", func(r *samltest.Response) { r.Audience = "https://other.example/sp" }},
				{"signed by another key", "invalid", func(r *samltest.Response) { r.Signer = evil }},
				{"status Responder", "status", func(r *samltest.Response) { r.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder" }},
				{"expired", "invalid", func(r *samltest.Response) { r.Now = time.Now().Add(-20 * time.Minute) }},
			} {
				body := report(t, h, b, h.Response("acme", start(h, b), sam, bad.mutate))
				if want := "scimsso would refuse this sign-in (" + bad.code + ")"; !strings.Contains(body, want) {
					t.Fatalf("%s: the report lacks %q:\n%s", bad.name, want, body)
				}
			}

			// The answer to a test request posted by another browser gets no report and no detail.
			doc := h.Response("acme", start(h, b), sam, func(r *samltest.Response) { r.Audience = "https://other.example/sp" })
			res, body := h.PostACS(h.Browser(), "acme", doc)
			if res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") || strings.Contains(body, "other.example") {
				t.Fatalf("a test answer from another browser: %d\n%s", res.StatusCode, body)
			}
			// An unsolicited answer that fails validation is no test: the usual refusal, no detail.
			doc = h.Response("acme", "", sam, func(r *samltest.Response) { r.Audience = "https://other.example/sp" })
			res, body = h.PostACS(b, "acme", doc)
			if res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") || strings.Contains(body, "other.example") {
				t.Fatalf("an unsolicited refused answer: %d\n%s", res.StatusCode, body)
			}
			if len(h.Users()) != 1 {
				t.Fatalf("users: %+v", h.Users())
			}
		})
	}

	// Only the answer to a test an admin started lets the console switch SSO on: not anyone's sign-in
	// while the tenant is testing, and not a test answer posted again.
	t.Run("only a started test passes", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "testing" })
		ctx := context.Background()
		passed := func() (int64, error) { return h.St.SSOTestPassedVersion(ctx, h.Tenant.ID) }
		b := h.Browser()
		body := report(t, h, b, h.Response("acme", "", sam, nil))
		if !strings.Contains(body, "scimsso would create user sam@acme.com") {
			t.Fatalf("unsolicited answer while testing:\n%s", body)
		}
		if v, err := passed(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unsolicited sign-in while testing recorded a passed test: %d, %v", v, err)
		}
		doc := h.Response("acme", start(h, b), sam, nil)
		report(t, h, b, doc)
		set, err := h.St.SSOSettings(ctx, h.Tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := passed(); err != nil || v != set.Version {
			t.Fatalf("a started test that passed: recorded %d, %v; want version %d", v, err, set.Version)
		}
		if res, body := h.PostACS(b, "acme", doc); res.StatusCode != http.StatusForbidden || strings.Contains(body, "would") {
			t.Fatalf("the test answer posted again: %d\n%s", res.StatusCode, body)
		}
	})

	t.Run("interactive sign-in is off while testing", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "testing" })
		if res, _ := h.Send(h.Browser(), http.MethodGet, "/saml/acme/login", nil, nil); res.StatusCode != http.StatusForbidden {
			t.Fatalf("/saml/acme/login while testing: %d", res.StatusCode)
		}
	})

	t.Run("state off", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "off" })
		res, body := h.Send(h.Browser(), http.MethodGet, "/saml/acme/test", nil, nil)
		if res.StatusCode != http.StatusForbidden || setCookie(res, bindingCookie) != nil || !strings.Contains(body, "Single sign-on is off") {
			t.Fatalf("/saml/acme/test with SSO off: %d\n%s", res.StatusCode, body)
		}
		if res, _ := h.Send(h.Browser(), http.MethodGet, "/saml/nosuch/test", nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("/saml/nosuch/test: %d", res.StatusCode)
		}
	})
}
