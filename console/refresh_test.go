package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/console"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// newMetadataURL is an IdP's metadata URL served by the test over http on loopback, which the
// harness's refresher allows as serve --allow-http-loopback-metadata does.
func newMetadataURL(t *testing.T, doc []byte) *samltest.MetadataURL {
	m := samltest.NewMetadataURL(doc, false)
	t.Cleanup(m.Close)
	return m
}

func newTestIdP(t *testing.T, entityID, ssoURL string, notAfter time.Time) *samltest.IdP {
	t.Helper()
	idp, err := samltest.New(entityID, ssoURL, time.Now().Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return idp
}

// refreshState returns the rows of the SSO page's refresh state table, "" when it has none.
func refreshState(body string) string {
	m := regexp.MustCompile(`(?s)<table id="refresh-state">(.*?)</table>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], " "))
}

// TestMetadataRefreshNow: for metadata given by URL the SSO page shows the refresh's state, and
// Refresh now fetches it at once: a new certificate is added (recorded as the console session's
// change), a second press changes nothing; a failing URL changes nothing in the settings, and the
// page, the state and the overview say why, as recorded.
func TestMetadataRefreshNow(t *testing.T) {
	h := newHarness(t)
	next := newTestIdP(t, h.IdP.EntityID, h.IdP.SSOURL, time.Now().Add(2*365*24*time.Hour))
	md := newMetadataURL(t, h.IdP.Metadata())
	mdURL := md.URL + "/federationmetadata.xml"
	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.IdPMetadataURL = mdURL })
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)

	res, body := h.get(b, "/admin/acme/sso")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d\n%s", res.StatusCode, body)
	}
	contains(t, "sso page before any refresh", body, "Fetched again from its URL", `<code>`+mdURL+`</code>`,
		`<form method="post" action="/admin/acme/sso/metadata/refresh">`, `name="csrf"`, ">Refresh now</button>")
	if st := refreshState(body); !strings.Contains(st, "none since the URL was given") || !strings.Contains(st, "never") || !strings.Contains(st, "due now") {
		t.Errorf("refresh state before any refresh: %s", st)
	}
	contains(t, "sso page before any refresh", body, "again every 6h, and when you press Refresh now")
	if md.Fetches.Load() != 0 {
		t.Fatal("showing the page fetched the metadata")
	}

	// The IdP publishes its next certificate beside the current one: added at once, as the session's change.
	md.Serve(h.IdP.Metadata(next.Cert))
	audit := len(h.actions(h.Tenant))
	res, body = h.post(b, "/admin/acme/sso", "/admin/acme/sso/metadata/refresh", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d\n%s", res.StatusCode, body)
	}
	contains(t, "after a refresh that added a certificate", body, "The IdP&#39;s metadata was fetched again; settings changed: 1 certificate(s) added.")
	set := h.settingsOf(h.Tenant)
	if len(set.IdPCertificatesPEM) != 2 || set.IdPCertificatesPEM[1] != next.CertPEM() || md.Fetches.Load() != 1 {
		t.Fatalf("stored %d certificates after %d fetches", len(set.IdPCertificatesPEM), md.Fetches.Load())
	}
	acts := h.actions(h.Tenant)
	if len(acts) != audit+1 || acts[0].Action != store.ActionSSOSettingsChanged || acts[0].Actor.Kind != store.ActorSetupLink || acts[0].Actor.ID == "" ||
		strings.Count(acts[0].After, "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("audit of the refresh: %s by %+v", acts[0].Action, acts[0].Actor)
	}
	if st := refreshState(body); !strings.Contains(st, "succeeded") || strings.Contains(st, "never") || strings.Contains(st, "due now") {
		t.Errorf("refresh state after a success: %s", st)
	}
	if strings.Count(body, `<th scope="row">Certificate</th>`) != 2 {
		t.Errorf("the page does not list both certificates:\n%s", body)
	}

	res, body = h.post(b, "/admin/acme/sso", "/admin/acme/sso/metadata/refresh", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "fetched again; nothing changed.") || len(h.actions(h.Tenant)) != audit+1 {
		t.Fatalf("a refresh with nothing new: %d\n%s", res.StatusCode, body)
	}

	// Failures change nothing; the reason is shown as recorded, on the SSO page and the overview.
	version := h.settingsOf(h.Tenant).Version
	for _, c := range []struct {
		name   string
		setup  func()
		reason string
	}{
		{"server error", func() { md.Fail(http.StatusBadGateway) }, "fetching the metadata: HTTP 502"},
		{"not metadata", func() { md.Serve([]byte("<html>maintenance</html>")) }, "reading the metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.setup()
			before := md.Fetches.Load()
			res, body := h.post(b, "/admin/acme/sso", "/admin/acme/sso/metadata/refresh", nil)
			if res.StatusCode != http.StatusBadGateway || md.Fetches.Load() != before+1 {
				t.Fatalf("%d after %d fetches\n%s", res.StatusCode, md.Fetches.Load()-before, body)
			}
			f, err := h.St.MetadataFetch(ctx, h.Tenant.ID)
			if err != nil || !strings.Contains(f.LastError, c.reason) {
				t.Fatalf("recorded %+v, %v", f, err)
			}
			reason := html.EscapeString(f.LastError)
			contains(t, "the answer", body, `<p class="error" role="alert">The IdP&#39;s metadata could not be fetched again, and nothing was changed: `+reason)
			if st := refreshState(body); !strings.Contains(st, "failed") || !strings.Contains(st, f.LastError) {
				t.Errorf("refresh state after a failure: %s", st)
			}
			if got := h.settingsOf(h.Tenant); got.Version != version || len(h.actions(h.Tenant)) != audit+1 {
				t.Errorf("a failed refresh changed the settings: version %d → %d", version, got.Version)
			}
			_, overview := h.get(b, "/admin/acme/")
			contains(t, "overview", overview, `id="refresh-warning"`, reason, `href="/admin/acme/sso#refresh"`)
		})
	}
	// Once it works again, the overview says nothing of the failure.
	md.Serve(h.IdP.Metadata(next.Cert))
	if res, body := h.post(b, "/admin/acme/sso", "/admin/acme/sso/metadata/refresh", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("refresh after the failures: %d\n%s", res.StatusCode, body)
	}
	if _, overview := h.get(b, "/admin/acme/"); strings.Contains(overview, "refresh-warning") {
		t.Errorf("the overview still shows a failure:\n%s", overview)
	}

	// On a server whose periodic refresh is off (serve --metadata-refresh 0) no next fetch is promised.
	h.ConsoleConfig = func(c *console.Config) { c.RefreshInterval = 0 }
	h.Restart()
	_, body = h.get(b, "/admin/acme/sso")
	contains(t, "sso page, periodic refresh off", body, "The periodic refresh is off on this server")
	if st := refreshState(body); !strings.Contains(st, "none: the periodic refresh is off") || !strings.Contains(st, "succeeded") {
		t.Errorf("refresh state with the periodic refresh off: %s", st)
	}
}

