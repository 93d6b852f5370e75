package console_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimsso/scimsso/console"
	"github.com/scimsso/scimsso/internal/signintest"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
)

// upload posts a metadata file from the SSO page's upload form, as a browser does.
func (h *harness) upload(b *http.Client, slug string, file []byte) (*http.Response, string) {
	h.T.Helper()
	return h.uploadFile(b, "/admin/"+slug+"/sso", "/admin/"+slug+"/sso/metadata/file", "metadata", file)
}

// storeForm returns the metadata page's Store form.
func (h *harness) storeForm(slug, body string) samltest.Form {
	return h.FormIn("/admin/"+slug+"/sso/metadata/file", body, "/admin/"+slug+"/sso/metadata")
}

func (h *harness) settingsOf(tn *store.Tenant) *store.SSOSettings {
	h.T.Helper()
	set, err := h.St.SSOSettings(ctx, tn.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.DefaultSSOSettings()
	}
	if err != nil {
		h.T.Fatal(err)
	}
	return set
}

// TestSSOPage: the page shows the values to give the IdP, the guides, every setting of the table with
// its help, and the IdP's stored values with each certificate's subject and expiry.
func TestSSOPage(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	res, body := h.get(b, "/admin/acme/sso")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d\n%s", res.StatusCode, body)
	}
	signintest.PageHeaders(t, "sso page", res)
	wantNav(t, body, "Overview", "SSO", "People", "Teams", "Sign-in log", "Audit")
	contains(t, "sso page", body,
		`id="sp-entity" class="copy" readonly value="`+h.EntityID("acme")+`"`,
		`id="sp-acs" class="copy" readonly value="`+h.Acs("acme")+`"`,
		"Okta", "Microsoft Entra ID", "Google Workspace", "Another SAML 2.0 identity provider",
		"https://idp.example/acme", "https://idp.example/sso", "expires ")
	for _, st := range store.SSOSettingTable {
		contains(t, "sso page", body, `<label`, `for="f-`+st.Name+`"`, html.EscapeString(st.Help))
	}
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
}

