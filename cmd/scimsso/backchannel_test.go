package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap/zaptest"
	"golang.org/x/oauth2"

	"github.com/scimsso/scimsso/store"
)

// OpenID Connect Back-Channel Logout 1.0: clients registered with a back-channel logout URI, and the
// logout tokens they are sent when a session of theirs ends.

// TestClientAddBackchannelURI: client add takes a back-channel logout URI under the webhooks' rule
// (https; http and loopback only with --allow-http-loopback-webhooks, or its SCIMSSO_ variable), shows
// it in client list, and refuses anything else with one line and nothing stored.
func TestClientAddBackchannelURI(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	createTenant(t, db, "acme", "acme.com")
	add := []string{"client", "add", "Wiki", "--redirect-uri", "https://wiki.acme.com/cb", "--db", db}
	for _, tc := range []struct {
		uri  string
		env  []string
		flag bool   // --allow-http-loopback-webhooks on the command line
		want string // "" registered, else a word of the refusal
	}{
		{"https://wiki.acme.com/oidc/backchannel", nil, false, ""},
		{"http://127.0.0.1:9000/bc", nil, true, ""},
		{"http://localhost:9000/bc", []string{"SCIMSSO_ALLOW_HTTP_LOOPBACK_WEBHOOKS=true"}, false, ""},
		{"http://wiki.acme.com/bc", nil, false, "https"},
		{"http://wiki.acme.com/bc", nil, true, "https"},
		{"http://127.0.0.1:9000/bc", nil, false, "loopback"},
		{"https://localhost/bc", nil, false, "loopback"},
		{"https://10.1.2.3/bc", nil, true, "private"},
		{"https://169.254.169.254/latest", nil, false, "link-local"},
		{"https://wiki.acme.com/bc#x", nil, false, "fragment"},
		{"https://u:p@wiki.acme.com/bc", nil, false, "user or password"},
		{"wiki.acme.com/bc", nil, false, "absolute"},
	} {
		args := append(append([]string(nil), add...), "--backchannel-logout-uri", tc.uri)
		if tc.flag {
			args = append(args, "--allow-http-loopback-webhooks")
		}
		before := clientList(t, db)
		stdout, stderr, code := run(t, tc.env, args...)
		if tc.want == "" {
			if code != 0 || !strings.HasPrefix(stdout, "client_id=") {
				t.Errorf("%s: exit %d, %q, %q; want it registered", tc.uri, code, stdout, stderr)
				continue
			}
			id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(stdout, "client_id="), "\n", 2)[0])
			if line := lineOf(clientList(t, db), id); !strings.HasSuffix(line, " "+tc.uri) {
				t.Errorf("client list shows %q for the client registered with %s", line, tc.uri)
			}
			continue
		}
		if line := checkFailure(t, args, stdout, stderr, code); !strings.Contains(line, "--backchannel-logout-uri") || !strings.Contains(line, tc.want) {
			t.Errorf("%s: %q, want a refusal of --backchannel-logout-uri saying %q", tc.uri, line, tc.want)
		}
		if after := clientList(t, db); after != before {
			t.Errorf("%s: refused, yet the clients changed:\n%s", tc.uri, after)
		}
	}
	// Without the flag a client has none: list shows "-".
	stdout, _ := mustRun(t, db, "client", "add", "Plain", "--redirect-uri", "https://plain.acme.com/cb")
	id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(stdout, "client_id="), "\n", 2)[0])
	if line := lineOf(clientList(t, db), id); !strings.HasSuffix(line, " -") {
		t.Errorf("client list shows %q for a client without a back-channel logout URI", line)
	}
}

func clientList(t *testing.T, db string) string {
	t.Helper()
	out, _ := mustRun(t, db, "client", "list")
	return out
}

// lineOf returns the line of out that starts with id.
func lineOf(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, id+" ") {
			return strings.TrimRight(l, " ")
		}
	}
	return ""
}

// logoutRP is the back-channel logout endpoint of a relying party (an http server on 127.0.0.1, so
// delivery needs --allow-http-loopback-webhooks), registered as a client of the provider with it. It
// checks each request as OpenID Connect Back-Channel Logout 1.0 §2.6 has an RP do: a form POST whose
// logout_token is typed logout+jwt, signed with the client's algorithm by a key of the provider's
// JWKS, for this issuer and this client, not expired, with iat, a jti not seen before, the events
// claim holding the back-channel logout member (an object), sub and sid, and no nonce. It answers
// 200 to a good token and 400 to a bad one (§2.8), and reports each to the test.
type logoutRP struct {
	e   *oidcEnv
	alg string
	srv *httptest.Server
	got chan logoutSeen

	mu   sync.Mutex
	conf oauth2.Config // its client: set once registered
	jtis map[string]bool
}