// TestMetadataRefreshRefused: Refresh now is offered only for metadata given by URL, and refused
// without it (400, saying why); without the CSRF field or from another site (403), to a session
// without the sso scope (403), and to another tenant's session (the 404 of a tenant that does not
// exist). A refused press fetches nothing and changes nothing.
func TestMetadataRefreshRefused(t *testing.T) {
	h := newHarness(t)
	md := newMetadataURL(t, h.IdP.Metadata())

	// acme's metadata came as a file: no button, and a forged press says why.
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	_, body := h.get(b, "/admin/acme/sso")
	if strings.Contains(body, "/sso/metadata/refresh") || strings.Contains(body, "Refresh now") || refreshState(body) != "" {
		t.Errorf("a tenant without a metadata URL is offered a refresh:\n%s", body)
	}
	res, body := h.Send(b, http.MethodPost, "/admin/acme/sso/metadata/refresh", url.Values{"csrf": {h.csrfOf(b)}}, h.same())
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "was not given by URL, so there is nothing to fetch again") {
		t.Fatalf("refresh without a URL: %d\n%s", res.StatusCode, body)
	}
	// globex has no SSO settings at all.
	g := h.consoleOf(h.Other, store.AdminScopeSSO)
	if res, body := h.Send(g, http.MethodPost, "/admin/globex/sso/metadata/refresh", url.Values{"csrf": {h.csrfOf(g)}}, h.same()); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "not given by URL") {
		t.Fatalf("refresh of a tenant without settings: %d\n%s", res.StatusCode, body)
	}
	if _, err := h.St.MetadataFetch(ctx, h.Other.ID); err == nil {
		t.Error("a refused refresh recorded a fetch")
	}

	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.IdPMetadataURL = md.URL + "/federationmetadata.xml" })
	b = h.consoleOf(h.Tenant, store.AdminScopeSSO)
	h.get(b, "/admin/acme/sso")
	scimOnly := h.consoleOf(h.Tenant, store.AdminScopeSCIM)
	_, notFound := h.get(g, "/admin/nope/")
	version, audit := h.settingsOf(h.Tenant).Version, len(h.actions(h.Tenant))
	for name, c := range map[string]struct {
		b    *http.Client
		form url.Values
		hdr  map[string]string
		code int
		want string
	}{
		"no csrf":      {b, url.Values{}, h.same(), http.StatusForbidden, "did not come from this site"},
		"wrong csrf":   {b, url.Values{"csrf": {tamper(h.csrfOf(b))}}, h.same(), http.StatusForbidden, "did not come from this site"},
		"cross-site":   {b, url.Values{"csrf": {h.csrfOf(b)}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "did not come from this site"},
		"scim scope":   {scimOnly, url.Values{"csrf": {h.csrfOf(scimOnly)}}, h.same(), http.StatusForbidden, "does not include this page"},
		"other tenant": {g, url.Values{"csrf": {h.csrfOf(g)}}, h.same(), http.StatusNotFound, stripRef(notFound)},
	} {
		t.Run(name, func(t *testing.T) {
			res, body := h.Send(c.b, http.MethodPost, "/admin/acme/sso/metadata/refresh", c.form, c.hdr)
			if res.StatusCode != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("%d, want %d saying %q\n%s", res.StatusCode, c.code, c.want, body)
			}
			if c.code == http.StatusNotFound {
				if stripRef(body) != stripRef(notFound) {
					t.Errorf("another tenant's 404 differs from an unknown tenant's:\n%s", body)
				}
				// The same for a tenant that does not exist.
				if res, body := h.Send(c.b, http.MethodPost, "/admin/nope/sso/metadata/refresh", c.form, c.hdr); res.StatusCode != http.StatusNotFound || stripRef(body) != stripRef(notFound) {
					t.Errorf("unknown tenant: %d\n%s", res.StatusCode, body)
				}
			}
		})
	}
	if n := md.Fetches.Load(); n != 0 {
		t.Errorf("refused presses fetched the metadata %d times", n)
	}
	if _, err := h.St.MetadataFetch(ctx, h.Tenant.ID); err == nil {
		t.Error("a refused press recorded a fetch")
	}
	if got, acts := h.settingsOf(h.Tenant).Version, h.actions(h.Tenant); got != version || len(acts) != audit {
		t.Errorf("refused presses changed acme: version %d → %d, audit %d → %d", version, got, audit, len(acts))
	}
}

