package main

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// writeIdPMetadata writes IdP metadata with a fresh signing certificate, as Entra publishes it.
func writeIdPMetadata(t *testing.T) (path, doc string) {
	t.Helper()
	_, cert, err := samlsp.GenerateKeyPair("Microsoft Azure Federated SSO Certificate", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cert)
	b64 := strings.Join(strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(block))), "\n")[1:], "")
	b64 = strings.TrimSuffix(b64, "-----END CERTIFICATE-----")
	doc = `<?xml version="1.0" encoding="utf-8"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.windows.net/0ac53016/">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + b64 + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/0ac53016/saml2"/>
  </IDPSSODescriptor>
</EntityDescriptor>`
	path = filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, doc
}

func TestSSOSettings(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	show := func() string { out, _ := mustRun(t, db, "sso", "show", "--tenant", "acme"); return out }

	def := show()
	for _, want := range []string{"state:                       off", "version:                     0", "hard-timeout:                336h0m0s", "soft-timeout:                8h0m0s", "signed-element:              assertion", "signature-algorithm:         sha256"} {
		if !strings.Contains(def, want) {
			t.Fatalf("default settings lack %q:\n%s", want, def)
		}
	}
	mustFail(t, db, "sso", "set", "--tenant", "acme", "--state", "active")
	if show() != def {
		t.Fatal("a refused sso set changed the settings")
	}

	meta, doc := writeIdPMetadata(t)
	out, _ := mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "testing",
		"--exclude", "Admin@acme.com, ops@acme.com", "--soft-timeout", "2h", "--principal-id-attr", "http://schemas.microsoft.com/identity/claims/objectidentifier")
	if !strings.Contains(out, "version 1") {
		t.Fatalf("sso set: %s", out)
	}
	got := show()
	for _, want := range []string{"state:                       testing", "https://sts.windows.net/0ac53016/", "https://login.microsoftonline.com/0ac53016/saml2",
		"IdP certificate 1:", "admin@acme.com, ops@acme.com", "soft-timeout:                2h0m0s", "objectidentifier"} {
		if !strings.Contains(got, want) {
			t.Fatalf("settings lack %q:\n%s", want, got)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(`<!DOCTYPE x>`+doc), 0o600)
	for _, args := range [][]string{
		{"--soft-timeout", "25h"},
		{"--hard-timeout", "15d"},
		{"--soft-timeout", "10d"},
		{"--hard-timeout", "1h"},
		{"--state", "on"},
		{"--signed-element", "envelope"},
		{"--country-format", "alpha3"},
		{"--signature-algorithm", "md5"},
		{"--exclude", "not-an-email"},
		{"--exclude", "jösé@acme.com"}, // sign-in refuses it: it could never use its password
		{"--exclude", strings.Repeat("x", 65) + "@acme.com"},
		{"--attr-email", ""},
		{"--metadata-file", bad},
		{"--metadata-file", filepath.Join(t.TempDir(), "missing.xml")},
		{"--metadata-file", meta, "--metadata-url", "https://x.example/m"},
		{"--metadata-url", "ftp://x.example/m"},
	} {
		mustFail(t, db, append([]string{"sso", "set", "--tenant", "acme"}, args...)...)
		if show() != got {
			t.Fatalf("refused sso set %v changed the settings", args)
		}
	}
	mustFail(t, db, "sso", "show", "--tenant", "nosuch")

	// Settings that trade safety for convenience warn when set and in every show.
	_, stderr := mustRun(t, db, "sso", "set", "--tenant", "acme", "--skip-destination-validation", "--signature-algorithm", "sha1")
	if !strings.Contains(stderr, "skip-destination-validation") || !strings.Contains(stderr, "sha1") {
		t.Fatalf("no warnings: %q", stderr)
	}
	if s := show(); !strings.Contains(s, "WARNING: skip-destination-validation") || !strings.Contains(s, "version:                     2") {
		t.Fatalf("show: %s", s)
	}

	// Metadata from a URL, fetched at once: through safefetch, so this IdP on 127.0.0.1 only with the
	// loopback setting; never a private address.
	var fetched atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fetched.Add(1); w.Write([]byte(doc)) }))
	defer idp.Close()
	for _, tc := range []struct{ url, want string }{
		{idp.URL + "/federationmetadata.xml", "loopback"},
		{"https://10.20.30.40/federationmetadata.xml", "private address"},
		{"https://169.254.169.254/latest/meta-data", "link-local"},
		{"https://[::ffff:127.0.0.1]/m", "loopback"},
		{"http://idp.example.com/m", "not https"},
	} {
		if line := mustFail(t, db, "sso", "set", "--tenant", "acme", "--metadata-url", tc.url); !strings.Contains(line, tc.want) {
			t.Errorf("--metadata-url %s: %q, want it to say %q", tc.url, line, tc.want)
		}
	}
	if fetched.Load() != 0 {
		t.Fatal("a refused metadata URL was fetched")
	}
	mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-url", idp.URL+"/federationmetadata.xml", "--state", "active", "--allow-http-loopback-metadata")
	if s := show(); !strings.Contains(s, idp.URL+"/federationmetadata.xml") || !strings.Contains(s, "state:                       active") {
		t.Fatalf("show after --metadata-url: %s", s)
	}
}

