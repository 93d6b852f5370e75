// Package interop_test signs in to scimsso's SAML service provider through an identity provider that
// nobody on this project wrote: mcguinness/saml-idp (npm, signing with Auth0's samlp), installed by
// setup.sh and run as a child process. A cookie-jar client that follows no redirect plays the browser:
// the SP's login redirect, the IdP's form, the IdP's auto-post form, the ACS, /me.
package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

const (
	idpScript  = "node_modules/saml-idp/bin/run.js" // relative to this package's directory, where go test runs
	idpIssuer  = "urn:scimsso:interop:saml-idp"
	requireEnv = "SCIMSSO_REQUIRE_INTEROP"
)

var ctx = context.Background()

// requireIdP returns the node binary, or skips the test when saml-idp is not installed; with
// SCIMSSO_REQUIRE_INTEROP=1 (CI, after setup.sh) a missing IdP fails the test instead.
func requireIdP(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not on PATH"
	} else {
		for _, f := range []string{idpScript, "node_modules/samlp/package.json"} {
			if _, err := os.Stat(f); err != nil {
				missing = "interop/" + f + " is missing"
				break
			}
		}
	}
	if missing != "" {
		msg := "the external SAML IdP (npm saml-idp) is not installed (" + missing + "): run `bash interop/setup.sh` first"
		if os.Getenv(requireEnv) == "1" {
			t.Fatal(msg + "; " + requireEnv + "=1 requires it")
		}
		t.Skip(msg)
	}
	return node
}

// sp is scimsso's SAML SP in-process on a TLS test server with a real SQLite store, tenant acme
// (domains acme.com, acme.de). Its log goes to the test log and to an observer, so a test can check
// why a sign-in was refused.
type sp struct {
	t      *testing.T
	st     *sqlstore.Store
	srv    *httptest.Server
	tenant *store.Tenant
	logs   *observer.ObservedLogs
	// welcomed are the people who completed /welcome: the server must not send them there again.
	welcomed map[string]bool
}