// TestSSOSettingsSave: the form is parsed by Set and checked by Validate; any error shows next to its
// field and stores nothing; a correct form stores every setting with the admin as the actor; a form
// rendered before another change is refused with "changed meanwhile".
func TestSSOSettingsSave(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	before := h.settingsOf(h.Tenant)
	audit := len(h.actions(h.Tenant))
	for _, c := range []struct {
		set   url.Values
		field string
		want  string
	}{
		{url.Values{"hard-timeout": {"soon"}}, "hard-timeout", "hard-timeout: invalid duration"},
		{url.Values{"hard-timeout": {"10h"}, "soft-timeout": {"20h"}}, "soft-timeout", "soft-timeout must be less than hard-timeout"},
		{url.Values{"country-format": {"klingon"}}, "country-format", "country-format must be iso or name"},
		{url.Values{"exclude": {"not an email"}}, "exclude", "exclude"},
		{url.Values{"idp-initiated": {"maybe"}}, "idp-initiated", "must be on or off"},
	} {
		res, body := h.post(b, "/admin/acme/sso", "/admin/acme/sso", c.set)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Nothing was saved") {
			t.Fatalf("%v: %d\n%s", c.set, res.StatusCode, body)
		}
		m := regexp.MustCompile(`<p class="error" id="e-` + c.field + `">([^<]*)</p>`).FindStringSubmatch(body)
		if m == nil || !strings.Contains(html.UnescapeString(m[1]), c.want) {
			t.Errorf("%v: no error %q next to %s:\n%s", c.set, c.want, c.field, body)
		}
		// The value given is shown back, to be corrected.
		for k, v := range c.set {
			if !strings.Contains(body, `value="`+html.EscapeString(v[0])+`"`) && !strings.Contains(body, `<option selected>`+v[0]) {
				t.Errorf("%s=%q not shown back", k, v[0])
			}
		}
	}
	if got := h.settingsOf(h.Tenant); got.Version != before.Version || len(h.actions(h.Tenant)) != audit {
		t.Fatalf("refused forms stored something: version %d → %d", before.Version, got.Version)
	}

	res, body := h.post(b, "/admin/acme/sso", "/admin/acme/sso", url.Values{
		"hard-timeout": {"7d"}, "soft-timeout": {"4h"}, "exclude": {"Boss@acme.com"}, "force-country": {"true"},
		"signed-element": {"both"}, "attr-department": {"dept"},
	})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/acme/sso?done=saved" {
		t.Fatalf("save: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	got := h.settingsOf(h.Tenant)
	if got.Version != before.Version+1 || got.HardTimeout != 7*24*time.Hour || got.SoftTimeout != 4*time.Hour || !got.ForceCountry ||
		got.SignedElement != store.SignedBoth || got.AttrDepartment != "dept" || len(got.Exclude) != 1 || got.Exclude[0] != "boss@acme.com" ||
		got.IdPEntityID != before.IdPEntityID || got.State != before.State {
		t.Fatalf("stored %+v", got)
	}
	act := h.actions(h.Tenant)[0]
	if act.Action != store.ActionSSOSettingsChanged || act.Actor.Kind != store.ActorSetupLink || act.Actor.ID == "" {
		t.Fatalf("audit %+v", act)
	}
	_, body = h.get(b, "/admin/acme/sso?done=saved")
	contains(t, "after save", body, "Saved.")

	// A form rendered before someone else's change is refused, and the page shows what is stored.
	f := h.Form(b, "/admin/acme/sso", "/admin/acme/sso")
	other := h.settingsOf(h.Tenant)
	other.SoftTimeout = 2 * time.Hour
	if err := h.St.PutSSOSettings(ctx, h.Tenant.ID, other); err != nil {
		t.Fatal(err)
	}
	f.Values.Set("soft-timeout", "3h")
	res, body = h.Submit(b, f, h.same())
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "changed meanwhile") || !strings.Contains(body, `value="2h0m0s"`) {
		t.Fatalf("stale form: %d\n%s", res.StatusCode, body)
	}
	if got := h.settingsOf(h.Tenant); got.SoftTimeout != 2*time.Hour {
		t.Fatalf("stale form stored %v", got.SoftTimeout)
	}
}

