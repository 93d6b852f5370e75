package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scimsso/scimsso/people"
	"github.com/scimsso/scimsso/samlsp/samltest"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/store/sqlstore"
)

// Forward authentication behind Debian's nginx, configured as the README shows: auth_request to
// /auth/verify, the identity headers passed on to the application, error_page to sign-in. A
// cookie-jar client plays the browser through a real SAML sign-in at a test IdP. Everything is on
// http://localhost (scimsso, nginx and the application on ports of their own: cookies are per host
// name, not per port), which browsers, and this jar, treat as a secure context.

const nginxPath = "/usr/sbin/nginx"

// nginxBinary returns Debian's nginx, or skips the test; under SCIMSSO_REQUIRE_NGINX=1 (.ci/run, which
// installs it) a missing nginx fails instead.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(nginxPath); err != nil {
		if os.Getenv("SCIMSSO_REQUIRE_NGINX") == "1" {
			t.Fatalf("SCIMSSO_REQUIRE_NGINX=1 but %s is missing: %v", nginxPath, err)
		}
		t.Skipf("nginx tests skipped: %s is missing (apt-get install -y nginx, or run .ci/run, which does)", nginxPath)
	}
	return nginxPath
}

// nginxConf is the README's nginx configuration, with the addresses of the test and the paths of a
// private nginx (no master process, every file under dir).
const nginxConf = `
master_process off;
error_log {{dir}}/error.log info;
pid {{dir}}/nginx.pid;
events { worker_connections 64; }
http {
    access_log {{dir}}/access.log;
    client_body_temp_path {{dir}}/client_body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;

    server {
        listen 127.0.0.1:{{port}};

        location = /_scimsso/verify {
            internal;
            proxy_pass {{scimsso}}/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
        }

        location / {
            auth_request /_scimsso/verify;
            auth_request_set $scimsso_user_id $upstream_http_x_scimsso_user_id;
            auth_request_set $scimsso_email $upstream_http_x_scimsso_email;
            auth_request_set $scimsso_tenant $upstream_http_x_scimsso_tenant;
            auth_request_set $scimsso_name $upstream_http_x_scimsso_name;
            auth_request_set $scimsso_signin $upstream_http_location;
            error_page 401 403 = @scimsso_signin;
            # Set, so a client's own X-Scimsso-* headers never reach the application.
            proxy_set_header X-Scimsso-User-Id $scimsso_user_id;
            proxy_set_header X-Scimsso-Email $scimsso_email;
            proxy_set_header X-Scimsso-Tenant $scimsso_tenant;
            proxy_set_header X-Scimsso-Name $scimsso_name;
            proxy_pass {{app}};
        }

        location @scimsso_signin {
            if ($scimsso_signin = "") {
                return 401;
            }
            return 302 $scimsso_signin;
        }
    }
}
`

// startNginx runs nginx with conf (its {{dir}} and {{port}} filled in) on a free loopback port and
// returns the port once nginx accepts connections. nginx binds the port itself, so a port taken
// between the probe and nginx's bind is retried with another.
func startNginx(t *testing.T, conf string) string {
	t.Helper()
	bin := nginxBinary(t)
	for attempt := 0; attempt < 5; attempt++ {
		dir := t.TempDir()
		port := freePort(t)
		c := strings.NewReplacer("{{dir}}", dir, "{{port}}", port).Replace(conf)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
		setProcAttr(cmd)
		out, err := os.Create(filepath.Join(dir, "stderr.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); out.Close(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
		})
		deadline := time.After(10 * time.Second)
		for ready := false; !ready; {
			if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
				c.Close()
				ready = true
				break
			}
			select {
			case <-done:
				logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				if strings.Contains(string(logs), "Address already in use") {
					ready = true // try another port
					port = ""
					break
				}
				t.Fatalf("nginx exited:\n%s", logs)
			case <-deadline:
				t.Fatal("nginx did not listen within 10s")
			case <-time.After(20 * time.Millisecond):
			}
		}
		if port != "" {
			return port
		}
	}
	t.Fatal("no free port for nginx after 5 attempts")
	return ""
}

