package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// TestBrowserConsoleSetup: a customer's IT admin sets SSO up from a setup link alone, at phone and
// desktop width: the link's page → Continue → the console → the SSO page → the IdP's metadata file
// uploaded, checked and stored → the settings saved with one bad value, then fixed → testing → a test
// sign-in through the demo IdP and its report → active → the metadata given by URL, fetched again with
// Refresh now (refreshNow). Every page is screenshotted (go test -artifacts keeps them) and checked
// for labels and sideways scrolling.
func TestBrowserConsoleSetup(t *testing.T) {
	for _, width := range []int64{390, 1280} {
		t.Run(fmt.Sprintf("width %d", width), func(t *testing.T) {
			e := newBrowserEnv(t)
			if width != 390 {
				e.run(chromedp.EmulateViewport(width, 900))
			}
			ctx := context.Background()
			// The tenant as `tenant create` leaves it: no IdP, SSO off.
			e.settings(func(s *store.SSOSettings) {
				v := s.Version
				*s = *store.DefaultSSOSettings()
				s.Version = v
			})
			metadata := e.idpMetadataFile()
			e.openSetupLink(store.AdminScopeSSO)
			e.page("console-overview")
			e.leave()
			e.run(chromedp.Click(`nav.console a[href="/admin/demo/sso"]`, chromedp.NodeVisible))
			e.at(e.base, "/admin/demo/sso")
			if body := e.page("sso"); !strings.Contains(body, "Give these values to your identity provider") {
				t.Fatalf("SSO page: %s", body)
			}
			var entityID string
			e.run(chromedp.Value(`#sp-entity`, &entityID))
			if entityID != e.base+"/saml/demo/metadata" {
				t.Fatalf("entity ID shown %q", entityID)
			}

			e.run(chromedp.SetUploadFiles(`#metadata-file`, []string{metadata}, chromedp.ByQuery))
			e.submit(`#metadata-file`)
			e.at(e.base, "/admin/demo/sso/metadata/file")
			if body := e.page("metadata-read"); !strings.Contains(body, e.idpURL+"/metadata") || !strings.Contains(body, "expires ") {
				t.Fatalf("metadata page: %s", body)
			}
			e.submit(`form[action="/admin/demo/sso/metadata"] button`)
			e.at(e.base, "/admin/demo/sso")
			if body := e.page("metadata-stored"); !strings.Contains(body, "The IdP's metadata is stored.") {
				t.Fatalf("after storing the metadata: %s", body)
			}

			e.run(chromedp.SetValue(`#f-hard-timeout`, "soon", chromedp.ByQuery))
			e.submit(`#f-hard-timeout`)
			e.at(e.base, "/admin/demo/sso")
			e.run(chromedp.WaitVisible(`#e-hard-timeout`))
			if body := e.page("settings-error"); !strings.Contains(body, "Nothing was saved") {
				t.Fatalf("a bad value: %s", body)
			}
			if set, _ := e.st.SSOSettings(ctx, e.tenant.ID); set.HardTimeout != store.MaxHardTimeout {
				t.Fatalf("a bad value stored %v", set.HardTimeout)
			}
			e.run(chromedp.SetValue(`#f-hard-timeout`, "7d", chromedp.ByQuery))
			e.submit(`#f-hard-timeout`)
			e.at(e.base, "/admin/demo/sso")
			if body := e.page("settings-saved"); !strings.Contains(body, "Saved.") {
				t.Fatalf("after fixing: %s", body)
			}

			e.submit(`form[action="/admin/demo/sso/state"] button`) // off → testing
			e.at(e.base, "/admin/demo/sso")
			// carol is provisioned (as SCIM would), so the test sign-in is one scimsso accepts: the
			// console goes active only after such a test with the current settings.
			if err := e.st.CreateUser(ctx, e.tenant.ID, &store.User{UserName: "carol@example.com", Emails: []store.Email{{Value: "carol@example.com", Type: "work", Primary: true}},
				GivenName: "Carol", FamilyName: "Example", Country: "DE", Active: true, Source: store.SourceSCIM}, store.Audit{Operation: "create"}); err != nil {
				t.Fatal(err)
			}
			e.submit(`form[action="/admin/demo/sso/test"] button`)
			e.at(e.base, "/saml/demo/test")
			e.page("test-start")
			e.submit(`button[type=submit]`)
			e.idpSignIn("carol")
			e.at(e.base, "/saml/demo/acs")
			if body := e.page("test-report"); !strings.Contains(body, "Nothing was stored") || !strings.Contains(body, "carol@example.com") || !strings.Contains(body, "scimsso would sign in user") {
				t.Fatalf("report: %s", body)
			}

			e.navigate(e.base + "/admin/demo/sso")
			e.at(e.base, "/admin/demo/sso")
			e.submit(`form[action="/admin/demo/sso/state"] button`) // testing → active (the first switch)
			e.at(e.base, "/admin/demo/sso")
			var state string
			e.run(chromedp.Text(`#sso-state`, &state))
			e.page("active")
			set, err := e.st.SSOSettings(ctx, e.tenant.ID)
			if err != nil || state != "active" || set.State != store.SSOActive || set.HardTimeout != 7*24*time.Hour ||
				!strings.HasPrefix(set.IdPEntityID, e.idpURL) {
				t.Fatalf("state shown %q, stored %+v, %v", state, set, err)
			}
			acts, err := e.st.ListAdminActions(ctx, store.AdminActionQuery{TenantID: e.tenant.ID, Limit: 10})
			if err != nil || acts[0].Actor.Kind != store.ActorSetupLink || acts[0].Action != store.ActionSSOSettingsChanged {
				t.Fatalf("audit %+v, %v", acts, err)
			}

			e.refreshNow()
		})
	}
}