// logoutSeen is what the RP made of one request.
type logoutSeen struct {
	sub, sid string
	err      error
}

// newLogoutRP starts an RP and registers its client, named name, signing with alg.
func (e *oidcEnv) newLogoutRP(name, alg string) *logoutRP {
	e.t.Helper()
	rp := &logoutRP{e: e, alg: alg, got: make(chan logoutSeen, 32), jtis: map[string]bool{}}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	e.t.Cleanup(rp.srv.Close)
	reg := kv(e.cli("client", "add", name, "--redirect-uri", appCallback, "--id-token-alg", alg,
		"--backchannel-logout-uri", rp.srv.URL+"/oidc/backchannel", "--allow-http-loopback-webhooks"))
	if reg["client_id"] == "" {
		e.t.Fatalf("client add printed %v", reg)
	}
	rp.mu.Lock()
	rp.conf = oauth2.Config{ClientID: reg["client_id"], ClientSecret: reg["client_secret"], Endpoint: e.op.Endpoint(),
		RedirectURL: appCallback, Scopes: []string{gooidc.ScopeOpenID}}
	rp.mu.Unlock()
	return rp
}

func (rp *logoutRP) client() oauth2.Config {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.conf
}

func (rp *logoutRP) serve(w http.ResponseWriter, r *http.Request) {
	seen := rp.check(r)
	w.Header().Set("Cache-Control", "no-store")
	if seen.err != nil {
		w.WriteHeader(http.StatusBadRequest)
	}
	select {
	case rp.got <- seen:
	default: // the test has failed already, on what filled the channel
	}
}

func (rp *logoutRP) check(r *http.Request) logoutSeen {
	conf := rp.client()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method != http.MethodPost || err != nil || mt != "application/x-www-form-urlencoded" {
		return logoutSeen{err: fmt.Errorf("%s with Content-Type %q, want a form POST", r.Method, r.Header.Get("Content-Type"))}
	}
	if err := r.ParseForm(); err != nil || len(r.PostForm) != 1 || len(r.PostForm["logout_token"]) != 1 {
		return logoutSeen{err: fmt.Errorf("form %v (%v), want logout_token alone", r.PostForm, err)}
	}
	raw := r.PostForm.Get("logout_token")
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return logoutSeen{err: fmt.Errorf("logout_token is not a JWS: %v", err)}
	}
	if h := jws.Signatures[0].Header; h.ExtraHeaders[jose.HeaderType] != "logout+jwt" || h.Algorithm != rp.alg {
		return logoutSeen{err: fmt.Errorf("header typ %v alg %s, want logout+jwt and %s", h.ExtraHeaders[jose.HeaderType], h.Algorithm, rp.alg)}
	}
	// Signature (against the provider's JWKS), iss, aud and exp, as for an ID token.
	v := rp.e.op.Verifier(&gooidc.Config{ClientID: conf.ClientID, SupportedSigningAlgs: []string{rp.alg}, Now: rp.e.clock.Now})
	tok, err := v.Verify(rp.e.ctx, raw)
	if err != nil {
		return logoutSeen{err: fmt.Errorf("logout token does not verify: %v", err)}
	}
	var c map[string]json.RawMessage
	if err := tok.Claims(&c); err != nil {
		return logoutSeen{err: err}
	}
	var sid, jti string
	var iat int64
	var events map[string]json.RawMessage
	json.Unmarshal(c["sid"], &sid)
	json.Unmarshal(c["jti"], &jti)
	json.Unmarshal(c["iat"], &iat)
	json.Unmarshal(c["events"], &events)
	member := strings.TrimSpace(string(events["http://schemas.openid.net/event/backchannel-logout"]))
	now := rp.e.clock.Now()
	switch _, nonce := c["nonce"]; {
	case nonce:
		return logoutSeen{err: errors.New("a logout token with a nonce")}
	case iat == 0 || time.Unix(iat, 0).After(now.Add(time.Minute)) || time.Unix(iat, 0).Before(now.Add(-time.Hour)):
		return logoutSeen{err: fmt.Errorf("iat %d, now %d", iat, now.Unix())}
	case !strings.HasPrefix(member, "{") || !strings.HasSuffix(member, "}"):
		return logoutSeen{err: fmt.Errorf("events %s: want the back-channel logout member, an object", c["events"])}
	case tok.Subject == "" || sid == "" || jti == "":
		return logoutSeen{err: fmt.Errorf("sub %q, sid %q, jti %q: want all three", tok.Subject, sid, jti)}
	}
	rp.mu.Lock()
	replay := rp.jtis[jti]
	rp.jtis[jti] = true
	rp.mu.Unlock()
	if replay {
		return logoutSeen{err: fmt.Errorf("jti %s seen before", jti)}
	}
	return logoutSeen{sub: tok.Subject, sid: sid}
}