// TestSSOTestLink: sso test-link prints a one-time link alone on stdout, which a running server accepts
// once to start a test sign-in; without SSO on, or with bad flags, it fails and prints nothing.
func TestSSOTestLink(t *testing.T) {
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	mustFail(t, db, "sso", "test-link", "--tenant", "acme") // SSO is off
	mustFail(t, db, "sso", "test-link", "--tenant", "nosuch")
	meta, _ := writeIdPMetadata(t)
	mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "testing")
	for _, args := range [][]string{
		{"--expires", "8d"},
		{"--expires", "0"},
		{"--expires", "soon"},
		{"--expires", ""},
		{"--base-url", "ftp://sso.example.com"},
		{"extra"},
	} {
		msg := mustFail(t, db, append([]string{"sso", "test-link", "--tenant", "acme"}, args...)...)
		if args[0] != "extra" && !strings.Contains(msg, args[0]) {
			t.Errorf("sso test-link %q: %q does not name %s", args, msg, args[0])
		}
	}

	link := regexp.MustCompile(`^http://127\.0\.0\.1/saml/acme/test\?token=[A-Za-z0-9_-]{43}\n$`)
	var links []string
	for _, state := range []string{"testing", "active"} {
		mustRun(t, db, "sso", "set", "--tenant", "acme", "--state", state)
		out, stderr := mustRun(t, db, "sso", "test-link", "--tenant", "acme", "--base-url", "http://127.0.0.1", "--expires", "2h")
		if !link.MatchString(out) || !strings.Contains(stderr, "expires") {
			t.Fatalf("state %s: stdout %q, stderr %q", state, out, stderr)
		}
		links = append(links, strings.TrimSpace(out))
	}
	if links[0] == links[1] {
		t.Fatal("two test links are the same")
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := st.TenantBySlug(context.Background(), "acme")
	as, err := st.ListAdminActions(context.Background(), store.AdminActionQuery{TenantID: tn.ID})
	st.Close()
	started := 0
	for _, a := range as {
		if a.Action == store.ActionSSOTestStarted && a.Actor.Kind == store.ActorCLI {
			started++
		}
	}
	if err != nil || started != 2 {
		t.Fatalf("%d sso.test_started entries by the CLI (%v), want one per link", started, err)
	}

	srv := startServer(t, db)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// open does what the admin does: opens the link's page and presses its button, which posts the
	// token back from the page. It returns the post's answer, or the opening's when there is no button.
	open := func(l string) *http.Response {
		t.Helper()
		res, err := noRedirect.Get(strings.Replace(l, "http://127.0.0.1", srv.url, 1))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tok := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(body)
		if res.StatusCode != http.StatusOK || tok == nil {
			return res
		}
		req, _ := http.NewRequest(http.MethodPost, srv.url+"/saml/acme/test", strings.NewReader(url.Values{"token": {string(tok[1])}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://127.0.0.1")
		if res, err = noRedirect.Do(req); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, l := range links {
		if res := open(l); res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://login.microsoftonline.com/0ac53016/saml2?SAMLRequest=") {
			t.Fatalf("first opening of %s: %d to %q", l, res.StatusCode, res.Header.Get("Location"))
		}
		if res := open(l); res.StatusCode != http.StatusNotFound {
			t.Fatalf("second opening of %s: %d", l, res.StatusCode)
		}
	}
	if res := open("http://127.0.0.1/saml/acme/test"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("no link: %d", res.StatusCode)
	}
	if logs := srv.logs(t); strings.Contains(logs, strings.SplitN(links[0], "token=", 2)[1]) {
		t.Fatal("the server logged a test link's token")
	}
}