// refreshNow: the IdP's metadata given by URL (as the operator gives it, with sso set --metadata-url
// and --allow-http-loopback-metadata), served by the test; the SSO page shows the refresh's state;
// Refresh now adds the IdP's next certificate, published beside the current one, and says so; with
// the URL failing, it says why and changes nothing; the overview shows the failure too.
func (e *browserEnv) refreshNow() {
	e.t.Helper()
	ctx := context.Background()
	set, err := e.st.SSOSettings(ctx, e.tenant.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(set.IdPCertificatesPEM[0]))
	current, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	next, err := samltest.New(set.IdPEntityID, set.IdPSSOURL, time.Now().Add(-time.Hour), time.Now().Add(2*365*24*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	md := samltest.NewMetadataURL(next.Metadata(current), false)
	e.t.Cleanup(md.Close)
	e.settings(func(s *store.SSOSettings) { s.IdPMetadataURL = md.URL + "/metadata" })

	e.navigate(e.base + "/admin/demo/sso")
	e.at(e.base, "/admin/demo/sso")
	var state string
	e.run(chromedp.Text(`#refresh-state`, &state))
	if body := e.page("refresh-before"); !strings.Contains(body, md.URL+"/metadata") || !strings.Contains(state, "none since the URL was given") {
		e.t.Fatalf("refresh state before any refresh %q:\n%s", state, body)
	}
	e.leave()
	e.run(chromedp.Click(`#refresh-now`, chromedp.NodeVisible))
	e.at(e.base, "/admin/demo/sso/metadata/refresh")
	e.run(chromedp.Text(`#refresh-state`, &state))
	if body := e.page("refresh-added"); !strings.Contains(body, "The IdP's metadata was fetched again; settings changed: 1 certificate(s) added.") ||
		!strings.Contains(state, "succeeded") {
		e.t.Fatalf("after Refresh now (state %q):\n%s", state, body)
	}
	after, err := e.st.SSOSettings(ctx, e.tenant.ID)
	if err != nil || len(after.IdPCertificatesPEM) != 2 || after.IdPCertificatesPEM[1] != next.CertPEM() {
		e.t.Fatalf("stored after Refresh now: %+v, %v", after, err)
	}
	acts, err := e.st.ListAdminActions(ctx, store.AdminActionQuery{TenantID: e.tenant.ID, Limit: 1})
	if err != nil || acts[0].Actor.Kind != store.ActorSetupLink || acts[0].Action != store.ActionSSOSettingsChanged {
		e.t.Fatalf("audit of Refresh now %+v, %v", acts, err)
	}

	md.Fail(http.StatusInternalServerError)
	e.leave()
	e.run(chromedp.Click(`#refresh-now`, chromedp.NodeVisible))
	e.at(e.base, "/admin/demo/sso/metadata/refresh")
	var failure string
	e.run(chromedp.Text(`#refresh-failure`, &failure))
	if body := e.page("refresh-failed"); !strings.Contains(body, "could not be fetched again, and nothing was changed: fetching the metadata: HTTP 500") ||
		!strings.Contains(failure, "HTTP 500") {
		e.t.Fatalf("after a failed Refresh now (reason %q):\n%s", failure, body)
	}
	if got, err := e.st.SSOSettings(ctx, e.tenant.ID); err != nil || got.Version != after.Version {
		e.t.Fatalf("a failed refresh changed the settings: %+v, %v", got, err)
	}
	e.leave()
	e.run(chromedp.Click(`nav.console a[href="/admin/demo/"]`, chromedp.NodeVisible))
	e.at(e.base, "/admin/demo/")
	var warning string
	e.run(chromedp.Text(`#refresh-warning`, &warning))
	if e.page("overview-refresh-failed"); !strings.Contains(warning, "HTTP 500") {
		e.t.Fatalf("the overview's refresh warning: %q", warning)
	}
}

// idpMetadataFile saves the demo IdP's metadata to a file, as the admin downloads it from their IdP.
func (e *browserEnv) idpMetadataFile() string {
	e.t.Helper()
	u, _ := url.Parse(e.idpURL)
	res, err := http.Get("http://127.0.0.1:" + u.Port() + "/metadata")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		e.t.Fatalf("IdP metadata: %d %v", res.StatusCode, err)
	}
	path := filepath.Join(e.t.TempDir(), "idp-metadata.xml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// openSetupLink makes a setup link of the demo tenant with scopes, opens it as the IT admin would,
// checks its page (it only offers Continue) and presses Continue, landing on the console's overview.
func (e *browserEnv) openSetupLink(scopes ...string) {
	e.t.Helper()
	secret, hash, err := store.NewSecret(store.SetupLinkPrefix)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.CreateSetupLink(context.Background(), &store.SetupLink{TenantID: e.tenant.ID, Scopes: scopes,
		Hash: hash, ExpiresAt: time.Now().Add(store.DefaultSetupLinkLifetime)}); err != nil {
		e.t.Fatal(err)
	}
	e.navigate(e.base + "/setup/" + secret)
	e.at(e.base, "/setup/"+secret)
	if body := e.page("setup-link"); !strings.Contains(body, "the link works once") {
		e.t.Fatalf("setup page: %s", body)
	}
	e.submit(`form[action^="/setup/"] button`)
	e.at(e.base, "/admin/demo/")
}