// want waits for the RP's next logout token and requires it to end s: the next, not any later one,
// since a destination is sent its events in order.
func (rp *logoutRP) want(t *testing.T, what string, s signedIn) {
	t.Helper()
	select {
	case got := <-rp.got:
		if got.err != nil {
			t.Fatalf("%s: the relying party refused the logout token: %v", what, got.err)
		}
		if got.sub != s.sub || got.sid != s.sid {
			t.Errorf("%s: logout token for sub %s sid %s, want sub %s sid %s", what, got.sub, got.sid, s.sub, s.sid)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no logout token within 30 s", what)
	}
}

// signedIn is a client's sign-in: the ID token's sub and sid, and the token itself.
type signedIn struct{ sub, sid, idToken string }

// signInWith signs email in for conf in a fresh browser (a new scimsso session), redeems the code and
// verifies the ID token with alg.
func (e *oidcEnv) signInWith(conf oauth2.Config, alg, email string) (*browser, signedIn) {
	e.t.Helper()
	b, code := e.login(&conf, email, "st", random(e.t))
	return b, e.redeem(conf, alg, code)
}

// alsoSignIn signs the person of b's session in for conf too: no sign-in page, the same session.
func (e *oidcEnv) alsoSignIn(b *browser, conf oauth2.Config, alg string) signedIn {
	e.t.Helper()
	res, _ := b.visit(http.MethodGet, conf.AuthCodeURL("st2", gooidc.Nonce(random(e.t))), nil)
	q := e.callback(res)
	if q.Get("code") == "" {
		e.t.Fatalf("authorize with a session: %v", q)
	}
	return e.redeem(conf, alg, q.Get("code"))
}

func (e *oidcEnv) redeem(conf oauth2.Config, alg, code string) signedIn {
	e.t.Helper()
	tok, err := conf.Exchange(e.ctx, code)
	if err != nil {
		e.t.Fatal(err)
	}
	_, c := e.verify(e.op.Verifier(&gooidc.Config{ClientID: conf.ClientID, SupportedSigningAlgs: []string{alg}, Now: e.clock.Now}), tok)
	raw, _ := tok.Extra("id_token").(string)
	return signedIn{sub: c.Sub, sid: c.SID, idToken: raw}
}

// setActive sets the user's active attribute with a SCIM PATCH, as an IdP does.
func (e *oidcEnv) setActive(id string, active bool) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, e.base+"/scim/v2/acme/Users/"+id,
		strings.NewReader(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%v}}]}`, active)))
	req.Header.Set("Authorization", "Bearer "+e.scim)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("SCIM PATCH active=%v: %d", active, res.StatusCode)
	}
}

// startDelivery starts event delivery as serve does (startWebhooks, with the provider's logout
// tokens), loopback receivers allowed; it stops before the store closes.
func (e *oidcEnv) startDelivery() {
	e.t.Helper()
	if err := e.main.startWebhooks(context.Background(), e.st, zaptest.NewLogger(e.t), true, true); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.main.Close() })
}

// TestBackchannelLogout: relying parties registered with a back-channel logout URI are sent a logout
// token, which they verify as the spec says, for every session they signed in with, however it ended:
// RP-initiated logout, the people's /logout, a SCIM deactivation, the session's timeout (the sweep).
// A client without a URI has nowhere to be sent anything; a client that did not sign in with a
// session is sent nothing for it (its first token is for the one session it signed in with, and a
// destination gets its tokens in order).
func TestBackchannelLogout(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnvOn(t, backend, nil)
			a := e.newLogoutRP("Payroll", store.AlgRS256)
			b := e.newLogoutRP("Expenses", store.AlgES256)
			late := e.newLogoutRP("Late", store.AlgRS256)
			e.startDelivery()
			const ada = "ada@acme.com"

			// RP-initiated logout ends the session a, b and the client without a URI signed in with.
			br, s1 := e.signInWith(a.client(), store.AlgRS256, ada)
			if s := e.alsoSignIn(br, b.client(), store.AlgES256); s != (signedIn{s1.sub, s1.sid, s.idToken}) {
				t.Fatalf("b signed in as %+v, a as %+v: want the same session", s, s1)
			}
			e.alsoSignIn(br, e.conf, store.AlgRS256)
			res, _ := br.visit(http.MethodGet, e.base+"/oidc/logout?"+url.Values{"id_token_hint": {s1.idToken}}.Encode(), nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("RP-initiated logout: %d", res.StatusCode)
			}
			a.want(t, "RP-initiated logout, a", s1)
			b.want(t, "RP-initiated logout, b", s1)

			// The people's POST /logout.
			br, s2 := e.signInWith(a.client(), store.AlgRS256, ada)
			req, _ := http.NewRequest(http.MethodPost, e.base+"/logout", nil)
			req.Header.Set("Accept", "application/json")
			if res, err := br.c.Do(req); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("POST /logout: %v %v", res, err)
			}
			a.want(t, "POST /logout", s2)

			// A SCIM deactivation ends every session of the person: each client is told of its own.
			_, s3 := e.signInWith(a.client(), store.AlgRS256, ada)
			_, s4 := e.signInWith(b.client(), store.AlgES256, ada)
			e.setActive(s3.sub, false)
			a.want(t, "SCIM deactivation, a", s3)
			b.want(t, "SCIM deactivation, b", s4)
			e.setActive(s3.sub, true)

			// The session's timeout, ended by the sweep, long after the clients' access tokens expired
			// (and were swept).
			br, s5 := e.signInWith(a.client(), store.AlgRS256, ada)
			e.alsoSignIn(br, late.client(), store.AlgRS256)
			e.clock.Add(time.Hour)
			if _, err := e.st.Sweep(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(15 * 24 * time.Hour) // past the default hard timeout, 14 days
			if _, err := e.st.Sweep(e.ctx); err != nil {
				t.Fatal(err)
			}
			a.want(t, "timeout, a", s5)
			late.want(t, "timeout, a client that signed in with that session only", s5)

			// The client without a URI has no destination; each RP got what it was sent once.
			ws, err := e.st.ListWebhooks(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				if w.Ref == e.conf.ClientID {
					t.Errorf("the client without a back-channel logout URI has a destination: %+v", w)
				}
			}
			for name, rp := range map[string]*logoutRP{"a": a, "b": b, "late": late} {
				if n := len(rp.got); n != 0 {
					t.Errorf("%s got %d more requests: %+v", name, n, <-rp.got)
				}
			}
		})
	}
}

// TestBackchannelDeliveriesCLI: `webhook deliveries CLIENT_ID` lists a client's back-channel logouts;
// `webhook remove` refuses its destination (it goes with the client); `client remove` takes it away.
func TestBackchannelDeliveriesCLI(t *testing.T) {
	e := newOIDCEnv(t)
	a := e.newLogoutRP("Payroll", store.AlgRS256)
	e.startDelivery()
	_, s := e.signInWith(a.client(), store.AlgRS256, "ada@acme.com")
	e.setActive(s.sub, false)
	a.want(t, "SCIM deactivation", s)
	id := a.client().ClientID
	var out string
	waitFor(t, "the delivery's record", 30*time.Second, func() bool {
		out = e.cli("webhook", "deliveries", id)
		return strings.Contains(out, "delivered")
	})
	if !strings.Contains(out, store.EventSessionEnded) || !strings.Contains(out, "200") {
		t.Errorf("webhook deliveries %s:\n%s", id, out)
	}
	ws, err := e.st.ListWebhooks(e.ctx)
	if err != nil || len(ws) != 1 {
		t.Fatalf("destinations %+v, %v; want the client's", ws, err)
	}
	if err := e.cliErr("webhook", "remove", ws[0].ID); err == nil || !strings.Contains(err.Error(), "remove the client") {
		t.Errorf("webhook remove of a back-channel logout destination: %v, want a refusal", err)
	}
	e.cli("client", "remove", id)
	if ws, err := e.st.ListWebhooks(e.ctx); err != nil || len(ws) != 0 {
		t.Errorf("destinations after client remove: %+v, %v", ws, err)
	}
	if err := e.cliErr("webhook", "deliveries", id); err == nil || !strings.Contains(err.Error(), "unknown webhook") {
		t.Errorf("webhook deliveries of a removed client: %v", err)
	}
}

// cliErr runs a scimsso command in-process against the environment's database and returns its error.
func (e *oidcEnv) cliErr(args ...string) error {
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Now: e.clock.Now}
	err := m.Run(context.Background(), append(args, "--db", e.db))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}
