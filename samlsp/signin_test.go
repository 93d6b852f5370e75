package samlsp_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestReconciliation drives every reconciliation case of the spec end to end: SP-initiated login,
// a signed response posted by the browser, the redirect, and /me.
func TestReconciliation(t *testing.T) {
	principal := func(s *store.SSOSettings) { s.PrincipalIDAttr = claimOID }
	cases := []struct {
		name      string
		configure func(*store.SSOSettings)
		seed      func(h *harness) *store.User // users present before; returns the one expected to sign in
		attrs     map[string]string
		refused   bool
		pending   bool
		check     func(t *testing.T, h *harness, seeded *store.User, m me)
		events    []string // what the sign-in records (none when refused)
	}{
		{
			name: "user pushed by SCIM with externalId signs in as that user", configure: principal,
			events: []string{store.EventSessionStarted},
			seed:   func(h *harness) *store.User { return h.ScimUser("alice@acme.com", "oid-alice", true) },
			attrs:  with(person("alice@acme.com", "Alice", "A"), claimOID, "oid-alice"),
			check: func(t *testing.T, h *harness, seeded *store.User, m me) {
				if m.User.ID != seeded.ID || m.User.Source != "scim" || m.User.GivenName != "Pushed" || len(h.Users()) != 1 {
					t.Fatalf("signed in as %+v, users %d", m.User, len(h.Users()))
				}
			},
		},
		{
			name: "IdP changed the email: the stored email follows, still one user", configure: principal,
			events: []string{store.EventUserEmailChanged, store.EventSessionStarted},
			seed:   func(h *harness) *store.User { return h.ScimUser("alice@acme.com", "oid-alice", true) },
			attrs:  with(person("alice.smith@acme.com", "Alice", "A"), claimOID, "oid-alice"),
			check: func(t *testing.T, h *harness, seeded *store.User, m me) {
				us := h.Users()
				if m.User.ID != seeded.ID || len(us) != 1 || us[0].UserName != "alice.smith@acme.com" || us[0].Emails[0].Value != "alice.smith@acme.com" {
					t.Fatalf("after the email change: %+v", us)
				}
			},
		},
		{
			name: "principal-id attribute configured but missing: refused", configure: principal,
			seed:    func(h *harness) *store.User { return h.ScimUser("alice@acme.com", "oid-alice", true) },
			attrs:   person("alice@acme.com", "Alice", "A"),
			refused: true,
		},
		{
			name:      "secondary email matches an existing user: that user, no duplicate",
			events:    []string{store.EventSessionStarted},
			configure: func(s *store.SSOSettings) { s.SecondaryEmailAttr = claimAlt },
			seed:      func(h *harness) *store.User { return h.ScimUser("bob@acme.com", "", true) },
			attrs:     with(person("robert@acme.de", "Bob", "B"), claimAlt, "BOB@acme.com"),
			check: func(t *testing.T, h *harness, seeded *store.User, m me) {
				if m.User.ID != seeded.ID || len(h.Users()) != 1 {
					t.Fatalf("signed in as %+v with %d users", m.User, len(h.Users()))
				}
			},
		},
		{
			name:   "nobody matches: created just in time with source sso",
			events: []string{store.EventUserCreated, store.EventSessionStarted},
			attrs:  with(person("carol@acme.com", "Carol", "C"), claimCtry, "de"),
			check: func(t *testing.T, h *harness, _ *store.User, m me) {
				us := h.Users()
				if len(us) != 1 || us[0].Source != store.SourceSSO || us[0].UserName != "carol@acme.com" || us[0].GivenName != "Carol" ||
					us[0].Country != "DE" || m.User.ID != us[0].ID || m.Session.Pending {
					t.Fatalf("JIT user %+v, me %+v", us, m)
				}
			},
		},
		{
			name:    "JIT without a country: signed in, first sign-in pending",
			events:  []string{store.EventUserCreated, store.EventSessionStarted},
			attrs:   with(person("dan@acme.com", "Dan", "D"), claimCtry, ""),
			pending: true,
			check: func(t *testing.T, h *harness, _ *store.User, _ me) {
				if us := h.Users(); len(us) != 1 || us[0].Country != "" || us[0].UserName != "dan@acme.com" {
					t.Fatalf("users %+v", us)
				}
			},
		},
		{
			name:    "JIT with an email outside the tenant's domains: refused",
			attrs:   person("eve@evil.com", "Eve", "E"),
			refused: true,
		},
		{
			name:    "JIT without a last name: refused",
			attrs:   person("frank@acme.com", "Frank", ""),
			refused: true,
		},
		{
			name:    "deactivated by SCIM: refused",
			seed:    func(h *harness) *store.User { return h.ScimUser("gina@acme.com", "", false) },
			attrs:   person("gina@acme.com", "Gina", "G"),
			refused: true,
		},
		{
			name:      "country as a full name with country-format name: stored as alpha-2",
			events:    []string{store.EventUserCreated, store.EventSessionStarted},
			configure: func(s *store.SSOSettings) { s.CountryFormat = "name" },
			attrs:     with(person("hans@acme.de", "Hans", "H"), claimCtry, "Germany"),
			check: func(t *testing.T, h *harness, _ *store.User, m me) {
				if m.User.Country != "DE" {
					t.Fatalf("country %q", m.User.Country)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.configure)
			var seeded *store.User
			if tc.seed != nil {
				seeded = tc.seed(h)
			}
			before := h.Users()
			seq, err := h.St.LastEventSeq(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			b := h.Browser()
			id := h.Login(b, "acme", "/app/home")
			res := h.Post(b, "acme", h.Response("acme", id, tc.attrs, nil), "")
			status, m := h.Me(b)
			es, err := h.St.ListEvents(ctx, store.EventQuery{After: seq, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Type)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.events) {
				t.Fatalf("the sign-in recorded %v, want %v", got, tc.events)
			}
			if tc.refused {
				if res.StatusCode != http.StatusForbidden || status != http.StatusUnauthorized {
					t.Fatalf("want a refusal: ACS %d, /me %d", res.StatusCode, status)
				}
				if after := h.Users(); len(after) != len(before) || (len(after) > 0 && after[0].Version != before[0].Version) {
					t.Fatalf("a refused sign-in changed users: %+v", after)
				}
				return
			}
			wantTo, wantMe := "/app/home", http.StatusOK
			if tc.pending { // the session reaches nothing but /welcome (and /logout) until completed
				wantTo, wantMe = "/welcome?return_to=%2Fapp%2Fhome", http.StatusForbidden
			}
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != wantTo || status != wantMe {
				t.Fatalf("ACS %d to %q, /me %d", res.StatusCode, res.Header.Get("Location"), status)
			}
			tc.check(t, h, seeded, m)
		})
	}
}

// TestDeactivationEndsSessions: a signed-in user deactivated through the store (as SCIM does) loses the
// session at once, and a later sign-in is refused.
func TestDeactivationEndsSessions(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ScimUser("ivy@acme.com", "", true)
	b := h.Browser()
	h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), person("ivy@acme.com", "Ivy", "I"), nil), "")
	if status, m := h.Me(b); status != 200 || m.User.ID != u.ID {
		t.Fatalf("/me %d %+v", status, m)
	}
	if _, err := h.St.UpdateUser(ctx, h.Tenant.ID, u.ID, 0, store.Audit{Operation: "patch"}, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if status, _ := h.Me(b); status != http.StatusUnauthorized {
		t.Fatalf("/me after deactivation: %d", status)
	}
	res := h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), person("ivy@acme.com", "Ivy", "I"), nil), "")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in of a deactivated user: %d", res.StatusCode)
	}
}