func newSP(t *testing.T) *sp {
	t.Helper()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	obs, logs := observer.New(zap.InfoLevel)
	log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, obs) })))
	r := mux.NewRouter()
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	// Wired as cmd wires them: the ACS hands a verified sign-in to the people's sessions (and /me).
	sessions, err := people.NewSessions(people.SessionsConfig{Store: st, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s, err := samlsp.New(samlsp.Config{Store: st, Logger: log, BaseURL: srv.URL, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(r)
	web, err := people.New(people.Config{Store: st, Logger: log, BaseURL: srv.URL, Sessions: sessions, SSO: s})
	if err != nil {
		t.Fatal(err)
	}
	web.Routes(r)
	key, cert, err := samlsp.GenerateKeyPair("scimsso acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tn := &store.Tenant{Slug: "acme", Name: "acme", Domains: []string{"acme.com", "acme.de"}, SPKeyPEM: key, SPCertPEM: cert}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	return &sp{t: t, st: st, srv: srv, tenant: tn, logs: logs, welcomed: map[string]bool{}}
}

func (s *sp) acs() string      { return s.srv.URL + "/saml/acme/acs" }
func (s *sp) entityID() string { return s.srv.URL + "/saml/acme/metadata" }

// trust makes the tenant's SSO active for the IdP, as an operator would from the IdP's metadata, with
// the attribute names saml-idp sends (firstName, lastName, email). mutate changes what a test varies.
func (s *sp) trust(i *idp, mutate func(*store.SSOSettings)) {
	s.t.Helper()
	set, err := s.st.SSOSettings(ctx, s.tenant.ID)
	if err != nil {
		set = store.DefaultSSOSettings()
	}
	set.State = "active"
	set.IdPEntityID, set.IdPSSOURL, set.IdPCertificatesPEM = i.meta.EntityID, i.meta.SSOURL, i.meta.CertificatesPEM
	set.AttrFirstName, set.AttrLastName, set.AttrEmail = "firstName", "lastName", "email"
	if mutate != nil {
		mutate(set)
	}
	if err := s.st.PutSSOSettings(ctx, s.tenant.ID, set); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sp) users() []store.User {
	s.t.Helper()
	us, _, err := s.st.ListUsers(ctx, s.tenant.ID, store.UserQuery{Limit: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return us
}

// refusal is the code and reason of the SP's last "sign-in refused" log entry.
func (s *sp) refusal() (code, reason string) {
	all := s.logs.FilterMessage("sign-in refused").All()
	if len(all) == 0 {
		return "", ""
	}
	m := all[len(all)-1].ContextMap()
	code, _ = m["code"].(string)
	reason, _ = m["reason"].(string)
	return code, reason
}

// browser is a client with its own cookie jar that follows no redirect, so every hop is seen. It
// trusts the SP's test certificate; the IdP is plain HTTP on 127.0.0.1.
func (s *sp) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: s.srv.Client().Transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type meUser struct {
	ID, Tenant, UserName, GivenName, FamilyName, Source string
}

func (s *sp) me(b *http.Client) (int, meUser) {
	s.t.Helper()
	res, err := b.Get(s.srv.URL + "/me")
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ User meUser }
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m.User
}

// idp is a running saml-idp.
type idp struct {
	url  string      // http://127.0.0.1:port
	meta *samlsp.IdP // from its /metadata
	out  *syncBuffer // its stdout and stderr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var readyURL = regexp.MustCompile(`^\s*https?://[^\s/]+:(\d+)\s*$`)

// startIdP runs saml-idp on 127.0.0.1 with a port the kernel picks (read back from its start-up
// banner), a fresh key pair, the SP's ACS URL and entity ID as its audience, and extra arguments. It
// is killed when the test ends; its output is logged if the test failed.
func startIdP(t *testing.T, node string, s *sp, extra ...string) *idp {
	t.Helper()
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "idp-private-key.pem"), filepath.Join(dir, "idp-public-cert.pem")
	writeKeyPair(t, keyFile, certFile)
	args := append([]string{idpScript, "--host", "127.0.0.1", "--port", "0", "--cert", certFile, "--key", keyFile,
		"--issuer", idpIssuer, "--acsUrl", s.acs(), "--audience", s.entityID()}, extra...)
	cmd := exec.Command(node, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PORT=") && !strings.HasPrefix(e, "HOST=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1", "FORCE_COLOR=0")
	setProcAttr(cmd)
	i := &idp{out: &syncBuffer{}}
	cmd.Stderr = i.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting saml-idp: %v", err)
	}
	port, exited := make(chan string, 1), make(chan struct{})
	go func() {
		// Reads until the process ends (it logs every response; a full pipe would block it).
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		ready := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(i.out, line)
			if strings.Contains(line, "IdP server ready at") {
				ready = true
			} else if m := readyURL.FindStringSubmatch(line); ready && m != nil {
				port <- m[1]
				ready = false
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("saml-idp output:\n%s", i.out.String())
		}
	})
	select {
	case p := <-port:
		i.url = "http://127.0.0.1:" + p
	case <-exited:
		t.Fatalf("saml-idp exited before listening:\n%s", i.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("saml-idp did not listen within 30 s:\n%s", i.out.String())
	}
	// It prints the banner once listening; metadata answering confirms it.
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(i.url + "/metadata")
		if err == nil {
			body, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && res.StatusCode == http.StatusOK {
				break
			}
			if err == nil {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("saml-idp metadata at %s: %v", i.url, err)
		}
	}
	if i.meta, err = samlsp.ParseIdPMetadata(body); err != nil {
		t.Fatalf("scimsso refuses saml-idp's metadata: %v\n%s", err, body)
	}
	if i.meta.EntityID != idpIssuer || i.meta.SSOURL != i.url+"/saml/sso" || len(i.meta.CertificatesPEM) != 1 || i.meta.CertificatesPEM[0] != readFile(t, certFile) {
		t.Fatalf("saml-idp metadata read as %+v", i.meta)
	}
	return i
}

// writeKeyPair writes an RSA-2048 key (PKCS#1, "RSA PRIVATE KEY", which saml-idp expects) and a
// self-signed certificate for it.
func writeKeyPair(t *testing.T, keyFile, certFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "saml-idp interop test IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// configure changes the IdP's settings the way its admin would: open /settings, change the fields,
// submit the form. extra holds options the page does not show; the IdP's handler applies every posted
// field to its options all the same.
func (i *idp) configure(t *testing.T, b *http.Client, fields, extra map[string]string) {
	t.Helper()
	page, body := get(t, b, i.url+"/settings")
	f := findForm(t, page, body, func(f samltest.Form) bool { return f.Values.Has("signatureAlgorithm") })
	for k, v := range fields {
		if !f.Values.Has(k) {
			t.Fatalf("saml-idp's settings form has no field %q: %v", k, f.Values)
		}
		f.Values.Set(k, v)
	}
	for k, v := range extra {
		f.Values.Set(k, v)
	}
	res := submit(t, b, f)
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("saml-idp settings: %d", res.StatusCode)
	}
}

// person is who signs in at the IdP: what is typed into its form.
type person struct{ email, first, last string }

// signIn drives one sign-in in b. start is where the browser begins: the SP's login URL
// (SP-initiated; it must redirect to the IdP) or the IdP's own page (IdP-initiated). At the IdP the
// person's details are typed into the form and submitted; the IdP's auto-post form is then posted where
// it points, which must be the SP's ACS. It returns the ACS's answer and what the IdP sent.
func (s *sp) signIn(t *testing.T, b *http.Client, i *idp, start string, who person) (*http.Response, sent) {
	t.Helper()
	at := start
	if strings.HasPrefix(start, s.srv.URL) {
		res, err := b.Get(start)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		at = res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(at, i.meta.SSOURL+"?SAMLRequest=") {
			t.Fatalf("SP login: %d to %q, want a redirect to %s", res.StatusCode, at, i.meta.SSOURL)
		}
	}
	page, body := get(t, b, at)
	f := findForm(t, page, body, func(f samltest.Form) bool { return f.Values.Has("userName") })
	if strings.HasPrefix(start, s.srv.URL) != f.Values.Has("_authnRequest") {
		t.Fatalf("saml-idp's form has _authnRequest = %v for a sign-in starting at %s", f.Values.Has("_authnRequest"), start)
	}
	f.Values.Set("userName", who.email)
	f.Values.Set("email", who.email)
	f.Values.Set("firstName", who.first)
	f.Values.Set("lastName", who.last)
	res := submit(t, b, f)
	post, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("saml-idp sign-in: %d %v\n%s", res.StatusCode, err, post)
	}
	auto := findForm(t, f.Action, string(post), func(f samltest.Form) bool { return f.Values.Has("SAMLResponse") })
	if auto.Action.String() != s.acs() {
		t.Fatalf("saml-idp posts to %s, want the ACS %s", auto.Action, s.acs())
	}
	return submit(t, b, auto), inspect(t, auto.Values.Get("SAMLResponse"))
}

// sent is what the IdP's SAMLResponse carried, read from its auto-post form.
type sent struct {
	signs string   // which elements carry an enveloped signature: assertion, response, both or none
	algs  []string // their SignatureMethod algorithms
}

func inspect(t *testing.T, b64 string) sent {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil || doc.Root().Tag != "Response" {
		t.Fatalf("SAMLResponse is not a Response: %v\n%s", err, raw)
	}
	var out sent
	signed := map[string]bool{}
	for _, el := range []*etree.Element{doc.Root(), doc.Root().FindElement("./Assertion")} {
		if el == nil {
			continue
		}
		if sig := el.FindElement("./Signature"); sig != nil {
			signed[el.Tag] = true
			if sm := sig.FindElement("./SignedInfo/SignatureMethod"); sm != nil {
				out.algs = append(out.algs, sm.SelectAttrValue("Algorithm", ""))
			}
		}
	}
	switch {
	case signed["Response"] && signed["Assertion"]:
		out.signs = "both"
	case signed["Response"]:
		out.signs = "response"
	case signed["Assertion"]:
		out.signs = "assertion"
	default:
		out.signs = "none"
	}
	return out
}

func (s *sp) login(returnTo string) string {
	return s.srv.URL + "/saml/acme/login?return_to=" + url.QueryEscape(returnTo)
}

// signedIn checks an accepted sign-in: 303 to wantLoc, and /me shows who.
func (s *sp) signedIn(t *testing.T, b *http.Client, res *http.Response, wantLoc string, who person) meUser {
	t.Helper()
	res.Body.Close()
	// saml-idp's profile has no country, so a user it creates just in time completes /welcome first,
	// once.
	welcome := "/welcome"
	if wantLoc != "/me" {
		welcome += "?return_to=" + url.QueryEscape(wantLoc)
	}
	if res.StatusCode == http.StatusSeeOther && res.Header.Get("Location") == welcome {
		if s.welcomed[who.email] {
			t.Fatalf("%s, who completed /welcome before, was sent there again", who.email)
		}
		s.welcomed[who.email] = true
		res = s.welcome(t, b, welcome)
		res.Body.Close()
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != wantLoc {
		code, reason := s.refusal()
		t.Fatalf("ACS answered %d to %q, want 303 to %q (refusal: %s: %s)", res.StatusCode, res.Header.Get("Location"), wantLoc, code, reason)
	}
	status, m := s.me(b)
	if status != http.StatusOK || m.UserName != who.email || m.GivenName != who.first || m.FamilyName != who.last || m.Tenant != "acme" {
		t.Fatalf("/me %d %+v, want %+v", status, m, who)
	}
	return m
}

// welcome completes first sign-in at path (/welcome…) with country DE, as a person would with the
// form, and returns the answer to the form's post.
func (s *sp) welcome(t *testing.T, b *http.Client, path string) *http.Response {
	t.Helper()
	res, err := b.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	forms, err := samltest.Forms(res.Request.URL, page)
	if err != nil || len(forms) == 0 || forms[0].Action.Path != "/welcome" {
		t.Fatalf("/welcome: %d, forms %v, %v\n%s", res.StatusCode, forms, err, page)
	}
	forms[0].Values.Set("country", "DE")
	if res, err = b.PostForm(forms[0].Action.String(), forms[0].Values); err != nil {
		t.Fatal(err)
	}
	return res
}

// refused checks a refused sign-in: 403, the logged refusal code and a part of its reason, no user
// created, not signed in.
func (s *sp) refused(t *testing.T, b *http.Client, res *http.Response, wantCode, wantReason string) {
	t.Helper()
	res.Body.Close()
	code, reason := s.refusal()
	if res.StatusCode != http.StatusForbidden || code != wantCode || !strings.Contains(reason, wantReason) {
		t.Fatalf("ACS answered %d (refusal %q: %s), want 403 with code %q and a reason containing %q", res.StatusCode, code, reason, wantCode, wantReason)
	}
	t.Logf("refused as expected: %s: %s", code, reason)
	if us := s.users(); len(us) != 0 {
		t.Fatalf("a refused sign-in created users: %+v", us)
	}
	if status, _ := s.me(b); status != http.StatusUnauthorized {
		t.Fatalf("/me after a refusal: %d", status)
	}
}

var alice = person{"alice@acme.com", "Alice", "Anders"}

const (
	rsaSHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	rsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
)

func allAre(l []string, v string) bool {
	for _, x := range l {
		if x != v {
			return false
		}
	}
	return len(l) > 0
}

// TestSPInitiated: the SP's login redirects to saml-idp, which answers the AuthnRequest with its
// defaults (Response and assertion both signed, RSA-SHA256); the user is created just in time, and a
// second sign-in finds the same user.
func TestSPInitiated(t *testing.T) {
	node := requireIdP(t)
	t.Parallel()
	s := newSP(t)
	i := startIdP(t, node, s)
	s.trust(i, nil)
	b := s.browser()
	res, got := s.signIn(t, b, i, s.login("/x"), alice)
	if got.signs != "both" || !allAre(got.algs, rsaSHA256) {
		t.Errorf("saml-idp's defaults: signed %s with %v, want both with RSA-SHA256", got.signs, got.algs)
	}
	first := s.signedIn(t, b, res, "/x", alice)
	us := s.users()
	if len(us) != 1 || us[0].ID != first.ID || us[0].Source != store.SourceSSO {
		t.Fatalf("users after the first sign-in: %+v", us)
	}
	b2 := s.browser()
	res, _ = s.signIn(t, b2, i, s.login("/y"), alice)
	if again := s.signedIn(t, b2, res, "/y", alice); again.ID != first.ID || len(s.users()) != 1 {
		t.Fatalf("second sign-in as %+v, users %d", again, len(s.users()))
	}
}

// TestDefaultAttributeNames: saml-idp names its attributes firstName, lastName, email; scimsso's
// default names are Entra's claim URIs and FirstName, LastName, Email, compared case-sensitively. With
// the defaults the email still comes from the NameID (an email address), but no name does, so a
// just-in-time user cannot be created: refused. Operators set the three attribute names (as trust does).
func TestDefaultAttributeNames(t *testing.T) {
	node := requireIdP(t)
	t.Parallel()
	s := newSP(t)
	i := startIdP(t, node, s)
	s.trust(i, func(set *store.SSOSettings) {
		d := store.DefaultSSOSettings()
		set.AttrFirstName, set.AttrLastName, set.AttrEmail = d.AttrFirstName, d.AttrLastName, d.AttrEmail
	})
	b := s.browser()
	res, _ := s.signIn(t, b, i, s.login("/x"), alice)
	s.refused(t, b, res, "attributes", "lacks a first or last name")
}

// TestIdPInitiated: a sign-in started at saml-idp's own page (no AuthnRequest, so no InResponseTo)
// is accepted by default and lands on the IdP's RelayState when it is a path here, on /me when it is
// not; with idp-initiated off it is refused.
func TestIdPInitiated(t *testing.T) {
	node := requireIdP(t)
	cases := []struct {
		name, relay    string
		noIdPInitiated bool
		want           string // Location; "" for refused
	}{
		{"RelayState a path", "/reports/42", false, "/reports/42"},
		{"RelayState off-site", "https://evil.example/", false, "/me"},
		{"no RelayState", "", false, "/me"},
		{"idp-initiated off", "/reports/42", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSP(t)
			var extra []string
			if tc.relay != "" {
				extra = []string{"--relayState", tc.relay}
			}
			i := startIdP(t, node, s, extra...)
			s.trust(i, func(set *store.SSOSettings) { set.NoIdPInitiated = tc.noIdPInitiated })
			b := s.browser()
			res, _ := s.signIn(t, b, i, i.url+"/", alice)
			if tc.want == "" {
				s.refused(t, b, res, "unsolicited", "unsolicited")
				return
			}
			s.signedIn(t, b, res, tc.want, alice)
		})
	}
}

// idpSigns is how saml-idp is set to sign, through its settings page. saml-idp signs the assertion
// always (samlp's signAssertion defaults to true) and the Response when "Sign Response" is on (its
// default). Its page has no switch for the assertion signature; samlp's signAssertion option, posted
// to the same settings handler, turns it off.
var idpSigns = map[string]struct{ fields, extra map[string]string }{
	"assertion": {fields: map[string]string{"signResponse": "false"}},
	"response":  {fields: map[string]string{"signResponse": "true"}, extra: map[string]string{"signAssertion": "false"}},
	"both":      {fields: map[string]string{"signResponse": "true"}},
}

// TestSignedElement: each signed-element setting against each way saml-idp signs. The matching
// settings accept; a setting that names an element the IdP did not sign refuses and creates nobody.
// Which check refuses differs: an unsigned assertion under assertion/both is refused by crewjam
// (scimsso's verifier hands it crewjam's own "signature element not present" after verifying the
// Response, so crewjam goes on to require the assertion's signature: code invalid); an unsigned
// Response under response/both is refused by scimsso's post-check (code signature).
func TestSignedElement(t *testing.T) {
	node := requireIdP(t)
	cases := []struct {
		setting, idpSigns  string
		refusal, reasonHas string // "" refusal: accepted
	}{
		{"assertion", "assertion", "", ""},
		{"assertion", "both", "", ""},
		{"assertion", "response", "invalid", "signature element not present"},
		{"response", "response", "", ""},
		{"response", "both", "", ""},
		{"response", "assertion", "signature", "the Response is not signed"},
		{"both", "both", "", ""},
		{"both", "assertion", "signature", "the Response is not signed"},
		{"both", "response", "invalid", "signature element not present"},
	}
	for _, tc := range cases {
		t.Run("signed-element="+tc.setting+"/idp signs "+tc.idpSigns, func(t *testing.T) {
			t.Parallel()
			s := newSP(t)
			i := startIdP(t, node, s)
			v := idpSigns[tc.idpSigns]
			i.configure(t, s.browser(), v.fields, v.extra)
			s.trust(i, func(set *store.SSOSettings) { set.SignedElement = store.SignedElement(tc.setting) })
			b := s.browser()
			res, got := s.signIn(t, b, i, s.login("/x"), alice)
			if got.signs != tc.idpSigns {
				t.Fatalf("saml-idp signed %s, want %s", got.signs, tc.idpSigns)
			}
			if tc.refusal == "" {
				s.signedIn(t, b, res, "/x", alice)
				return
			}
			s.refused(t, b, res, tc.refusal, tc.reasonHas)
		})
	}
}

// TestSignatureAlgorithm: saml-idp set to RSA-SHA1 with SHA-1 digests (its settings page offers both)
// is refused under signature-algorithm sha256 and accepted under sha1; sha1 still accepts its default
// RSA-SHA256.
func TestSignatureAlgorithm(t *testing.T) {
	node := requireIdP(t)
	sha1 := map[string]string{"signatureAlgorithm": "rsa-sha1", "digestAlgorithm": "sha1"}
	cases := []struct {
		name, setting string
		idp           map[string]string
		alg           string // the SignatureMethod saml-idp then uses
		ok            bool
	}{
		{"IdP RSA-SHA1, setting sha256", "sha256", sha1, rsaSHA1, false},
		{"IdP RSA-SHA1, setting sha1", "sha1", sha1, rsaSHA1, true},
		{"IdP RSA-SHA256, setting sha1", "sha1", nil, rsaSHA256, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSP(t)
			i := startIdP(t, node, s)
			if tc.idp != nil {
				i.configure(t, s.browser(), tc.idp, nil)
			}
			s.trust(i, func(set *store.SSOSettings) { set.SignatureAlgorithm = store.SignatureAlgorithm(tc.setting) })
			b := s.browser()
			res, got := s.signIn(t, b, i, s.login("/x"), alice)
			if want := tc.alg; got.signs != "both" || !allAre(got.algs, want) {
				t.Fatalf("saml-idp signed %s with %v, want both with %s", got.signs, got.algs, want)
			}
			if tc.ok {
				s.signedIn(t, b, res, "/x", alice)
				return
			}
			s.refused(t, b, res, "invalid", "rsa-sha1 is not allowed by signature-algorithm")
		})
	}
}

// --- HTTP and HTML, as a browser does them

func get(t *testing.T, b *http.Client, u string) (*url.URL, string) {
	t.Helper()
	res, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", u, res.StatusCode, err, body)
	}
	return res.Request.URL, string(body)
}

func submit(t *testing.T, b *http.Client, f samltest.Form) *http.Response {
	t.Helper()
	var res *http.Response
	var err error
	if f.Method == http.MethodGet {
		u := *f.Action
		u.RawQuery = f.Values.Encode()
		res, err = b.Get(u.String())
	} else {
		res, err = b.PostForm(f.Action.String(), f.Values)
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func findForm(t *testing.T, page *url.URL, body string, match func(samltest.Form) bool) samltest.Form {
	t.Helper()
	forms, err := samltest.Forms(page, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		if match(f) {
			return f
		}
	}
	t.Fatalf("no matching form at %s:\n%s", page, body)
	return samltest.Form{}
}
