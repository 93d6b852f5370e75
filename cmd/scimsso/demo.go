package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crewjam/saml/logger"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	"go.uber.org/zap"

	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
)

// demoUsers are the built-in IdP's people. carol is not provisioned by anyone: her first sign-in
// creates her just in time.
var demoUsers = []struct{ id, email, given, family, password string }{
	{"alice", "alice@example.com", "Alice", "Anders", "alice-demo-password"},
	{"bob", "bob@example.com", "Bob", "Brown", "bob-demo-password"},
	{"carol", "carol@example.com", "Carol", "Clark", "carol-demo-password"},
}

// demo runs scimsso with a throw-away store, tenant "demo" (example.com), a SCIM token and crewjam's
// samlidp as the tenant's IdP, all on loopback, until interrupted; the store is deleted on exit.
func (m *Main) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "scimsso's listen address")
	baseURL := fs.String("base-url", "", "scimsso's public URL (default http://localhost:PORT of --addr)")
	idpAddr := fs.String("idp-addr", "127.0.0.1:8081", "the demo IdP's listen address")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pos, err := m.parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("demo", pos, 0, "no arguments"); err != nil {
		return err
	}
	log, err := m.buildLogger("console", *logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	spLn, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer spLn.Close()
	idpLn, err := net.Listen("tcp", *idpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *idpAddr, err)
	}
	defer idpLn.Close()
	base := strings.TrimRight(*baseURL, "/")
	if base == "" {
		// localhost and 127.0.0.1 are different sites to a browser: the IdP's POST back is cross-site,
		// as in production, and browsers treat http://localhost as secure for the Secure binding cookie.
		base = fmt.Sprintf("http://localhost:%d", spLn.Addr().(*net.TCPAddr).Port)
	}
	if !validBaseURL(base) {
		return fmt.Errorf("--base-url %q must be an absolute http(s) URL", base)
	}
	idpURL := fmt.Sprintf("http://127.0.0.1:%d", idpLn.Addr().(*net.TCPAddr).Port)

	dir, err := os.MkdirTemp("", "scimsso-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := m.openStore(ctx, dbFlags{db: filepath.Join(dir, "scimsso.db"), sync: "normal"})
	if err != nil {
		return err
	}
	tenant, token, err := m.demoTenant(ctx, st)
	if err != nil {
		return err
	}
	handler, err := m.buildHandler(st, log, base)
	if err != nil {
		return err
	}
	app, err := demoClient(ctx, st, base)
	if err != nil {
		return err
	}
	handler = app.routes(handler)
	idp, err := m.demoIdP(idpURL)
	if err != nil {
		return err
	}
	if err := demoConnect(ctx, st, tenant, handler, idp); err != nil {
		return err
	}
	gcPercent, memLimit := tuneGC(m.Getenv)
	log.Info("demo listening", zap.String("base_url", base), zap.String("idp", idpURL), zap.String("store", dir),
		zap.Int("gogc", gcPercent), zap.Int64("gomemlimit_bytes", memLimit))

	// Every line below is followed by TestDemo: a line added here needs a step there.
	out := m.Stdout
	fmt.Fprintf(out, "scimsso demo is running: tenant demo (example.com) with its own IdP, on a throw-away store\n\n")
	fmt.Fprintf(out, "SCIM base URL:  %s/scim/v2/demo\n", base)
	fmt.Fprintf(out, "SCIM token:     %s\n\n", token)
	fmt.Fprintf(out, "Provision a user:\n  curl -sS --fail-with-body -H 'Authorization: Bearer %s' -H 'Content-Type: application/scim+json' \\\n", token)
	fmt.Fprintf(out, "    -d '{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"alice@example.com\",\"name\":{\"givenName\":\"Alice\",\"familyName\":\"Anders\"},\"emails\":[{\"value\":\"alice@example.com\",\"primary\":true}],\"addresses\":[{\"type\":\"work\",\"country\":\"DE\"}],\"active\":true}' \\\n")
	fmt.Fprintf(out, "    %s/scim/v2/demo/Users\n\n", base)
	fmt.Fprintf(out, "Sign in (SP-initiated):  %s/saml/demo/login\n", base)
	fmt.Fprintf(out, "Sign in (IdP-initiated): %s/login/demo\n", idpURL)
	fmt.Fprintf(out, "Signed-in user:          %s/me\n\n", base)
	fmt.Fprintf(out, "Connect an application (OpenID Connect; client %q, registered as scimsso client add does):\n", app.name)
	fmt.Fprintf(out, "  Discovery:     %s/.well-known/openid-configuration\n", base)
	fmt.Fprintf(out, "  Client ID:     %s\n", app.id)
	fmt.Fprintf(out, "  Client secret: %s\n", app.secret)
	fmt.Fprintf(out, "  Redirect URI:  %s\n", app.redirect)
	fmt.Fprintf(out, "  Authorize:     %s\n", app.authorizeURL(base))
	fmt.Fprintf(out, "  Token:         %s\n\n", app.tokenCurl(base, "CODE"))
	fmt.Fprintf(out, "Demo IdP users:\n")
	for _, u := range demoUsers {
		fmt.Fprintf(out, "  %-8s %-20s password %s\n", u.id, u.email, u.password)
	}
	fmt.Fprintf(out, "\nCtrl-C stops the demo and deletes its store.\n")

	spSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	idpSrv := &http.Server{Handler: publicIdP(idp), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- spSrv.Serve(spLn) }()
	go func() { errc <- idpSrv.Serve(idpLn) }()
	select {
	case err := <-errc:
		return fmt.Errorf("demo: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	spSrv.Shutdown(sctx)
	idpSrv.Shutdown(sctx)
	log.Info("demo stopped")
	return nil
}

// demoTenant creates tenant demo with domain example.com, as tenant create would, and issues a SCIM
// token.
func (m *Main) demoTenant(ctx context.Context, st store.Store) (*store.Tenant, string, error) {
	t := &store.Tenant{Slug: "demo", Name: "Demo Inc.", Domains: []string{"example.com"}}
	err := m.createTenant(ctx, st, t)
	if err != nil {
		return nil, "", err
	}
	tok, _, err := store.IssueToken(ctx, st, t.ID, "demo", time.Time{})
	if err != nil {
		return nil, "", err
	}
	return t, tok, nil
}

// demoLoginForm replaces samlidp's login form, whose POST to /login only answers with JSON: posting
// back to the page it is on (/sso for SP-initiated, /login/demo for IdP-initiated) continues the sign-in.
var demoLoginForm = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Demo IdP sign-in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}label,input{display:block;width:100%;margin:.3rem 0}</style></head>
<body><main><h1>Demo IdP</h1><p>{{.Toast}}</p>
<form method="post">
<label for="user">User (alice, bob or carol)</label><input id="user" type="text" name="user" autocomplete="username" value="">
<label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password" value="">
<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<input type="submit" value="Sign in">
</form></main></body></html>
`))

// demoIdP builds crewjam's samlidp with its own key, signing with RSA-SHA256, and the demo users.
func (m *Main) demoIdP(idpURL string) (*samlidp.Server, error) {
	keyPEM, certPEM, err := samlsp.GenerateKeyPair("scimsso demo IdP", m.Now())
	if err != nil {
		return nil, err
	}
	key, cert, err := samlsp.ParseKeyPair(keyPEM, certPEM)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(idpURL)
	if err != nil {
		return nil, err
	}
	idp, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		Logger: logger.DefaultLogger, LoginFormTemplate: demoLoginForm})
	if err != nil {
		return nil, err
	}
	idp.IDP.SignatureMethod = dsig.RSASHA256SignatureMethod
	for _, du := range demoUsers {
		pw := du.password
		body, _ := json.Marshal(samlidp.User{Name: du.id, PlaintextPassword: &pw, Email: du.email, GivenName: du.given, Surname: du.family,
			CommonName: du.given + " " + du.family})
		if err := callHandler(idp, http.MethodPut, "/users/"+du.id, string(body)); err != nil {
			return nil, fmt.Errorf("demo IdP user %s: %w", du.id, err)
		}
	}
	return idp, nil
}

// demoConnect does what an admin does on both sides: registers scimsso's SP metadata at the IdP
// (with an IdP-initiated shortcut) and stores the IdP's metadata in the tenant's SSO settings.
func demoConnect(ctx context.Context, st store.Store, t *store.Tenant, sp http.Handler, idp *samlidp.Server) error {
	rec := httptest.NewRecorder()
	sp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/saml/demo/metadata", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("demo SP metadata: %d", rec.Code)
	}
	if err := callHandler(idp, http.MethodPut, "/services/demo", rec.Body.String()); err != nil {
		return fmt.Errorf("register SP at the demo IdP: %w", err)
	}
	var ed struct {
		EntityID string `xml:"entityID,attr"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &ed); err != nil {
		return err
	}
	sc, _ := json.Marshal(samlidp.Shortcut{Name: "demo", ServiceProviderID: ed.EntityID})
	if err := callHandler(idp, http.MethodPut, "/shortcuts/demo", string(sc)); err != nil {
		return fmt.Errorf("demo IdP shortcut: %w", err)
	}
	rec = httptest.NewRecorder()
	idp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metadata", nil))
	meta, err := samlsp.ParseIdPMetadata(rec.Body.Bytes())
	if err != nil {
		return fmt.Errorf("demo IdP metadata: %w", err)
	}
	set := store.DefaultSSOSettings()
	set.State, set.IdPEntityID, set.IdPSSOURL, set.IdPCertificatesPEM = store.SSOActive, meta.EntityID, meta.SSOURL, meta.CertificatesPEM
	// samlidp sends LDAP-style attributes; the email comes from the NameID.
	set.AttrFirstName = "urn:oid:2.5.4.42," + set.AttrFirstName
	set.AttrLastName = "urn:oid:2.5.4.4," + set.AttrLastName
	set.AttrEmail = "urn:oid:0.9.2342.19200300.100.1.3," + set.AttrEmail
	return st.PutSSOSettings(ctx, t.ID, set)
}