// TestSignedElementAndAlgorithms: every signed-element setting against every shape an IdP signs, and
// SHA-1 refused unless signature-algorithm is sha1.
func TestSignedElementAndAlgorithms(t *testing.T) {
	cases := []struct {
		setting, alg string
		idpSigns     string
		sha1         bool
		ok           bool
	}{
		{"assertion", "sha256", "assertion", false, true}, // Entra, ADFS default
		{"assertion", "sha256", "both", false, true},      // Okta default
		{"assertion", "sha256", "response", false, false}, // Google "signed response", Ping default
		{"assertion", "sha256", "none", false, false},     // unsigned
		{"response", "sha256", "response", false, true},   // Google, PingFederate
		{"response", "sha256", "both", false, true},       //
		{"response", "sha256", "assertion", false, false}, //
		{"both", "sha256", "both", false, true},           //
		{"both", "sha256", "assertion", false, false},     //
		{"both", "sha256", "response", false, false},      //
		{"assertion", "sha256", "assertion", true, false}, // SHA-1 under sha256
		{"both", "sha256", "both", true, false},           //
		{"assertion", "sha1", "assertion", true, true},    // accepted when asked for
		{"assertion", "sha1", "assertion", false, true},   // sha1 still accepts SHA-256
		{"response", "sha1", "response", true, true},      //
	}
	for _, tc := range cases {
		name := "signed-element=" + tc.setting + "/alg=" + tc.alg + "/idp signs " + tc.idpSigns
		if tc.sha1 {
			name += " with SHA-1"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(s *store.SSOSettings) {
				s.SignedElement, s.SignatureAlgorithm = store.SignedElement(tc.setting), store.SignatureAlgorithm(tc.alg)
			})
			b := h.Browser()
			doc := h.Response("acme", h.Login(b, "acme", "/"), person("jo@acme.com", "Jo", "J"), func(r *samltest.Response) {
				r.Sign, r.SHA1 = tc.idpSigns, tc.sha1
			})
			res := h.Post(b, "acme", doc, "")
			if got := res.StatusCode == http.StatusSeeOther; got != tc.ok {
				t.Fatalf("accepted = %v (status %d), want %v", got, res.StatusCode, tc.ok)
			}
			if !tc.ok && len(h.Users()) != 0 {
				t.Fatal("a refused response created a user")
			}
		})
	}
}

