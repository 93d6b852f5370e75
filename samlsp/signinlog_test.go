package samlsp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

func signIns(t *testing.T, h *harness, q store.SignInQuery) []store.SignInRecord {
	t.Helper()
	q.TenantID, q.Limit = h.Tenant.ID, 500
	got, err := h.St.ListSignIns(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSignInLogTestSignIns: a test sign-in is recorded as one (method test): accepted with what
// scimsso would do, refused with the refusal's code and reason; nothing else is written.
func TestSignInLogTestSignIns(t *testing.T) {
	h := newHarness(t, func(s *store.SSOSettings) { s.State = store.SSOTesting })
	p := person("pat@acme.com", "Pat", "P")
	b := h.Browser()
	id := h.StartTest(b, h.TestLink("acme", time.Hour))
	if res := h.Post(b, "acme", h.Response("acme", id, p, nil), ""); res.StatusCode != http.StatusOK {
		t.Fatalf("test sign-in: %d", res.StatusCode)
	}
	b = h.Browser()
	id = h.StartTest(b, h.TestLink("acme", time.Hour))
	if res := h.Post(b, "acme", h.Response("acme", id, p, func(r *samltest.Response) { r.Audience = "https://other.example/sp" }), ""); res.StatusCode != http.StatusOK {
		t.Fatalf("refused test sign-in: %d", res.StatusCode)
	}
	got := signIns(t, h, store.SignInQuery{})
	if len(got) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(got), got)
	}
	if r := got[1]; r.Method != store.SignInTest || r.Outcome != store.SignInAccepted || r.Email != "pat@acme.com" || !r.Verified ||
		!strings.Contains(r.Reason, "would create user pat@acme.com") || r.Issuer != "https://idp.example/acme" {
		t.Errorf("accepted test sign-in: %+v", r)
	}
	if r := got[0]; r.Method != store.SignInTest || r.Outcome != store.SignInRefused || r.Code != "invalid" || !strings.Contains(r.Reason, "audience") {
		t.Errorf("refused test sign-in: %+v", r)
	}
	if len(h.Users()) != 0 {
		t.Error("a test sign-in created a user")
	}
}

// TestSignInLogFlood: garbage posted to a tenant's ACS (nothing in it verifiable, refused before the
// tenant's settings are read) writes nothing to the sign-in log, however much of it arrives; a refusal
// of what the tenant's IdP signed still gets its own record, and so does an accepted sign-in.
func TestSignInLogFlood(t *testing.T) {
	h := newHarness(t, nil)
	const sent = store.MaxRefusalsPerMinute + 20
	for range sent {
		res, err := h.Browser().PostForm(h.Acs("acme"), url.Values{"SAMLResponse": {samltest.Encode([]byte("<junk/>"))}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if got := signIns(t, h, store.SignInQuery{}); len(got) != 0 {
		t.Fatalf("%d garbage posts wrote %d records, want none: %+v", sent, len(got), got[0])
	}
	b := h.Browser()
	p := person("pat@acme.com", "Pat", "P")
	if res := h.Post(b, "acme", h.Response("acme", "", p, func(r *samltest.Response) { r.Audience = "https://other.example/sp" }), ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("signed refusal: %d", res.StatusCode)
	}
	if res := h.Post(b, "acme", h.Response("acme", "", p, nil), ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	var signed, accepted int
	got := signIns(t, h, store.SignInQuery{})
	for _, r := range got {
		switch {
		case r.Code == "invalid" && r.Verified:
			signed++
		case r.Outcome == store.SignInAccepted:
			accepted++
		}
	}
	if len(got) != 2 || signed != 1 || accepted != 1 {
		t.Errorf("%d records: %d signed refusals, %d accepted (want 1, 1)", len(got), signed, accepted)
	}
}

// TestSignInLogClasses: unsigned responses naming a stranger as issuer, past the cap, do not hide an
// unsigned response naming the tenant's own IdP (what it sends after a key rollover scimsso missed):
// that one gets its own record.
func TestSignInLogClasses(t *testing.T) {
	h := newHarness(t, nil)
	p := person("pat@acme.com", "Pat", "P")
	post := func(issuer string) {
		t.Helper()
		res := h.Post(h.Browser(), "acme", h.Response("acme", "", p, func(r *samltest.Response) { r.Sign, r.Issuer = "none", issuer }), "")
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("unsigned response of %s: %d", issuer, res.StatusCode)
		}
	}
	for range store.MaxRefusalsPerMinute + 3 {
		post("https://stranger.example")
	}
	post("https://idp.example/acme")
	var stranger, idp int
	for _, r := range signIns(t, h, store.SignInQuery{}) {
		switch {
		case r.Code == store.SignInCodeMore:
		case r.Issuer == "https://idp.example/acme":
			idp++
		case r.Issuer == "https://stranger.example":
			stranger++
		}
	}
	if stranger != store.MaxRefusalsPerMinute || idp != 1 {
		t.Errorf("%d stranger's refusals recorded, %d of the IdP; want %d, 1", stranger, idp, store.MaxRefusalsPerMinute)
	}
}