// publicIdP exposes only the IdP's sign-in endpoints; samlidp's user and service API has no
// authentication and stays in-process.
func publicIdP(idp http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/metadata" || p == "/sso" || p == "/login" || strings.HasPrefix(p, "/login/") {
			if r.Method == http.MethodPost {
				// samlidp reads the login form's user and password from r.PostForm, which its /sso and
				// /login handlers parse first and its IdP-initiated /login/{shortcut} never does: there
				// the right password showed the empty form again. Parse it for every sign-in endpoint.
				r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
				if err := r.ParseForm(); err != nil {
					http.Error(w, "bad form", http.StatusBadRequest)
					return
				}
			}
			idp.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

func callHandler(h http.Handler, method, path, body string) error {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	if rec.Code >= 300 {
		b, _ := io.ReadAll(rec.Body)
		return errors.New(strings.TrimSpace(string(b)))
	}
	return nil
}

// demoApp is the demo's registered OpenID Connect client. Its redirect URI is a page of the demo (not
// of scimsso's router) that shows the code and the command that exchanges it.
type demoApp struct{ name, id, secret, redirect string }

// demoClient registers the demo's client, as client add does.
func demoClient(ctx context.Context, st store.Store, base string) (*demoApp, error) {
	secret, hash, err := openid.NewClientSecret()
	if err != nil {
		return nil, err
	}
	app := &demoApp{name: "Demo app", secret: secret, redirect: base + "/demo/callback"}
	c := &store.OIDCClient{Name: app.name, RedirectURIs: []string{app.redirect}, SecretHash: hash}
	if err := st.CreateOIDCClient(ctx, c); err != nil {
		return nil, fmt.Errorf("demo client: %w", err)
	}
	app.id = c.ID
	return app, nil
}

// authorizeURL is an authorization request of the client: opened in a browser, it signs the person in
// (or finds them signed in) and comes back to the redirect URI with a code.
func (a *demoApp) authorizeURL(base string) string {
	return base + "/oidc/authorize?" + url.Values{"client_id": {a.id}, "redirect_uri": {a.redirect}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"demo"}, "nonce": {"demo-nonce"}}.Encode()
}