// TestIdPInitiated: an unsolicited response is accepted by default and lands on a safe RelayState
// path; with idp-initiated off it is refused; an off-site RelayState is never followed.
func TestIdPInitiated(t *testing.T) {
	h := newHarness(t, nil)
	for relay, want := range map[string]string{"/reports/42": "/reports/42", "https://evil.com": "/me", "//evil.com": "/me", `/\evil.com`: "/me", "": "/me"} {
		b := h.Browser()
		res := h.Post(b, "acme", h.Response("acme", "", person("kim@acme.com", "Kim", "K"), nil), relay)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Fatalf("RelayState %q: %d to %q, want %q", relay, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.NoIdPInitiated = true })
	res := h.Post(h.Browser(), "acme", h.Response("acme", "", person("kim@acme.com", "Kim", "K"), nil), "")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("unsolicited with idp-initiated off: %d", res.StatusCode)
	}
	// Solicited sign-in still works with it off.
	b := h.Browser()
	if res := h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), person("kim@acme.com", "Kim", "K"), nil), ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("SP-initiated with idp-initiated off: %d", res.StatusCode)
	}
}

// TestRequestBinding: a response is accepted once, only in the browser that started the sign-in, and
// only at the tenant that asked; the assertion cannot be replayed.
func TestRequestBinding(t *testing.T) {
	h := newHarness(t, nil)
	beta := h.AddTenant("beta", "beta.com")
	h.Configure(beta, h.IdP, nil)
	alice := person("lee@acme.com", "Lee", "L")

	b := h.Browser()
	id := h.Login(b, "acme", "/")
	doc := h.Response("acme", id, alice, nil)
	if res := h.Post(h.Browser(), "acme", doc, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("posted from another browser: %d", res.StatusCode)
	}
	if res := h.Post(b, "acme", doc, ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("posted from the browser that started it: %d", res.StatusCode)
	}
	if res := h.Post(b, "acme", doc, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("the same response again: %d", res.StatusCode)
	}
	// The same assertion, unsolicited this time: the replay cache refuses it.
	replay := h.Response("acme", "", alice, func(r *samltest.Response) { r.AssertionID = "_fixed" })
	if res := h.Post(h.Browser(), "acme", replay, ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	if res := h.Post(h.Browser(), "acme", replay, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("replayed assertion: %d", res.StatusCode)
	}
	// A response made for acme, posted to beta's ACS (same IdP trusted by both).
	id = h.Login(b, "beta", "/")
	forAcme := h.Response("acme", id, alice, nil)
	if res := h.Post(b, "beta", forAcme, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("acme's response at beta: %d", res.StatusCode)
	}
	// beta's request answered at acme's ACS.
	id = h.Login(b, "beta", "/")
	if res := h.Post(b, "acme", h.Response("acme", id, alice, nil), ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("beta's request answered at acme: %d", res.StatusCode)
	}
}

// TestCertificateRollover: metadata with two certificates; the IdP signs with the new one and leaves
// the certificate out of KeyInfo (PingFederate can) — each certificate is tried.
func TestCertificateRollover(t *testing.T) {
	h := newHarness(t, nil)
	next, err := samltest.New(h.IdP.EntityID, h.IdP.SSOURL, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.IdPCertificatesPEM = []string{h.IdP.CertPEM(), next.CertPEM()} })
	for _, noKeyInfo := range []bool{false, true} {
		b := h.Browser()
		doc, err := next.Make(samltest.Response{ACS: h.Acs("acme"), Audience: h.EntityID("acme"), InResponseTo: h.Login(b, "acme", "/"),
			NameID: "max@acme.com", Attrs: []samltest.Attr{{Name: claimFirst, Values: []string{"Max"}}, {Name: claimLast, Values: []string{"M"}}}, NoKeyInfo: noKeyInfo})
		if err != nil {
			t.Fatal(err)
		}
		if res := h.Post(b, "acme", doc, ""); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("signed by the second certificate (no KeyInfo %v): %d", noKeyInfo, res.StatusCode)
		}
	}
	// An attacker's key with its own certificate in KeyInfo.
	evil, _ := samltest.New(h.IdP.EntityID, h.IdP.SSOURL, time.Time{}, time.Time{})
	b := h.Browser()
	doc := h.Response("acme", h.Login(b, "acme", "/"), person("max@acme.com", "Max", "M"), func(r *samltest.Response) { r.Signer = evil })
	if res := h.Post(b, "acme", doc, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("signed by an untrusted key: %d", res.StatusCode)
	}
}