// TestMetadata: metadata by file or URL is shown (entity ID, SSO URL, each certificate's subject and
// expiry) and stored only when confirmed; what is not metadata, a file over 1 MiB or an unreachable
// URL stores nothing.
func TestMetadata(t *testing.T) {
	h := newHarness(t)
	idp, err := samltest.New("https://idp.globex.test/saml", "https://idp.globex.test/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := samltest.New("https://idp.other.test/saml", "https://idp.other.test/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	h.ConsoleConfig = func(c *console.Config) {
		c.FetchMetadata = func(_ context.Context, u string) ([]byte, error) {
			switch u {
			case "https://idp.globex.test/metadata":
				return idp.Metadata(), nil
			case "https://internal.test/status": // answers 200, but not with metadata
				return []byte("<html>internal status page</html>"), nil
			case "https://other.test/metadata":
				return other.Metadata(), nil
			}
			return nil, errors.New("connection refused by 10.0.0.1")
		}
	}
	h.Restart()
	b := h.consoleOf(h.Other, store.AdminScopeSSO)
	audit := len(h.actions(h.Other))
	for name, c := range map[string]struct {
		file []byte
		want string
	}{
		"not metadata": {[]byte("<html>hello</html>"), "not IdP metadata scimsso can use"},
		"empty":        {nil, "not IdP metadata"},
		"too large":    {bytes.Repeat([]byte("x"), 1<<20+100<<10), "could not be read"},
	} {
		res, body := h.upload(b, "globex", c.file)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d\n%s", name, res.StatusCode, body)
		}
	}
	res, body := h.post(b, "/admin/globex/sso", "/admin/globex/sso/metadata/url", url.Values{"url": {"https://internal.test/x"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "could not be fetched") || strings.Contains(body, "10.0.0.1") {
		t.Errorf("unreachable URL: %d\n%s", res.StatusCode, body)
	}
	if res, _ := h.post(b, "/admin/globex/sso", "/admin/globex/sso/metadata/url", url.Values{"url": {"file:///etc/passwd"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("file URL: %d", res.StatusCode)
	}
	// A host that answers, but not with metadata, gets the very page an unreachable one gets: the
	// console is no probe of which internal hosts answer, or what the XML parser makes of them.
	_, answered := h.post(b, "/admin/globex/sso", "/admin/globex/sso/metadata/url", url.Values{"url": {"https://internal.test/status"}})
	if strings.ReplaceAll(stripRef(answered), "internal.test/status", "internal.test/x") != stripRef(body) {
		t.Errorf("a 200 that is not metadata is told apart from no answer:\n%s\n---\n%s", answered, body)
	}
	if res, _ := h.post(b, "/admin/globex/sso", "/admin/globex/sso/metadata/url", url.Values{"url": {"https://user:pw@idp.globex.test/metadata"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("URL with credentials: %d", res.StatusCode)
	}
	if set := h.settingsOf(h.Other); set.Version != 0 || len(h.actions(h.Other)) != audit {
		t.Fatalf("refused metadata stored something: %+v", set)
	}

	res, body = h.upload(b, "globex", idp.Metadata())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d\n%s", res.StatusCode, body)
	}
	contains(t, "metadata page", body, "https://idp.globex.test/saml", "https://idp.globex.test/sso", "expires ", "Nothing is stored until you press Store")
	if h.settingsOf(h.Other).Version != 0 {
		t.Fatal("reading the file stored it")
	}
	f := h.storeForm("globex", body)
	// The confirming form's source_url is never taken on trust: one the rule refuses, one the fetcher
	// cannot reach, and one whose metadata is not what was shown all store nothing.
	for _, forged := range []string{"file:///etc/passwd", "http://169.254.169.254/latest/meta-data", "https://other.test/metadata"} {
		g := h.storeForm("globex", body)
		g.Values.Set("source_url", forged)
		if res, page := h.Submit(b, g, h.same()); res.StatusCode != http.StatusBadRequest || h.settingsOf(h.Other).Version != 0 {
			t.Fatalf("forged source_url %s: %d, version %d\n%s", forged, res.StatusCode, h.settingsOf(h.Other).Version, page)
		}
	}
	res, body = h.Submit(b, f, h.same())
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/globex/sso?done=metadata" {
		t.Fatalf("store: %d\n%s", res.StatusCode, body)
	}
	set := h.settingsOf(h.Other)
	if set.IdPEntityID != "https://idp.globex.test/saml" || set.IdPSSOURL != "https://idp.globex.test/sso" || len(set.IdPCertificatesPEM) != 1 ||
		set.IdPCertificatesPEM[0] != idp.CertPEM() || set.State != store.SSOOff {
		t.Fatalf("stored %+v", set)
	}
	// A tampered certificate in the confirming form stores nothing.
	f.Values.Set("cert", "bm90IGEgY2VydA==")
	f.Values.Set("version", "1")
	if res, _ := h.Submit(b, f, h.same()); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered cert: %d", res.StatusCode)
	}
	// By URL: the source is remembered.
	res, body = h.post(b, "/admin/globex/sso", "/admin/globex/sso/metadata/url", url.Values{"url": {"https://idp.globex.test/metadata"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "replaces the IdP") {
		t.Fatalf("by URL: %d\n%s", res.StatusCode, body)
	}
	res, _ = h.Submit(b, h.FormIn("/admin/globex/sso/metadata/url", body, "/admin/globex/sso/metadata"), h.same())
	if res.StatusCode != http.StatusSeeOther || h.settingsOf(h.Other).IdPMetadataURL != "https://idp.globex.test/metadata" {
		t.Fatalf("store by URL: %d %+v", res.StatusCode, h.settingsOf(h.Other))
	}
}

// TestStateSwitchAndTest: the switch refuses testing without the IdP's metadata; a test sign-in starts
// only in testing or active, from the console, through a test link; then active, then off.
func TestStateSwitchAndTest(t *testing.T) {
	h := newHarness(t)
	b := h.consoleOf(h.Other, store.AdminScopeSSO)
	res, body := h.post(b, "/admin/globex/sso", "/admin/globex/sso/state", nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "upload the IdP&#39;s metadata first") {
		t.Fatalf("testing without metadata: %d\n%s", res.StatusCode, body)
	}
	if res, _ := h.Send(b, http.MethodPost, "/admin/globex/sso/test", url.Values{"csrf": {h.csrfOf(b)}}, h.same()); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("test sign-in while off: %d", res.StatusCode)
	}
	// acme: the harness's IdP; switch to testing, test, go live.
	a := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	set := h.settingsOf(h.Tenant)
	set.State = store.SSOOff
	if err := h.St.PutSSOSettings(ctx, h.Tenant.ID, set); err != nil {
		t.Fatal(err)
	}
	res, _ = h.post(a, "/admin/acme/sso", "/admin/acme/sso/state", nil)
	if res.StatusCode != http.StatusSeeOther || h.settingsOf(h.Tenant).State != store.SSOTesting {
		t.Fatalf("to testing: %d %s", res.StatusCode, h.settingsOf(h.Tenant).State)
	}
	res, body = h.post(a, "/admin/acme/sso", "/admin/acme/sso/test", nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, h.Srv.URL+"/saml/acme/test?token=") {
		t.Fatalf("test sign-in: %d %s\n%s", res.StatusCode, loc, body)
	}
	if acts := h.actions(h.Tenant); acts[0].Action != store.ActionSSOTestStarted || acts[0].Actor.Kind != store.ActorSetupLink {
		t.Fatalf("the console's test sign-in recorded %+v, want sso.test_started by the setup link", acts[0])
	}
	id := h.StartTest(a, loc)
	_, report := h.PostACS(a, "acme", h.Response("acme", id, signintest.Person("tester@acme.com", "Tess", "Ter"), nil))
	if !strings.Contains(report, "tester@acme.com") {
		t.Fatalf("report:\n%s", report)
	}
	// The first of the switches on the page in testing is active.
	res, _ = h.post(a, "/admin/acme/sso", "/admin/acme/sso/state", nil)
	if res.StatusCode != http.StatusSeeOther || h.settingsOf(h.Tenant).State != store.SSOActive {
		t.Fatalf("to active: %d %s", res.StatusCode, h.settingsOf(h.Tenant).State)
	}
	res, _ = h.Send(a, http.MethodPost, "/admin/acme/sso/state", url.Values{"csrf": {h.csrfOf(a)}, "state": {"off"},
		"version": {itoa(h.settingsOf(h.Tenant).Version)}}, h.same())
	if res.StatusCode != http.StatusSeeOther || h.settingsOf(h.Tenant).State != store.SSOOff {
		t.Fatalf("to off: %d %s", res.StatusCode, h.settingsOf(h.Tenant).State)
	}
	acts := h.actions(h.Tenant)
	if acts[0].Action != store.ActionSSOSettingsChanged || !strings.Contains(acts[0].After, `"state":"off"`) || !strings.Contains(acts[0].Before, `"state":"active"`) {
		t.Fatalf("audit %+v", acts[0])
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestScopeRefusal: a SCIM-only console session gets 403 on every SSO route, changes nothing, and
// its nav does not list the SSO pages.
func TestScopeRefusal(t *testing.T) {
	h := newHarness(t)
	h.Configure(h.Tenant, h.IdP, func(s *store.SSOSettings) { s.SkipDestinationValidation = true }) // a warning
	b := h.consoleOf(h.Tenant, store.AdminScopeSCIM)
	_, body := h.get(b, "/admin/acme/")
	wantNav(t, body, "Overview", "SCIM", "People", "Audit")
	// The overview tells a SCIM-only session nothing of how the tenant signs in.
	warnings := h.settingsOf(h.Tenant).Warnings()
	if len(warnings) == 0 {
		t.Fatal("the settings have no warning to hide")
	}
	for _, secret := range append([]string{h.IdP.EntityID, "Single sign-on", "Identity provider"}, warnings...) {
		if strings.Contains(body, html.EscapeString(secret)) {
			t.Errorf("a SCIM-only session's overview shows %q", secret)
		}
	}
	_, full := h.get(h.consoleOf(h.Tenant, store.AdminScopeSSO), "/admin/acme/")
	contains(t, "an SSO session's overview", full, h.IdP.EntityID, "Single sign-on", html.EscapeString(warnings[0]))
	before := h.settingsOf(h.Tenant).Version
	for _, rt := range consoleRoutes {
		if !strings.HasPrefix(rt.path, "/sso") {
			continue
		}
		res, body := h.Send(b, rt.method, "/admin/acme"+rt.path, formOf(h, b, rt.form), h.same())
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "does not include this page") {
			t.Errorf("%s %s: %d", rt.method, rt.path, res.StatusCode)
		}
	}
	if h.settingsOf(h.Tenant).Version != before {
		t.Fatal("a refused request changed the settings")
	}
}

// TestActiveNeedsTest: the console switches SSO to active only after a test sign-in that succeeded
// with the settings as they are; a change after the test needs a new one.
func TestActiveNeedsTest(t *testing.T) {
	h := newHarness(t)
	a := h.consoleOf(h.Tenant, store.AdminScopeSSO)
	set := h.settingsOf(h.Tenant)
	set.State = store.SSOTesting
	if err := h.St.PutSSOSettings(ctx, h.Tenant.ID, set); err != nil {
		t.Fatal(err)
	}
	toActive := func() (*http.Response, string) {
		return h.Send(a, http.MethodPost, "/admin/acme/sso/state", url.Values{"csrf": {h.csrfOf(a)}, "state": {"active"},
			"version": {itoa(h.settingsOf(h.Tenant).Version)}}, h.same())
	}
	refused := func(when string) {
		t.Helper()
		res, body := toActive()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "a test sign-in must succeed with the current settings first") ||
			h.settingsOf(h.Tenant).State != store.SSOTesting {
			t.Fatalf("active %s: %d, state %s\n%s", when, res.StatusCode, h.settingsOf(h.Tenant).State, body)
		}
	}
	test := func() {
		t.Helper()
		res, _ := h.post(a, "/admin/acme/sso", "/admin/acme/sso/test", nil)
		id := h.StartTest(a, res.Header.Get("Location"))
		if _, report := h.PostACS(a, "acme", h.Response("acme", id, signintest.Person("tester@acme.com", "Tess", "Ter"), nil)); !strings.Contains(report, "would create user") {
			t.Fatalf("report:\n%s", report)
		}
	}
	refused("without a test sign-in")
	test()
	// A change after the test: the test no longer speaks for the settings.
	if res, body := h.post(a, "/admin/acme/sso", "/admin/acme/sso", url.Values{"soft-timeout": {"4h"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.StatusCode, body)
	}
	refused("after a change since the test")
	test()
	if res, body := toActive(); res.StatusCode != http.StatusSeeOther || h.settingsOf(h.Tenant).State != store.SSOActive {
		t.Fatalf("active after a test: %d %s\n%s", res.StatusCode, h.settingsOf(h.Tenant).State, body)
	}
}