// TestCertificateWarnings: an IdP certificate that expired or expires within 30 days is warned of at
// the top of the SSO page and on the overview, with what to do, which depends on whether another
// certificate stays valid and whether the metadata came by URL; a SCIM-only session is told nothing.
func TestCertificateWarnings(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	soon := newTestIdP(t, h.IdP.EntityID, h.IdP.SSOURL, now.Add(10*24*time.Hour))
	expired, err := samltest.New(h.IdP.EntityID, h.IdP.SSOURL, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	later := newTestIdP(t, h.IdP.EntityID, h.IdP.SSOURL, now.Add(365*24*time.Hour))
	date := func(idp *samltest.IdP) string { return idp.Cert.NotAfter.UTC().Format("2006-01-02") }
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	for _, c := range []struct {
		name  string
		certs []*samltest.IdP
		url   string
		want  []string // "" wants no warning
	}{
		{"all valid", []*samltest.IdP{later}, "", nil},
		{"expiring, by file", []*samltest.IdP{soon}, "", []string{"expires on " + date(soon) + ", within 30 days", "give its new metadata on the SSO page"}},
		{"expiring, by URL", []*samltest.IdP{soon}, "https://idp.example/metadata", []string{"expires on " + date(soon), "or at once with Refresh now"}},
		{"expired beside a valid one", []*samltest.IdP{expired, later}, "", []string{"expired on " + date(expired), "Another of the IdP&#39;s certificates stays valid"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) {
				s.IdPCertificatesPEM, s.IdPMetadataURL = nil, c.url
				for _, idp := range c.certs {
					s.IdPCertificatesPEM = append(s.IdPCertificatesPEM, idp.CertPEM())
				}
			})
			for _, path := range []string{"/admin/acme/sso", "/admin/acme/"} {
				res, body := h.get(b, path)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d\n%s", path, res.StatusCode, body)
				}
				m := regexp.MustCompile(`(?s)<div class="warn" id="cert-warning" role="alert">(.*?)</div>`).FindStringSubmatch(body)
				if c.want == nil {
					if m != nil {
						t.Errorf("%s warns: %s", path, m[1])
					}
					continue
				}
				if m == nil {
					t.Fatalf("%s has no certificate warning:\n%s", path, body)
				}
				contains(t, path+" warning", m[1], c.want...)
			}
		})
	}
	_, body := h.get(h.consoleOf(h.Tenant, store.AdminScopeSCIM), "/admin/acme/")
	if strings.Contains(body, "cert-warning") || strings.Contains(body, "expired on") {
		t.Errorf("a SCIM-only session's overview warns of the IdP's certificates:\n%s", body)
	}
}