// TestExpiredIdPCertificate: a certificate pinned in metadata keeps verifying after its NotAfter.
func TestExpiredIdPCertificate(t *testing.T) {
	h := newHarness(t, nil)
	old, err := samltest.New(h.IdP.EntityID, h.IdP.SSOURL, time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	h.IdP = old
	h.Configure(h.Tenant, old, nil)
	b := h.Browser()
	if res := h.Post(b, "acme", h.Response("acme", h.Login(b, "acme", "/"), person("nia@acme.com", "Nia", "N"), nil), ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired pinned certificate: %d", res.StatusCode)
	}
}

// TestRefusals: responses that must never sign anyone in, each refused with nothing written.
func TestRefusals(t *testing.T) {
	h := newHarness(t, nil)
	p := person("pat@acme.com", "Pat", "P")
	cases := []struct {
		name   string
		mutate func(*samltest.Response)
		edit   func(string) string
		status int
	}{
		{"audience of another SP", func(r *samltest.Response) { r.Audience = "https://other.example/sp" }, nil, 403},
		{"destination of another ACS", func(r *samltest.Response) { r.ACS = "https://other.example/acs" }, nil, 403},
		{"expired", func(r *samltest.Response) { r.Now = time.Now().Add(-20 * time.Minute) }, nil, 403},
		{"issued in the future", func(r *samltest.Response) { r.Now = time.Now().Add(10 * time.Minute) }, nil, 403},
		{"valid for a year", func(r *samltest.Response) { r.ValidFor = 365 * 24 * time.Hour }, nil, 403},
		{"status not Success", func(r *samltest.Response) { r.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder" }, nil, 403},
		{"DOCTYPE", nil, func(s string) string { return `<!DOCTYPE r [<!ENTITY x "y">]>` + s }, 403},
		{"two assertions", nil, func(s string) string {
			i := strings.Index(s, "<Assertion")
			j := strings.LastIndex(s, "</Assertion>") + len("</Assertion>")
			return s[:j] + s[i:j] + s[j:]
		}, 403},
		{"NameID edited after signing", nil, func(s string) string { return strings.Replace(s, "pat@acme.com", "admin@acme.com", 1) }, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := h.Browser()
			doc := string(h.Response("acme", h.Login(b, "acme", "/"), p, tc.mutate))
			if tc.edit != nil {
				doc = tc.edit(doc)
			}
			res := h.Post(b, "acme", []byte(doc), "")
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if len(h.Users()) != 0 {
				t.Fatal("a refused response created a user")
			}
		})
	}
	for name, body := range map[string]url.Values{
		"not base64":     {"SAMLResponse": {"%%%"}},
		"empty":          {"SAMLResponse": {""}},
		"artifact":       {"SAMLart": {"AAQAA"}},
		"too large":      {"SAMLResponse": {strings.Repeat("QUFB", 100<<10)}},
		"not XML at all": {"SAMLResponse": {samltest.Encode([]byte("hello"))}},
	} {
		res, err := h.Browser().PostForm(h.Acs("acme"), body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("%s: status %d", name, res.StatusCode)
		}
	}
}

// TestLoginRefusesOffsiteReturnTo: return_to must be a path on this server.
func TestLoginRefusesOffsiteReturnTo(t *testing.T) {
	h := newHarness(t, nil)
	for _, rt := range []string{"https://evil.com", "//evil.com", `/\evil.com`, "/%09/evil.com", "javascript:alert(1)", " /x", "/x\r\nSet-Cookie:a=b", "/%2F%2Fevil.com"} {
		res, err := h.Browser().Get(h.Srv.URL + "/saml/acme/login?return_to=" + url.QueryEscape(rt))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("return_to %q: %d", rt, res.StatusCode)
		}
	}
}

// TestStateOff: a tenant whose SSO is off neither starts nor accepts sign-ins.
func TestStateOff(t *testing.T) {
	h := newHarness(t, nil)
	b := h.Browser()
	id := h.Login(b, "acme", "/")
	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.State = "off" })
	if res := h.Post(b, "acme", h.Response("acme", id, person("quinn@acme.com", "Q", "Q"), nil), ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("ACS with SSO off: %d", res.StatusCode)
	}
	res, err := b.Get(h.Srv.URL + "/saml/acme/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("login with SSO off: %d", res.StatusCode)
	}
}