// tokenCurl is the command that exchanges code for the tokens, as the application's back end would.
func (a *demoApp) tokenCurl(base, code string) string {
	return fmt.Sprintf("curl -sS --fail-with-body -u '%s:%s' -d grant_type=authorization_code -d code=%s --data-urlencode 'redirect_uri=%s' %s/oidc/token",
		a.id, a.secret, code, a.redirect, base)
}

// routes serves the client's redirect URI beside scimsso's routes: a plain-text page with the code and
// the command that exchanges it (within the code's 60 seconds).
func (a *demoApp) routes(next http.Handler) http.Handler {
	u, _ := url.Parse(a.redirect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != u.Path {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		q := r.URL.Query()
		if e := q.Get("error"); e != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "The sign-in came back with error=%s: %s\n", e, q.Get("error_description"))
			return
		}
		code := q.Get("code")
		if code == "" || len(code) > 64 {
			http.Error(w, "no code", http.StatusBadRequest)
			return
		}
		base := strings.TrimSuffix(a.redirect, u.Path)
		fmt.Fprintf(w, "The application got code=%s (state=%s).\n\nExchange it for an ID token and an access token within 60 seconds:\n\n  %s\n",
			code, q.Get("state"), a.tokenCurl(base, url.QueryEscape(code)))
	})
}