// localClient is a browser at http://localhost: cookies as a browser keeps them there, every
// localhost connection to 127.0.0.1, redirects not followed.
func localClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}}
	return &http.Client{Jar: localhostJar{jar}, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestNginxForwardAuth: an anonymous visit to an application behind nginx is sent to scimsso's
// sign-in, signs in at the IdP, comes back to the URL it asked for, and the application sees who it
// is; a forged identity header never gets through, and a signed-out browser is sent to sign in again.
func TestNginxForwardAuth(t *testing.T) {
	nginxBinary(t)
	ctx := context.Background()

	// The application: it echoes the identity nginx passes on.
	var appHits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appHits.Add(1)
		fmt.Fprintf(w, "%s %s email=%s id=%s tenant=%s name=%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Scimsso-Email"),
			r.Header.Get("X-Scimsso-User-Id"), r.Header.Get("X-Scimsso-Tenant"), r.Header.Get("X-Scimsso-Name"))
	}))
	t.Cleanup(app.Close)

	// scimsso, with tenant acme at a test IdP, and localhost as its forward-auth host.
	db := filepath.Join(t.TempDir(), "scimsso.db")
	mustRun(t, db, "tenant", "create", "acme", "--name", "Acme", "--domain", "acme.com")
	idp, err := samltest.New("https://idp.test/acme", "https://idp.test/acme/sso", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(meta, idp.Metadata(), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, db, "sso", "set", "--tenant", "acme", "--metadata-file", meta, "--state", "active")
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Now: time.Now}
	if m.forwardHosts, err = people.ParseForwardAuthHosts("localhost", base); err != nil {
		t.Fatal(err)
	}
	h, err := m.buildHandler(st, zaptest.NewLogger(t), base)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)

	port := startNginx(t, strings.NewReplacer("{{scimsso}}", "http://"+ln.Addr().String(), "{{app}}", app.URL).Replace(nginxConf))
	front := "http://localhost:" + port
	want := front + "/hello/w%C3%B6rld?x=1&y=%2F"
	signin := base + "/login?return_to=" + url.QueryEscape("/auth/continue?to="+url.QueryEscape(want))

	b := localClient()
	send := func(method, u string, form url.Values, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		req.Host = cmp.Or(hdr["Host"], req.Host)
		res, err := b.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		text, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(text)
	}
	forged := map[string]string{"X-Scimsso-Email": "ceo@acme.com", "X-Scimsso-User-Id": "forged"}

	// Anonymous: nginx sends the browser to sign in, and the application is never asked.
	res, body := send(http.MethodGet, want, nil, forged)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != signin {
		t.Fatalf("anonymous: %d to %q, want 302 to %q\n%s", res.StatusCode, res.Header.Get("Location"), signin, body)
	}
	// Asked under a host name that is not a forward-auth host: a plain 401, never a redirect there.
	res, body = send(http.MethodGet, want, nil, map[string]string{"Host": "evil.example:" + port})
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Location") != "" {
		t.Fatalf("anonymous at evil.example: %d to %q, want a plain 401\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if n := appHits.Load(); n != 0 {
		t.Fatalf("the application was asked %d times without a session", n)
	}

	// Sign-in: email-first page, the IdP, the ACS, then back to the application.
	res, body = send(http.MethodGet, signin, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", signin, res.StatusCode, body)
	}
	page, _ := url.Parse(signin)
	f := formOf(t, page, []byte(body))
	f.Values.Set("email", "alice@acme.com")
	res, body = send(f.Method, f.Action.String(), f.Values, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, idp.SSOURL+"?") {
		t.Fatalf("POST /login: %d to %q\n%s", res.StatusCode, loc, body)
	}
	id, _, err := samltest.RequestOf(loc)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := idp.Make(samltest.Response{ACS: base + "/saml/acme/acs", Audience: base + "/saml/acme/metadata", InResponseTo: id, NameID: "alice@acme.com",
		Attrs: []samltest.Attr{{Name: samltest.ClaimEmail, Values: []string{"alice@acme.com"}}, {Name: samltest.ClaimCountry, Values: []string{"DE"}},
			{Name: "FirstName", Values: []string{"Ada"}}, {Name: "LastName", Values: []string{"Lovelace"}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, body = send(http.MethodPost, base+"/saml/acme/acs", url.Values{"SAMLResponse": {samltest.Encode(doc)}}, nil)
	for hops := 0; res.StatusCode == http.StatusSeeOther && hops < 5; hops++ {
		next, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if next.String() == want {
			break
		}
		res, body = send(http.MethodGet, next.String(), nil, nil)
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("after the ACS: %d to %q, want back to %q\n%s", res.StatusCode, res.Header.Get("Location"), want, body)
	}

	// Back at the application: it sees the person, and only what scimsso said.
	u, err := st.TenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	users, _, err := st.ListUsers(ctx, u.ID, store.UserQuery{Limit: 10})
	if err != nil || len(users) != 1 || users[0].UserName != "alice@acme.com" {
		t.Fatalf("users %v: %v", users, err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res, body = send(method, want, url.Values{"note": {"x"}}, forged)
		wantBody := method + " /hello/w%C3%B6rld?x=1&y=%2F email=alice@acme.com id=" + users[0].ID + " tenant=acme name=Ada%20Lovelace"
		if res.StatusCode != http.StatusOK || body != wantBody {
			t.Fatalf("%s signed in: %d %q, want %q", method, res.StatusCode, body, wantBody)
		}
	}

	// Signed out: nginx sends the browser to sign in again.
	res, body = send(http.MethodPost, base+"/logout", nil, map[string]string{"Accept": "application/json"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
	hits := appHits.Load()
	if res, _ = send(http.MethodGet, want, nil, nil); res.StatusCode != http.StatusFound || res.Header.Get("Location") != signin || appHits.Load() != hits {
		t.Fatalf("signed out: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestServeForwardAuthHosts: serve takes --forward-auth-hosts and names them on its start-up line.
func TestServeForwardAuthHosts(t *testing.T) {
	s := startServer(t, newDB(t), "--base-url", "http://localhost:8080", "--forward-auth-hosts", "localhost, localhost:3000")
	got := fmt.Sprint(listening(t, s)["forward_auth_hosts"])
	if got != "[localhost localhost:3000]" {
		t.Fatalf("forward_auth_hosts on the listening line: %s", got)
	}
}