// TestSettings drives the settings not covered above through sign-ins.
func TestSettings(t *testing.T) {
	t.Run("skip-destination-validation accepts another Destination and Recipient, never another audience", func(t *testing.T) {
		other := func(r *samltest.Response) { r.ACS = "https://proxy.example/acs" }
		h := newHarness(t, nil)
		if res := h.Post(h.Browser(), "acme", h.Response("acme", "", person("rae@acme.com", "Rae", "R"), other), ""); res.StatusCode != http.StatusForbidden {
			t.Fatalf("another Destination with validation on: %d", res.StatusCode)
		}
		h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.SkipDestinationValidation = true })
		if res := h.Post(h.Browser(), "acme", h.Response("acme", "", person("rae@acme.com", "Rae", "R"), other), ""); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("another Destination with validation skipped: %d", res.StatusCode)
		}
		res := h.Post(h.Browser(), "acme", h.Response("acme", "", person("rae@acme.com", "Rae", "R"), func(r *samltest.Response) {
			other(r)
			r.Audience = "https://other.example/sp"
		}), "")
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("another audience with destination validation skipped: %d", res.StatusCode)
		}
	})
	t.Run("sign-requests signs the redirect with the tenant's SP key and says so in the metadata", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.SignRequests = true })
		res, err := h.Browser().Get(h.Srv.URL + "/saml/acme/login")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		q := loc.Query()
		if q.Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || q.Get("Signature") == "" {
			t.Fatalf("redirect %s is not signed with RSA-SHA256", loc)
		}
		// The signature covers the raw query up to SigAlg (SAML bindings 3.4.4.1) and verifies with the
		// certificate the metadata publishes.
		signed := loc.RawQuery[:strings.Index(loc.RawQuery, "&Signature=")]
		sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
		block, _ := pem.Decode(h.Tenant.SPCertPEM)
		cert, _ := x509.ParseCertificate(block.Bytes)
		if err := cert.CheckSignature(x509.SHA256WithRSA, []byte(signed), sig); err != nil {
			t.Fatalf("redirect signature: %v", err)
		}
		md, err := h.Browser().Get(h.EntityID("acme"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(md.Body)
		md.Body.Close()
		if !strings.Contains(string(body), `AuthnRequestsSigned="true"`) {
			t.Fatalf("metadata does not announce signed requests:\n%s", body)
		}
	})
	t.Run("state testing reports and writes nothing", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.State = "testing" })
		b := h.Browser()
		res, err := b.PostForm(h.Acs("acme"), url.Values{"SAMLResponse": {samltest.Encode(h.Response("acme", "", person("sam@acme.com", "Sam", "S"), nil))}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), "would create user sam@acme.com") || len(h.Users()) != 0 {
			t.Fatalf("test sign-in: %d, %d users\n%s", res.StatusCode, len(h.Users()), body)
		}
		if status, _ := h.Me(b); status != http.StatusUnauthorized {
			t.Fatalf("a test sign-in made a session: /me %d", status)
		}
	})
	t.Run("force-country asks at the first sign-in even with a country", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.ForceCountry = true })
		b := h.Browser()
		res := h.Post(b, "acme", h.Response("acme", "", with(person("tia@acme.com", "Tia", "T"), claimCtry, "FR"), nil), "")
		if status, _ := h.Me(b); status != http.StatusForbidden || res.Header.Get("Location") != "/welcome" || h.Users()[0].Country != "FR" {
			t.Fatalf("first sign-in: to %q, /me %d, users %+v", res.Header.Get("Location"), status, h.Users())
		}
		b = h.Browser()
		h.Post(b, "acme", h.Response("acme", "", with(person("tia@acme.com", "Tia", "T"), claimCtry, "FR"), nil), "")
		if status, m := h.Me(b); status != 200 || m.Session.Pending {
			t.Fatalf("second sign-in: %d %+v", status, m)
		}
	})
	t.Run("hard-timeout ends an idle session; use moves it", func(t *testing.T) {
		h := newHarness(t, func(s *store.SSOSettings) { s.HardTimeout, s.SoftTimeout = 2*time.Hour, 100*time.Minute })
		b := h.Browser()
		h.Post(b, "acme", h.Response("acme", "", person("uma@acme.com", "Uma", "U"), nil), "")
		h.Skew.Store(int64(90 * time.Minute))
		if status, _ := h.Me(b); status != 200 {
			t.Fatalf("after 90 idle minutes: %d", status)
		}
		h.Skew.Store(int64(170 * time.Minute)) // 80 minutes after the last use, 170 after sign-in
		if status, _ := h.Me(b); status != 200 {
			t.Fatalf("80 minutes after the last use: %d", status)
		}
		h.Skew.Store(int64(300 * time.Minute))
		if status, _ := h.Me(b); status != http.StatusUnauthorized {
			t.Fatalf("beyond the hard timeout: %d", status)
		}
	})
}
