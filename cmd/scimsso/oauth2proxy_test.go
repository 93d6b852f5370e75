package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/store"
)

// oauth2-proxy (a relying party nobody on this project wrote) in front of an application, with scimsso
// as its OpenID provider, driven by Chromium through a SAML sign-in at the demo IdP.

// oauth2ProxyVersion is the release interop/oauth2-proxy.sh builds.
const oauth2ProxyVersion = "v7.15.6"

// oauth2Proxy returns the oauth2-proxy that interop/oauth2-proxy.sh built, or skips the test; under
// SCIMSSO_REQUIRE_OAUTH2PROXY=1 (.ci/run, which builds it) a missing one fails instead.
func oauth2Proxy(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "bin", "oauth2-proxy-"+oauth2ProxyVersion))
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		if os.Getenv("SCIMSSO_REQUIRE_OAUTH2PROXY") == "1" {
			t.Fatalf("SCIMSSO_REQUIRE_OAUTH2PROXY=1 but oauth2-proxy is not built: %v", err)
		}
		t.Skipf("oauth2-proxy test skipped: bin/oauth2-proxy-%s is missing (run bash interop/oauth2-proxy.sh)", oauth2ProxyVersion)
	}
	return path
}

// startOAuth2Proxy runs oauth2-proxy with args(port) on a free loopback port and returns the port once
// it accepts connections. A port taken between the probe and oauth2-proxy's bind is retried with
// another.
func startOAuth2Proxy(t *testing.T, bin string, args func(port string) []string) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		a := args(port)
		logPath := filepath.Join(t.TempDir(), "oauth2-proxy.log")
		out, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, a...)
		cmd.Env = []string{} // nothing from the test's environment (OAUTH2_PROXY_* would configure it)
		setProcAttr(cmd)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); out.Close(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
			if t.Failed() {
				logs, _ := os.ReadFile(logPath)
				t.Logf("oauth2-proxy's log:\n%s", logs)
			}
		})
		deadline := time.After(20 * time.Second)
		for {
			if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
				c.Close()
				return port
			}
			select {
			case <-done:
				logs, _ := os.ReadFile(logPath)
				if strings.Contains(string(logs), "address already in use") {
					break
				}
				t.Fatalf("oauth2-proxy exited:\n%s", logs)
			case <-deadline:
				t.Fatal("oauth2-proxy did not listen within 20s")
			case <-time.After(50 * time.Millisecond):
				continue
			}
			break
		}
	}
	t.Fatal("no free port for oauth2-proxy after 5 attempts")
	return ""
}

// TestBrowserOAuth2Proxy: an unauthenticated visit to an application behind oauth2-proxy goes to
// scimsso's authorization endpoint (found by discovery), signs in with email-first /login and the
// IdP, comes back with a code that oauth2-proxy redeems (PKCE S256, ID token checked against the
// JWKS), and ends at the application with the person's email.
func TestBrowserOAuth2Proxy(t *testing.T) {
	bin := oauth2Proxy(t)
	e := newBrowserEnvAt(t, "localhost")
	alice := e.provision("alice@example.com", "Alice", "Anders", "DE", "")

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "app %s email=%s user=%s", r.URL.Path, r.Header.Get("X-Forwarded-Email"), r.Header.Get("X-Forwarded-User"))
	}))
	t.Cleanup(app.Close)

	// The port is known only once oauth2-proxy listens, and the redirect URI must name it: the client
	// is registered for each port tried, as `scimsso client add` does it.
	secret, hash, err := openid.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	cookieSecret := make([]byte, 32)
	rand.Read(cookieSecret)
	port := startOAuth2Proxy(t, bin, func(port string) []string {
		callback := "http://localhost:" + port + "/oauth2/callback"
		c := &store.OIDCClient{Name: "oauth2-proxy", RedirectURIs: []string{callback}, SecretHash: hash}
		if err := e.st.CreateOIDCClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return []string{
			"--http-address=127.0.0.1:" + port,
			"--provider=oidc",
			"--oidc-issuer-url=" + e.base,
			"--ssl-insecure-skip-verify=true", // scimsso's test certificate names 127.0.0.1, not localhost
			"--client-id=" + c.ID,
			"--client-secret=" + secret,
			"--redirect-url=" + callback,
			"--code-challenge-method=S256",
			"--scope=openid email profile",
			"--email-domain=*",
			"--cookie-secret=" + base64.RawURLEncoding.EncodeToString(cookieSecret),
			"--cookie-secure=false",
			"--skip-provider-button=true",
			"--upstream=" + app.URL + "/",
		}
	})
	front := "http://localhost:" + port

	e.navigate(front + "/hello")
	e.at(e.base, "/login")
	e.run(chromedp.SendKeys(`#email`, "alice@example.com"))
	e.submit(`#email`)
	e.idpSignIn("alice")
	e.at(front, "/hello")
	var body string
	e.run(chromedp.Text(`body`, &body))
	if want := "app /hello email=alice@example.com user=" + alice.ID; !strings.Contains(body, want) {
		t.Fatalf("the application shows %q, want %q", body, want)
	}
}
